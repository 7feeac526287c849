// Number checks for flags, with messages a user reads at a glance (CLI11's
// own print the limits of double: "not in range 2.22507e-308 to ...").
#ifndef POLLEN_CLI_VALIDATORS_H_
#define POLLEN_CLI_VALIDATORS_H_

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <string>

namespace pollen::cli {

inline CLI::Validator number_validator(bool strictly_positive) {
  return CLI::Validator(
      [strictly_positive](std::string& text) -> std::string {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !std::isfinite(value)) {
          return "'" + text + "' is not a number";
        }
        if (strictly_positive ? value <= 0 : value < 0) {
          return "must be " + std::string(strictly_positive ? "greater than 0" : "0 or more") +
                 ", got " + text;
        }
        return "";
      },
      strictly_positive ? "POSITIVE" : "NONNEGATIVE");
}

inline const CLI::Validator kPositive = number_validator(true);
inline const CLI::Validator kNonNegative = number_validator(false);

}  // namespace pollen::cli

#endif  // POLLEN_CLI_VALIDATORS_H_
