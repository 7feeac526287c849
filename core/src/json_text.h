// JSON as Python's json.dumps writes it (", " and ": " separators, keys in
// insertion order, non-ASCII escaped as \uXXXX), so object bodies and ids
// match Flower's byte for byte; and a reader that keeps key order.
#ifndef POLLEN_CORE_SRC_JSON_TEXT_H_
#define POLLEN_CORE_SRC_JSON_TEXT_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pollen/core/status.h"

namespace pollen::json_text {

// Appends `utf8` as a quoted JSON string, escaped like json.dumps with
// ensure_ascii=True. Fails on invalid UTF-8.
Status append_string(std::string* out, std::string_view utf8);

// {"k1": "v1", "k2": "v2"} with string values.
Result<std::string> string_map(const std::vector<std::pair<std::string, std::string>>& items);

// Parses `text` keeping key order; DATA_LOSS naming `what` on bad JSON.
Result<nlohmann::ordered_json> parse(std::string_view text, std::string_view what);

}  // namespace pollen::json_text

#endif  // POLLEN_CORE_SRC_JSON_TEXT_H_
