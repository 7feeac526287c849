#include "pollen/runtime/log.h"

#include <algorithm>
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

std::string log_safe(std::string_view text, size_t max_chars) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_chars) + 16);
  size_t i = 0;
  for (; i < text.size() && out.size() < max_chars; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      // U+0080..U+009F: C1 controls (0x9b starts a terminal escape too).
      const unsigned char d = static_cast<unsigned char>(text[++i]);
      out += "\\u00";
      out += kHex[d >> 4];
      out += kHex[d & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (i < text.size()) {
    out += "... [" + std::to_string(text.size() - i) + " more bytes]";
  }
  return out;
}

void log_message(LogLevel level, std::string_view text) {
  const std::string safe = log_safe(text);
  std::lock_guard<std::mutex> lock(output_mutex());
  std::cerr << prefix(level) << safe << '\n';
}

}  // namespace pollen
