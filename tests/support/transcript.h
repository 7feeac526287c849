// Recorded Fleet API transcripts (tests/data/flower-1.28/*.jsonl.gz): one
// gRPC unary call per line, between real Flower SuperNodes (or a probe
// client) and a real SuperLink.
#ifndef POLLEN_TESTS_SUPPORT_TRANSCRIPT_H_
#define POLLEN_TESTS_SUPPORT_TRANSCRIPT_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pollen::testing {

struct TranscriptCall {
  int seq = 0;
  // "A", "B" (FedAvg run) or "probe" (error run).
  std::string node;
  // Full gRPC path, e.g. "/flwr.proto.Fleet/PullObject".
  std::string method;
  // In the order received; values of "-bin" keys are already base64-decoded
  // to raw bytes.
  std::vector<std::pair<std::string, std::string>> request_metadata;
  // Serialized request protobuf (raw bytes).
  std::string request;
  int status_code = 0;
  std::string status_name;
  std::string status_details;
  // Serialized response protobuf; nullopt when the call failed.
  std::optional<std::string> response;
  // Error transcript only (empty otherwise): what the probe did, the status
  // it expected and an explanation.
  std::string label;
  std::string expect;
  std::string note;
};

// Reads data_path(file_name), gunzips it and parses one call per line.
// Reports problems with ADD_FAILURE and returns the calls read so far.
std::vector<TranscriptCall> load_transcript(std::string_view file_name);

// Last component of the call's path, e.g. "PullObject".
std::string method_name(const TranscriptCall& call);

}  // namespace pollen::testing

#endif  // POLLEN_TESTS_SUPPORT_TRANSCRIPT_H_
