#include "json_text.h"

#include <cstdint>
#include <cstdio>

namespace pollen::json_text {

namespace {

void append_u_escape(std::string* out, uint32_t unit) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(unit & 0xffff));
  out->append(buf);
}

// Decodes one UTF-8 code point at `*i`, advancing it; false on bad input.
bool next_code_point(std::string_view s, size_t* i, uint32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(*i);
  size_t len = b0 < 0x80           ? 1
               : (b0 >> 5) == 0x6  ? 2
               : (b0 >> 4) == 0xe  ? 3
               : (b0 >> 3) == 0x1e ? 4
                                   : 0;
  if (len == 0 || *i + len > s.size()) return false;
  uint32_t value = len == 1 ? b0 : b0 & (0x7f >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((byte(*i + k) & 0xc0) != 0x80) return false;
    value = (value << 6) | (byte(*i + k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kMin[len] || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return false;
  *i += len;
  *cp = value;
  return true;
}

}  // namespace

Status append_string(std::string* out, std::string_view utf8) {
  out->push_back('"');
  size_t i = 0;
  while (i < utf8.size()) {
    uint32_t cp = 0;
    if (!next_code_point(utf8, &i, &cp)) {
      return invalid_argument("key is not valid UTF-8 (byte " + std::to_string(i) + ")");
    }
    switch (cp) {
      case '"':
        out->append("\\\"");
        continue;
      case '\\':
        out->append("\\\\");
        continue;
      case '\n':
        out->append("\\n");
        continue;
      case '\r':
        out->append("\\r");
        continue;
      case '\t':
        out->append("\\t");
        continue;
      case '\b':
        out->append("\\b");
        continue;
      case '\f':
        out->append("\\f");
        continue;
      default:
        break;
    }
    if (cp >= 0x20 && cp < 0x7f) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x10000) {
      append_u_escape(out, cp);
    } else {  // astral: a UTF-16 surrogate pair, as Python writes it
      cp -= 0x10000;
      append_u_escape(out, 0xd800 + (cp >> 10));
      append_u_escape(out, 0xdc00 + (cp & 0x3ff));
    }
  }
  out->push_back('"');
  return Status::Ok();
}

Result<std::string> string_map(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    POLLEN_RETURN_IF_ERROR(
        append_string(&out, items[i].first).with_context("name '" + items[i].first + "'"));
    out += ": ";
    POLLEN_RETURN_IF_ERROR(append_string(&out, items[i].second));
  }
  out += "}";
  return out;
}

Result<nlohmann::ordered_json> parse(std::string_view text, std::string_view what) {
  nlohmann::ordered_json value = nlohmann::ordered_json::parse(text, nullptr, false);
  if (value.is_discarded()) {
    return data_loss(std::string(what) + " body is not valid JSON");
  }
  return value;
}

}  // namespace pollen::json_text
