#include "pollen/runtime/log.h"

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <mutex>

namespace pollen {

namespace {

LogLevel initial_level() {
  const char* env = std::getenv("POLLEN_LOG_LEVEL");
  if (env == nullptr) return LogLevel::kInfo;
  Result<LogLevel> level = parse_log_level(env);
  return level.ok() ? *level : LogLevel::kInfo;
}

std::atomic<LogLevel>& level_ref() {
  static std::atomic<LogLevel> level{initial_level()};
  return level;
}

std::mutex& output_mutex() {
  static std::mutex mutex;
  return mutex;
}

// Flower pads the level name to a fixed width before the message.
const char* prefix(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG :     ";
    case LogLevel::kInfo:
      return "INFO :      ";
    case LogLevel::kWarning:
      return "WARNING :   ";
    case LogLevel::kError:
      return "ERROR :     ";
  }
  return "";
}

}  // namespace

Result<LogLevel> parse_log_level(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "DEBUG") return LogLevel::kDebug;
  if (upper == "INFO") return LogLevel::kInfo;
  if (upper == "WARNING" || upper == "WARN") return LogLevel::kWarning;
  if (upper == "ERROR") return LogLevel::kError;
  return invalid_argument("unknown log level '" + std::string(name) +
                          "' (use DEBUG, INFO, WARNING or ERROR)");
}

void set_log_level(LogLevel level) { level_ref() = level; }
LogLevel log_level() { return level_ref(); }

void log_message(LogLevel level, std::string_view text) {
  std::lock_guard<std::mutex> lock(output_mutex());
  std::cerr << prefix(level) << text << '\n';
}

}  // namespace pollen
