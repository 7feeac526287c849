// Leveled logging to stderr in Flower's style ("INFO :      Received: train
// message ..."), so a Pollen node's log reads like a Python SuperNode's.
// Thread-safe. The level comes from set_log_level() or POLLEN_LOG_LEVEL.
#ifndef POLLEN_RUNTIME_LOG_H_
#define POLLEN_RUNTIME_LOG_H_

#include <sstream>
#include <string>
#include <string_view>

#include "pollen/core/status.h"

namespace pollen {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Parses "DEBUG", "INFO", "WARNING", "ERROR" (any case).
Result<LogLevel> parse_log_level(std::string_view name);
void set_log_level(LogLevel level);
LogLevel log_level();
// Writes one line. Text from the server (array keys, message types, error
// reasons) reaches log lines, so every line goes through log_safe() first.
void log_message(LogLevel level, std::string_view text);

// `text` made safe for one log line on a terminal: newlines, tabs and other
// control characters (C0, DEL, C1) escaped (\n, \t, \x1b, \u009b), and cut
// after `max_chars` bytes with "... [N more bytes]", so a server cannot
// forge log lines, color a terminal or flood the log.
std::string log_safe(std::string_view text, size_t max_chars = 4096);

namespace log_detail {
class Line {
 public:
  explicit Line(LogLevel level) : level_(level) {}
  ~Line() { log_message(level_, stream_.str()); }
  template <typename T>
  Line& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Turns the streamed Line into void, so the macro is one expression that is
// safe inside an unbraced if/else.
struct Voidify {
  void operator&(const Line&) const {}
};
}  // namespace log_detail

}  // namespace pollen

// POLLEN_LOG(Info) << "Received " << n << " bytes";  (Debug, Info, Warning, Error)
#define POLLEN_LOG(level)                                \
  (::pollen::LogLevel::k##level < ::pollen::log_level()) \
      ? (void)0                                          \
      : ::pollen::log_detail::Voidify() & ::pollen::log_detail::Line(::pollen::LogLevel::k##level)

#endif  // POLLEN_RUNTIME_LOG_H_
