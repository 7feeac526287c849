// Conversions between Pollen's types and the generated flwr.proto messages.
// Used by core's object bodies and by transport/; everything else works with
// Pollen's own types.
#ifndef POLLEN_CORE_PROTO_CONVERT_H_
#define POLLEN_CORE_PROTO_CONVERT_H_

#include <string>

#include "flwr/proto/message.pb.h"
#include "flwr/proto/recorddict.pb.h"
#include "pollen/core/message.h"
#include "pollen/core/object.h"
#include "pollen/core/records.h"

namespace pollen {

void to_proto(const Metadata& metadata, flwr::proto::Metadata* out);
Metadata from_proto(const flwr::proto::Metadata& metadata);

void to_proto(const Error& error, flwr::proto::Error* out);
Error from_proto(const flwr::proto::Error& error);

void to_proto(const ObjectTree& tree, flwr::proto::ObjectTree* out);
// Fails on ids that are not 64 lowercase hex characters or trees deeper than
// a Message can be.
Result<ObjectTree> from_proto(const flwr::proto::ObjectTree& tree);

void to_proto(const MetricRecord& record, flwr::proto::MetricRecord* out);
Result<MetricRecord> from_proto(const flwr::proto::MetricRecord& record);

void to_proto(const ConfigRecord& record, flwr::proto::ConfigRecord* out);
Result<ConfigRecord> from_proto(const flwr::proto::ConfigRecord& record);

// The protobuf Message that travels in PushMessagesRequest.messages_list:
// metadata only, with an empty content placeholder (present, as the
// SuperLink requires) or the error.
flwr::proto::Message to_wire_message(const Message& message);

// Serializes `message` with deterministic field order, as hashed in ids.
std::string serialize_deterministic(const google::protobuf::MessageLite& message);

}  // namespace pollen

#endif  // POLLEN_CORE_PROTO_CONVERT_H_
