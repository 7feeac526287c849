// Helpers for tests: locating and reading the Flower conformance data.
#ifndef POLLEN_TESTS_SUPPORT_TEST_DATA_H_
#define POLLEN_TESTS_SUPPORT_TEST_DATA_H_

#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pollen::testing {

// Path of `name` inside tests/data/flower-1.28 (from $POLLEN_TEST_DATA).
std::string data_path(std::string_view name);

// Whole file as bytes; fails the current test (and returns "") when missing.
std::string read_file(const std::string& path);

// Parses tests/data/flower-1.28/<name> keeping key order.
nlohmann::ordered_json load_json(std::string_view name);

std::string base64_decode(std::string_view text);
std::string hex_decode(std::string_view hex);
std::string hex_encode(std::string_view bytes);

// A substring check whose failure prints both strings.
::testing::AssertionResult contains(const std::string& text, const std::string& part);

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_SUPPORT_TEST_DATA_H_
