// flower-supernode's --node-config: "key=value key2='text'". Flower turns
// each pair into a line of TOML, so values follow TOML's scalar rules.
#include "pollen/core/node_config.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

namespace pollen {
namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

Status bad_token(std::string_view token, const std::string& why) {
  return invalid_argument("node config: '" + std::string(token) + "': " + why);
}

// TOML integers: optional sign, digits, '_' only between digits.
bool parse_int(std::string_view text, int64_t* value) {
  size_t i = (!text.empty() && (text[0] == '+' || text[0] == '-')) ? 1 : 0;
  std::string digits(text.substr(0, i));
  if (i == text.size()) return false;
  for (size_t j = i; j < text.size(); ++j) {
    char c = text[j];
    if (c == '_' && j > i && j + 1 < text.size() &&
        std::isdigit(static_cast<unsigned char>(text[j - 1])) &&
        std::isdigit(static_cast<unsigned char>(text[j + 1]))) {
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    digits += c;
  }
  errno = 0;
  long long parsed = std::strtoll(digits.c_str(), nullptr, 10);
  if (errno == ERANGE) return false;
  *value = parsed;
  return true;
}

// TOML floats need a fraction or an exponent ("1.5", "2e3"), or are
// inf/nan; strtod's hex and bare forms are not TOML.
bool parse_float(std::string_view text, double* value) {
  std::string copy(text);
  std::string_view unsigned_text = text.substr(!text.empty() && (text[0] == '+' || text[0] == '-'));
  bool special = unsigned_text == "inf" || unsigned_text == "nan";
  if (!special &&
      (text.find_first_of(".eE") == std::string_view::npos ||
       text.find_first_of("xXpP") != std::string_view::npos ||
       !std::isdigit(static_cast<unsigned char>(unsigned_text.empty() ? ' ' : unsigned_text[0])))) {
    return false;
  }
  char* end = nullptr;
  *value = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size();
}

// A quoted value starting at text[0]; sets *length to the characters used.
Result<std::string> parse_quoted(std::string_view text, std::string_view token, size_t* length) {
  const char quote = text[0];
  std::string out;
  for (size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (c == quote) {
      *length = i + 1;
      return out;
    }
    // '...' is a TOML literal string; "..." knows the common escapes.
    if (c == '\\' && quote == '"') {
      if (++i == text.size()) break;
      switch (text[i]) {
        case '\\':
          c = '\\';
          break;
        case '"':
          c = '"';
          break;
        case 'n':
          c = '\n';
          break;
        case 't':
          c = '\t';
          break;
        default:
          return bad_token(token, std::string("unsupported escape \\") + text[i]);
      }
    }
    out += c;
  }
  return bad_token(token, std::string("no closing ") + quote);
}

}  // namespace

Result<NodeConfig> parse_node_config(const std::string& text) {
  NodeConfig config;
  std::string_view rest(text);
  while (true) {
    while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
    if (rest.empty()) return config;
    size_t token_end = 0;
    while (token_end < rest.size() && !is_space(rest[token_end])) ++token_end;
    std::string_view word = rest.substr(0, token_end);  // for messages
    size_t eq = word.find('=');
    if (eq == std::string_view::npos) return bad_token(word, "expected key=value");
    std::string key(word.substr(0, eq));
    if (key.empty()) return bad_token(word, "empty key");
    if (config.contains(key)) return bad_token(word, "key '" + key + "' given twice");

    std::string_view value_text = rest.substr(eq + 1);
    ConfigValue value;
    size_t used = 0;
    if (!value_text.empty() && (value_text[0] == '\'' || value_text[0] == '"')) {
      POLLEN_ASSIGN_OR_RETURN(std::string s, parse_quoted(value_text, word, &used));
      if (used < value_text.size() && !is_space(value_text[used])) {
        return bad_token(word, "text after the closing quote");
      }
      value = std::move(s);
    } else {
      value_text = word.substr(eq + 1);
      used = value_text.size();
      int64_t i;
      double d;
      if (value_text == "true" || value_text == "false") {
        value = value_text == "true";
      } else if (parse_int(value_text, &i)) {
        value = i;
      } else if (parse_float(value_text, &d)) {
        value = d;
      } else {
        return bad_token(word, value_text.empty()
                                   ? "empty value"
                                   : "not an integer, float, true/false or quoted string "
                                     "(quote text: key='value')");
      }
    }
    config.set(std::move(key), std::move(value));
    rest.remove_prefix(eq + 1 + used);
  }
}

}  // namespace pollen
