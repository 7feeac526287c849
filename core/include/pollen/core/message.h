// Flower's Message: metadata plus either content (a RecordDict) or an Error.
#ifndef POLLEN_CORE_MESSAGE_H_
#define POLLEN_CORE_MESSAGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// The SuperLink's own node id: the source of every instruction.
inline constexpr uint64_t kSuperLinkNodeId = 1;
// Flower's default message lifetime in seconds.
inline constexpr double kDefaultTtl = 43200.0;
// The SuperLink rejects replies created before this Unix time.
inline constexpr double kMinCreatedAt = 1740700800.0;
// How far a reply's ttl may exceed the instruction's remaining lifetime.
inline constexpr double kTtlTolerance = 0.1;

struct Metadata {
  uint64_t run_id = 0;
  std::string message_id;  // the object id of the deflated Message
  uint64_t src_node_id = 0;
  uint64_t dst_node_id = 0;
  std::string reply_to_message_id;
  std::string group_id;
  double ttl = kDefaultTtl;  // seconds
  std::string message_type;  // "train", "evaluate", "query", "<one of those>.<action>"
  double created_at = 0;     // Unix seconds

  friend bool operator==(const Metadata& a, const Metadata& b);
};

// Flower's ErrorCode values.
enum ErrorCode : int64_t {
  kErrorUnknown = 0,
  kErrorLoadClientApp = 1,
  kErrorClientAppRaisedException = 2,
  kErrorMessageUnavailable = 3,
  kErrorReplyMessageUnavailable = 4,
  kErrorNodeUnavailable = 5,
  kErrorModFailedPrecondition = 6,
  kErrorInvalidFab = 7,
  kErrorClientAppCrashed = 8,
};

struct Error {
  int64_t code = kErrorUnknown;
  std::string reason;
  friend bool operator==(const Error& a, const Error& b) {
    return a.code == b.code && a.reason == b.reason;
  }
};

// Exactly one of `content` and `error` is set in a valid message.
struct Message {
  Metadata metadata;
  std::optional<RecordDict> content;
  std::optional<Error> error;

  bool has_content() const { return content.has_value(); }
  bool has_error() const { return error.has_value(); }
  // OK when exactly one of content/error is present.
  Status check_content_or_error() const;
};

// Checks `type` the way Flower does: "train", "evaluate", "query", "system",
// or "<one of those>.<Python identifier>".
Status validate_message_type(std::string_view type);

// The metadata of a reply to `instruction` sent by `node_id` at time `now`:
// reply_to, group_id and message_type copied, destination the SuperLink,
// ttl = the instruction's remaining lifetime (so clock skew cannot make the
// SuperLink reject it). message_id is left empty until deflation.
Metadata make_reply_metadata(const Metadata& instruction, uint64_t node_id, double now);

// Current Unix time in seconds with sub-second precision.
double unix_now();

// Splits "train.custom" into {"train", "custom"}; no dot gives an empty action.
std::pair<std::string_view, std::string_view> split_message_type(std::string_view type);

}  // namespace pollen

#endif  // POLLEN_CORE_MESSAGE_H_
