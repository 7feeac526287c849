#include "support/transcript.h"

#include <zlib.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_data.h"

namespace pollen::testing {
namespace {

// Whole decompressed content of a gzip file, or nullopt (with a test failure).
std::optional<std::string> gunzip_file(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    ADD_FAILURE() << "cannot open " << path;
    return std::nullopt;
  }
  gzbuffer(file, 1 << 20);
  std::string out;
  std::string chunk(1 << 20, '\0');
  while (true) {
    int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      ADD_FAILURE() << "cannot decompress " << path << ": " << message;
      gzclose(file);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(chunk.data(), static_cast<size_t>(n));
  }
  gzclose(file);
  return out;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A string field that may be missing or null.
std::string optional_string(const nlohmann::json& line, const char* key) {
  auto it = line.find(key);
  if (it == line.end() || it->is_null()) return "";
  return it->get<std::string>();
}

TranscriptCall parse_call(const nlohmann::json& line) {
  TranscriptCall call;
  call.seq = line.at("seq").get<int>();
  call.node = line.at("node").get<std::string>();
  call.method = line.at("method").get<std::string>();
  for (const auto& entry : line.at("request_metadata")) {
    std::string key = entry.at(0).get<std::string>();
    std::string value = entry.at(1).get<std::string>();
    if (ends_with(key, "-bin")) value = base64_decode(value);
    call.request_metadata.emplace_back(std::move(key), std::move(value));
  }
  call.request = base64_decode(line.at("request_b64").get<std::string>());
  call.status_code = line.at("status_code").get<int>();
  call.status_name = line.at("status_name").get<std::string>();
  call.status_details = optional_string(line, "status_details");
  const auto& response = line.at("response_b64");
  if (!response.is_null()) call.response = base64_decode(response.get<std::string>());
  call.label = optional_string(line, "label");
  call.expect = optional_string(line, "expect");
  call.note = optional_string(line, "note");
  return call;
}

}  // namespace

std::vector<TranscriptCall> load_transcript(std::string_view file_name) {
  std::vector<TranscriptCall> calls;
  const std::string path = data_path(file_name);
  std::optional<std::string> text = gunzip_file(path);
  if (!text) return calls;

  size_t line_number = 0;
  size_t begin = 0;
  while (begin < text->size()) {
    size_t end = text->find('\n', begin);
    if (end == std::string::npos) end = text->size();
    std::string_view line(text->data() + begin, end - begin);
    begin = end + 1;
    ++line_number;
    if (line.empty()) continue;
    try {
      calls.push_back(parse_call(nlohmann::json::parse(line)));
    } catch (const nlohmann::json::exception& e) {
      ADD_FAILURE() << path << ":" << line_number << ": " << e.what();
    }
  }
  return calls;
}

std::string method_name(const TranscriptCall& call) {
  size_t slash = call.method.rfind('/');
  return slash == std::string::npos ? call.method : call.method.substr(slash + 1);
}

}  // namespace pollen::testing
