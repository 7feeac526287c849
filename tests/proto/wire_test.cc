// Wire conformance of Pollen's flwr.proto description: every request and
// response recorded between real Flower SuperNodes and a real SuperLink must
// parse with the generated classes and re-serialize to the recorded bytes, and
// decoded values must make sense (which proves the field numbers and types).
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "flwr/proto/fab.pb.h"
#include "flwr/proto/fleet.pb.h"
#include "flwr/proto/heartbeat.pb.h"
#include "flwr/proto/message.pb.h"
#include "flwr/proto/run.pb.h"
#include "pollen/core/sha256.h"
#include "support/transcript.h"

namespace pollen::testing {
namespace {

namespace fp = ::flwr::proto;
using ::google::protobuf::Message;

constexpr char kFedAvg[] = "fedavg_2rounds_2nodes.jsonl.gz";
constexpr char kErrorsProbe[] = "errors_probe.jsonl.gz";
constexpr char kFleetPrefix[] = "/flwr.proto.Fleet/";
constexpr uint64_t kSuperLinkNodeId = 1;
constexpr uint64_t kFedAvgRunId = 4644925275636930422ULL;
constexpr uint64_t kProbeRunId = 16226392792774993638ULL;
constexpr uint64_t kProbeNodeId = 12676856737636939454ULL;

// Request and response type of one Fleet method (SPEC §2.1).
struct MethodTypes {
  const Message* request;
  const Message* response;
};

template <typename Request, typename Response>
MethodTypes types() {
  return {&Request::default_instance(), &Response::default_instance()};
}

// Fleet method name -> its types, in the order of the service definition.
const std::vector<std::pair<std::string, MethodTypes>>& fleet_methods() {
  static const auto* methods = new std::vector<std::pair<std::string, MethodTypes>>{
      {"RegisterNode", types<fp::RegisterNodeFleetRequest, fp::RegisterNodeFleetResponse>()},
      {"ActivateNode", types<fp::ActivateNodeRequest, fp::ActivateNodeResponse>()},
      {"DeactivateNode", types<fp::DeactivateNodeRequest, fp::DeactivateNodeResponse>()},
      {"UnregisterNode", types<fp::UnregisterNodeFleetRequest, fp::UnregisterNodeFleetResponse>()},
      {"SendNodeHeartbeat", types<fp::SendNodeHeartbeatRequest, fp::SendNodeHeartbeatResponse>()},
      {"PullMessages", types<fp::PullMessagesRequest, fp::PullMessagesResponse>()},
      {"PushMessages", types<fp::PushMessagesRequest, fp::PushMessagesResponse>()},
      {"GetRun", types<fp::GetRunRequest, fp::GetRunResponse>()},
      {"GetFab", types<fp::GetFabRequest, fp::GetFabResponse>()},
      {"PushObject", types<fp::PushObjectRequest, fp::PushObjectResponse>()},
      {"PullObject", types<fp::PullObjectRequest, fp::PullObjectResponse>()},
      {"ConfirmMessageReceived",
       types<fp::ConfirmMessageReceivedRequest, fp::ConfirmMessageReceivedResponse>()},
  };
  return *methods;
}

// Types for a full gRPC path, or nullptr when it is not a Fleet method.
const MethodTypes* find_method(const std::string& path) {
  const std::string prefix = kFleetPrefix;
  if (path.compare(0, prefix.size(), prefix) != 0) return nullptr;
  const std::string name = path.substr(prefix.size());
  for (const auto& [method, method_types] : fleet_methods()) {
    if (method == name) return &method_types;
  }
  return nullptr;
}

// Each transcript is read once per test binary run.
const std::vector<TranscriptCall>& transcript(const std::string& file_name) {
  static auto* cache = new std::map<std::string, std::vector<TranscriptCall>>();
  auto it = cache->find(file_name);
  if (it == cache->end()) it = cache->emplace(file_name, load_transcript(file_name)).first;
  return it->second;
}

std::string serialize(const Message& message, bool deterministic) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(deterministic);
    EXPECT_TRUE(message.SerializeToCodedStream(&coded));
  }
  return out;
}

// Paths of all (sub)messages holding fields our .proto files do not declare.
void find_unknown_fields(const Message& message, const std::string& path,
                         std::vector<std::string>* found) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  if (!reflection->GetUnknownFields(message).empty()) found->push_back(path);
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const auto* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        find_unknown_fields(reflection->GetRepeatedMessage(message, field, i),
                            path + "." + field->name() + "[" + std::to_string(i) + "]", found);
      }
    } else {
      find_unknown_fields(reflection->GetMessage(message, field), path + "." + field->name(),
                          found);
    }
  }
}

template <typename T>
T parse(const std::string& bytes) {
  T message;
  EXPECT_TRUE(message.ParseFromString(bytes)) << T::descriptor()->full_name();
  return message;
}

// Parsed response of a successful call.
template <typename T>
T parse_response(const TranscriptCall& call) {
  EXPECT_TRUE(call.response.has_value()) << "seq " << call.seq;
  return parse<T>(call.response.value_or(""));
}

const std::string* metadata_value(const TranscriptCall& call, const std::string& key) {
  for (const auto& [k, v] : call.request_metadata) {
    if (k == key) return &v;
  }
  return nullptr;
}

void collect_tree_ids(const fp::ObjectTree& tree, std::set<std::string>* ids) {
  ids->insert(tree.object_id());
  for (const auto& child : tree.children()) collect_tree_ids(child, ids);
}

std::map<std::string, int> calls_per_method(const std::vector<TranscriptCall>& calls) {
  std::map<std::string, int> counts;
  for (const auto& call : calls) ++counts[method_name(call)];
  return counts;
}

// Calls of errors_probe that send something no Fleet servicer can decode:
// unknown methods / services and undecodable request bytes.
const std::set<int>& deliberately_invalid(const std::string& file_name) {
  static const auto* probe = new std::set<int>{15, 16, 17, 18};
  static const auto* none = new std::set<int>();
  return file_name == kErrorsProbe ? *probe : *none;
}

TEST(FleetMethodTable, MatchesServiceInFleetProto) {
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName("flwr.proto.Fleet");
  ASSERT_NE(service, nullptr);
  ASSERT_EQ(service->method_count(), 12);
  ASSERT_EQ(fleet_methods().size(), 12u);
  for (int i = 0; i < service->method_count(); ++i) {
    const google::protobuf::MethodDescriptor* method = service->method(i);
    SCOPED_TRACE(method->full_name());
    EXPECT_EQ(fleet_methods()[static_cast<size_t>(i)].first, method->name());
    EXPECT_FALSE(method->client_streaming());
    EXPECT_FALSE(method->server_streaming());
    const MethodTypes* found = find_method(kFleetPrefix + method->name());
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->request->GetDescriptor(), method->input_type());
    EXPECT_EQ(found->response->GetDescriptor(), method->output_type());
  }
  EXPECT_EQ(find_method("/flwr.proto.Fleet/NoSuchMethod"), nullptr);
  EXPECT_EQ(find_method("/flwr.proto.NoSuchService/Foo"), nullptr);
}

TEST(TranscriptLoading, FedAvgCallCounts) {
  const auto& calls = transcript(kFedAvg);
  ASSERT_EQ(calls.size(), 342u);
  for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i].seq, static_cast<int>(i));
  const std::map<std::string, int> expected = {
      {"ActivateNode", 2},
      {"ConfirmMessageReceived", 8},
      {"DeactivateNode", 2},
      {"GetFab", 2},
      {"GetRun", 2},
      {"PullMessages", 24},
      {"PullObject", 184},
      {"PushMessages", 8},
      {"PushObject", 102},
      {"RegisterNode", 2},
      {"SendNodeHeartbeat", 4},
      {"UnregisterNode", 2},
  };
  EXPECT_EQ(calls_per_method(calls), expected);
  std::map<std::string, int> per_node;
  for (const auto& call : calls) {
    ++per_node[call.node];
    EXPECT_EQ(call.status_name, "OK") << "seq " << call.seq;
    EXPECT_TRUE(call.response.has_value()) << "seq " << call.seq;
    EXPECT_TRUE(call.label.empty());
  }
  EXPECT_EQ(per_node, (std::map<std::string, int>{{"A", 170}, {"B", 172}}));
}

TEST(TranscriptLoading, ErrorsProbeCallCounts) {
  const auto& calls = transcript(kErrorsProbe);
  ASSERT_EQ(calls.size(), 90u);
  for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i].seq, static_cast<int>(i));
  const std::map<std::string, int> expected = {
      {"ActivateNode", 3},
      {"ConfirmMessageReceived", 4},
      {"DeactivateNode", 3},
      {"Foo", 1},
      {"GetFab", 2},
      {"GetRun", 5},
      {"NoSuchMethod", 2},
      {"PullMessages", 11},
      {"PullObject", 25},
      {"PushMessages", 4},
      {"PushObject", 15},
      {"RegisterNode", 7},
      {"SendNodeHeartbeat", 6},
      {"UnregisterNode", 2},
  };
  EXPECT_EQ(calls_per_method(calls), expected);
  int failed = 0;
  for (const auto& call : calls) {
    EXPECT_EQ(call.node, "probe");
    EXPECT_FALSE(call.label.empty()) << "seq " << call.seq;
    EXPECT_FALSE(call.expect.empty()) << "seq " << call.seq;
    if (call.status_code != 0) ++failed;
  }
  EXPECT_EQ(failed, 26);
  // Metadata: "-bin" values arrive decoded.
  const TranscriptCall& register_call = calls[5];
  const std::string* key = metadata_value(register_call, "flwr-public-key-bin");
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(key->rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
  const std::string* signature = metadata_value(register_call, "flwr-signature-bin");
  ASSERT_NE(signature, nullptr);
  EXPECT_EQ(static_cast<unsigned char>((*signature)[0]), 0x30);  // DER SEQUENCE
  const std::string* timestamp = metadata_value(register_call, "flwr-timestamp");
  ASSERT_NE(timestamp, nullptr);
  EXPECT_EQ(timestamp->size(), 32u);
}

class TranscriptWireTest : public ::testing::TestWithParam<const char*> {};

// Every request and response parses, holds no field we do not declare, and
// re-serializes to the recorded bytes (maps aside, see GetRunResponse).
TEST_P(TranscriptWireTest, EveryMessageParsesAndReserializes) {
  const std::string file_name = GetParam();
  const auto& calls = transcript(file_name);
  ASSERT_FALSE(calls.empty());
  std::set<int> rejected;
  int requests = 0;
  int responses = 0;
  for (const auto& call : calls) {
    SCOPED_TRACE("seq " + std::to_string(call.seq) + " " + call.method);
    EXPECT_EQ(call.response.has_value(), call.status_code == 0);
    const MethodTypes* method_types = find_method(call.method);
    std::unique_ptr<Message> request;
    if (method_types != nullptr) {
      request.reset(method_types->request->New());
      if (!request->ParseFromString(call.request)) request.reset();
    }
    if (request == nullptr) {
      rejected.insert(call.seq);
      EXPECT_FALSE(call.response.has_value());
      continue;
    }
    ++requests;
    std::vector<std::string> unknown;
    find_unknown_fields(*request, request->GetTypeName(), &unknown);
    EXPECT_TRUE(unknown.empty()) << unknown.front();
    EXPECT_EQ(serialize(*request, false), call.request);
    EXPECT_EQ(serialize(*request, true), call.request);

    if (!call.response) continue;
    ++responses;
    std::unique_ptr<Message> response(method_types->response->New());
    ASSERT_TRUE(response->ParseFromString(*call.response));
    unknown.clear();
    find_unknown_fields(*response, response->GetTypeName(), &unknown);
    EXPECT_TRUE(unknown.empty()) << unknown.front();
    if (response->GetDescriptor() == fp::GetRunResponse::descriptor()) {
      // Python writes override_config in insertion order; C++ in its own.
      // Same content and size, and our bytes read back to the same message.
      EXPECT_EQ(response->ByteSizeLong(), call.response->size());
      std::unique_ptr<Message> reparsed(response->New());
      ASSERT_TRUE(reparsed->ParseFromString(serialize(*response, true)));
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*response, *reparsed));
      EXPECT_EQ(serialize(*reparsed, true), serialize(*response, true));
      EXPECT_GT(static_cast<const fp::GetRunResponse&>(*response).run().override_config_size(), 1);
    } else {
      EXPECT_EQ(serialize(*response, false), *call.response);
      EXPECT_EQ(serialize(*response, true), *call.response);
    }
  }
  EXPECT_EQ(rejected, deliberately_invalid(file_name));
  EXPECT_EQ(requests + static_cast<int>(rejected.size()), static_cast<int>(calls.size()));
  EXPECT_GT(responses, 0);
}

INSTANTIATE_TEST_SUITE_P(Flower128, TranscriptWireTest, ::testing::Values(kFedAvg, kErrorsProbe),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param) == kFedAvg ? "FedAvg" : "ErrorsProbe";
                         });

// Every PushMessagesResponse, in both transcripts, asks to reconnect in 5 s.
TEST_P(TranscriptWireTest, PushMessagesResponsesCarryReconnect) {
  int seen = 0;
  for (const auto& call : transcript(GetParam())) {
    if (method_name(call) != "PushMessages" || !call.response) continue;
    auto response = parse_response<fp::PushMessagesResponse>(call);
    ASSERT_TRUE(response.has_reconnect()) << "seq " << call.seq;
    EXPECT_EQ(response.reconnect().reconnect(), 5u);
    ++seen;
  }
  EXPECT_GT(seen, 0);
}

TEST(ErrorsProbe, DeliberatelyInvalidCallsAreRejected) {
  const auto& calls = transcript(kErrorsProbe);
  ASSERT_EQ(calls.size(), 90u);
  struct Expected {
    int seq;
    const char* method;
    const char* status;
  };
  const Expected expected[] = {
      {15, "/flwr.proto.Fleet/NoSuchMethod", "UNKNOWN"},
      {16, "/flwr.proto.Fleet/NoSuchMethod", "UNAUTHENTICATED"},
      {17, "/flwr.proto.NoSuchService/Foo", "UNIMPLEMENTED"},
      {18, "/flwr.proto.Fleet/PullMessages", "INTERNAL"},
  };
  for (const auto& e : expected) {
    const TranscriptCall& call = calls[static_cast<size_t>(e.seq)];
    SCOPED_TRACE("seq " + std::to_string(e.seq));
    EXPECT_EQ(call.method, e.method);
    EXPECT_EQ(call.status_name, e.status);
    EXPECT_FALSE(call.response.has_value());
  }
  // Unknown methods: no types to parse with.
  EXPECT_EQ(find_method(calls[15].method), nullptr);
  EXPECT_EQ(find_method(calls[16].method), nullptr);
  EXPECT_EQ(find_method(calls[17].method), nullptr);
  EXPECT_EQ(calls[15].status_details, "Error in service handler!");
  EXPECT_EQ(calls[17].status_details, "Method not found!");
  // Known method, undecodable bytes: wire type 7 does not exist.
  EXPECT_EQ(calls[18].request, std::string("\xff\xff\xff"));
  EXPECT_EQ(calls[18].status_details, "Exception deserializing request!");
  fp::PullMessagesRequest request;
  EXPECT_FALSE(request.ParseFromString(calls[18].request));
}

// Follows both nodes of the FedAvg run through their calls and checks that
// the decoded values fit together.
TEST(FedAvgTranscript, DecodedValuesAreConsistent) {
  const auto& calls = transcript(kFedAvg);
  ASSERT_EQ(calls.size(), 342u);

  struct NodeState {
    uint64_t node_id = 0;
    std::string public_key;
    std::map<std::string, std::string> instruction_types;  // id -> message_type
    std::set<std::string> instruction_objects;
    std::set<std::string> confirmed;
    std::multiset<std::string> requested_objects;
    std::multiset<std::string> pushed_objects;
    std::map<std::string, int> instructions_per_type;
    int replies = 0;
  };
  std::map<std::string, NodeState> nodes;
  std::string fab_hash;
  int runs_seen = 0;

  for (const auto& call : calls) {
    SCOPED_TRACE("seq " + std::to_string(call.seq) + " node " + call.node + " " + call.method);
    NodeState& node = nodes[call.node];
    const std::string method = method_name(call);
    const std::string* key_header = metadata_value(call, "flwr-public-key-bin");
    ASSERT_NE(key_header, nullptr);
    ASSERT_NE(metadata_value(call, "flwr-signature-bin"), nullptr);
    ASSERT_NE(metadata_value(call, "flwr-timestamp"), nullptr);

    if (method == "RegisterNode") {
      auto request = parse<fp::RegisterNodeFleetRequest>(call.request);
      EXPECT_EQ(request.public_key().rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
      EXPECT_EQ(request.public_key(), *key_header);
      node.public_key = request.public_key();
      node.node_id = parse_response<fp::RegisterNodeFleetResponse>(call).node_id();
      EXPECT_GT(node.node_id, kSuperLinkNodeId);
      continue;
    }
    ASSERT_NE(node.node_id, 0u) << "call before RegisterNode";
    EXPECT_EQ(*key_header, node.public_key);

    if (method == "ActivateNode") {
      auto request = parse<fp::ActivateNodeRequest>(call.request);
      EXPECT_EQ(request.public_key(), node.public_key);
      EXPECT_EQ(request.heartbeat_interval(), 30.0);
      EXPECT_EQ(parse_response<fp::ActivateNodeResponse>(call).node_id(), node.node_id);
    } else if (method == "SendNodeHeartbeat") {
      auto request = parse<fp::SendNodeHeartbeatRequest>(call.request);
      EXPECT_EQ(request.node().node_id(), node.node_id);
      EXPECT_EQ(request.heartbeat_interval(), 30.0);
      EXPECT_TRUE(parse_response<fp::SendNodeHeartbeatResponse>(call).success());
    } else if (method == "PullMessages") {
      auto request = parse<fp::PullMessagesRequest>(call.request);
      EXPECT_EQ(request.node().node_id(), node.node_id);
      EXPECT_EQ(request.message_ids_size(), 0);
      auto response = parse_response<fp::PullMessagesResponse>(call);
      EXPECT_FALSE(response.has_reconnect());
      if (response.messages_list_size() == 0) {
        EXPECT_TRUE(call.response->empty());
        EXPECT_EQ(response.message_object_trees_size(), 0);
        continue;
      }
      ASSERT_EQ(response.messages_list_size(), 1);
      ASSERT_EQ(response.message_object_trees_size(), 1);
      const fp::Message& message = response.messages_list(0);
      const fp::Metadata& metadata = message.metadata();
      EXPECT_EQ(metadata.run_id(), kFedAvgRunId);
      EXPECT_EQ(metadata.src_node_id(), kSuperLinkNodeId);
      EXPECT_EQ(metadata.dst_node_id(), node.node_id);
      EXPECT_TRUE(is_object_id(metadata.message_id()));
      EXPECT_EQ(metadata.reply_to_message_id(), "");
      EXPECT_EQ(metadata.group_id(), "");
      EXPECT_EQ(metadata.ttl(), 43200.0);
      EXPECT_GT(metadata.created_at(), 1740700800.0);
      EXPECT_TRUE(metadata.message_type() == "train" || metadata.message_type() == "evaluate")
          << metadata.message_type();
      EXPECT_TRUE(message.has_content());
      EXPECT_EQ(message.content().items_size(), 0);
      EXPECT_FALSE(message.has_error());
      const fp::ObjectTree& tree = response.message_object_trees(0);
      EXPECT_EQ(tree.object_id(), metadata.message_id());
      std::set<std::string> ids;
      collect_tree_ids(tree, &ids);
      EXPECT_EQ(ids.size(), 23u);
      node.instruction_objects.insert(ids.begin(), ids.end());
      node.instruction_types[metadata.message_id()] = metadata.message_type();
      ++node.instructions_per_type[metadata.message_type()];
    } else if (method == "GetRun") {
      auto request = parse<fp::GetRunRequest>(call.request);
      EXPECT_EQ(request.node().node_id(), node.node_id);
      EXPECT_EQ(request.run_id(), kFedAvgRunId);
      const fp::Run run = parse_response<fp::GetRunResponse>(call).run();
      EXPECT_EQ(run.run_id(), kFedAvgRunId);
      EXPECT_EQ(run.fab_id(), "local/fedavg-wire");
      EXPECT_EQ(run.fab_version(), "1.0.0");
      EXPECT_EQ(run.federation(), "@none/default");
      EXPECT_EQ(run.run_type(), "serverapp");
      EXPECT_EQ(run.flwr_aid(), "<id:none>");
      EXPECT_EQ(run.status().status(), "running");
      EXPECT_EQ(run.status().sub_status(), "");
      EXPECT_TRUE(is_object_id(run.fab_hash()));
      EXPECT_EQ(run.pending_at().size(), 32u);
      EXPECT_EQ(run.finished_at(), "");
      EXPECT_GT(run.bytes_sent(), 0u);
      EXPECT_GT(run.bytes_recv(), 0u);
      ASSERT_EQ(run.override_config().count("round-timeout"), 1u);
      EXPECT_EQ(run.override_config().at("round-timeout").sint64(), 600);
      EXPECT_EQ(run.override_config().at("num-server-rounds").sint64(), 2);
      EXPECT_EQ(run.override_config().at("fraction-train").double_(), 1.0);
      EXPECT_EQ(run.override_config().size(), 7u);
      fab_hash = run.fab_hash();
      ++runs_seen;
    } else if (method == "GetFab") {
      auto request = parse<fp::GetFabRequest>(call.request);
      EXPECT_EQ(request.node().node_id(), node.node_id);
      EXPECT_EQ(request.run_id(), kFedAvgRunId);
      EXPECT_EQ(request.hash_str(), fab_hash);
      const fp::Fab fab = parse_response<fp::GetFabResponse>(call).fab();
      EXPECT_EQ(fab.hash_str(), fab_hash);
      EXPECT_EQ(fab.content().size(), 7362u);
      EXPECT_EQ(fab.content().substr(0, 4), std::string("PK\x03\x04"));
      EXPECT_EQ(sha256_hex(fab.content()), fab_hash);
    } else if (method == "PullObject") {
      auto request = parse<fp::PullObjectRequest>(call.request);
      EXPECT_EQ(request.node().node_id(), node.node_id);
      EXPECT_EQ(request.run_id(), kFedAvgRunId);
      EXPECT_EQ(node.instruction_objects.count(request.object_id()), 1u);
      auto response = parse_response<fp::PullObjectResponse>(call);
      EXPECT_TRUE(response.object_found());
      EXPECT_TRUE(response.object_available());
      EXPECT_EQ(sha256_hex(response.object_content()), request.object_id());
    } else if (method == "ConfirmMessageReceived") {
      auto request = parse<fp::ConfirmMessageReceivedRequest>(call.request);
      EXPECT_EQ(request.node().node_id(), node.node_id);
      EXPECT_EQ(request.run_id(), kFedAvgRunId);
      EXPECT_EQ(node.instruction_types.count(request.message_object_id()), 1u);
      EXPECT_TRUE(node.confirmed.insert(request.message_object_id()).second);
      EXPECT_EQ(call.response->size(), 0u);
    } else if (method == "PushMessages") {
      auto request = parse<fp::PushMessagesRequest>(call.request);
      EXPECT_EQ(request.node().node_id(), node.node_id);
      ASSERT_EQ(request.messages_list_size(), 1);
      ASSERT_EQ(request.message_object_trees_size(), 1);
      ASSERT_EQ(request.clientapp_runtime_list_size(), 1);
      EXPECT_GT(request.clientapp_runtime_list(0), 0.0);
      const fp::Metadata& metadata = request.messages_list(0).metadata();
      EXPECT_EQ(metadata.run_id(), kFedAvgRunId);
      EXPECT_EQ(metadata.src_node_id(), node.node_id);
      EXPECT_EQ(metadata.dst_node_id(), kSuperLinkNodeId);
      ASSERT_EQ(node.instruction_types.count(metadata.reply_to_message_id()), 1u);
      EXPECT_EQ(node.confirmed.count(metadata.reply_to_message_id()), 1u);
      EXPECT_EQ(metadata.message_type(), node.instruction_types[metadata.reply_to_message_id()]);
      EXPECT_GT(metadata.ttl(), 43000.0);
      EXPECT_LT(metadata.ttl(), 43200.0);
      EXPECT_GT(metadata.created_at(), 1740700800.0);
      EXPECT_TRUE(request.messages_list(0).has_content());
      EXPECT_FALSE(request.messages_list(0).has_error());
      const fp::ObjectTree& tree = request.message_object_trees(0);
      EXPECT_EQ(tree.object_id(), metadata.message_id());
      std::set<std::string> tree_ids;
      collect_tree_ids(tree, &tree_ids);

      auto response = parse_response<fp::PushMessagesResponse>(call);
      EXPECT_EQ(response.reconnect().reconnect(), 5u);
      ASSERT_EQ(response.results_size(), 1);
      ASSERT_EQ(response.results().count(metadata.message_id()), 1u);
      EXPECT_EQ(response.results().at(metadata.message_id()), 0u);
      EXPECT_GT(response.objects_to_push_size(), 0);
      for (const auto& id : response.objects_to_push()) {
        EXPECT_EQ(tree_ids.count(id), 1u) << id;
        node.requested_objects.insert(id);
      }
      ++node.replies;
    } else if (method == "PushObject") {
      auto request = parse<fp::PushObjectRequest>(call.request);
      EXPECT_EQ(request.node().node_id(), node.node_id);
      EXPECT_EQ(request.run_id(), kFedAvgRunId);
      EXPECT_EQ(sha256_hex(request.object_content()), request.object_id());
      node.pushed_objects.insert(request.object_id());
      EXPECT_TRUE(parse_response<fp::PushObjectResponse>(call).stored());
    } else if (method == "DeactivateNode") {
      EXPECT_EQ(parse<fp::DeactivateNodeRequest>(call.request).node_id(), node.node_id);
      EXPECT_EQ(call.response->size(), 0u);
    } else if (method == "UnregisterNode") {
      EXPECT_EQ(parse<fp::UnregisterNodeFleetRequest>(call.request).node_id(), node.node_id);
      EXPECT_EQ(call.response->size(), 0u);
    } else {
      ADD_FAILURE() << "unexpected method";
    }
  }

  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes["A"].node_id, 13863018268110762542ULL);
  EXPECT_EQ(nodes["B"].node_id, 10260018152723570365ULL);
  for (auto& [label, node] : nodes) {
    SCOPED_TRACE("node " + label);
    EXPECT_EQ(node.instructions_per_type,
              (std::map<std::string, int>{{"train", 2}, {"evaluate", 2}}));
    EXPECT_EQ(node.confirmed.size(), 4u);
    EXPECT_EQ(node.replies, 4);
    EXPECT_EQ(node.pushed_objects, node.requested_objects);
  }
  EXPECT_EQ(runs_seen, 2);
}

// Values of the probe calls that are interesting on the wire.
TEST(ErrorsProbe, DecodedValuesMatchTheProbes) {
  const auto& calls = transcript(kErrorsProbe);
  ASSERT_EQ(calls.size(), 90u);
  auto at = [&calls](int seq) -> const TranscriptCall& { return calls[static_cast<size_t>(seq)]; };

  EXPECT_EQ(parse_response<fp::RegisterNodeFleetResponse>(at(5)).node_id(), kProbeNodeId);
  EXPECT_EQ(parse<fp::ActivateNodeRequest>(at(7).request).heartbeat_interval(), 5.0);
  EXPECT_EQ(parse<fp::ActivateNodeRequest>(at(8).request).heartbeat_interval(), 30.0);
  EXPECT_EQ(parse_response<fp::ActivateNodeResponse>(at(8)).node_id(), kProbeNodeId);
  EXPECT_EQ(parse<fp::SendNodeHeartbeatRequest>(at(10).request).node().node_id(), 12345u);
  EXPECT_EQ(parse<fp::SendNodeHeartbeatRequest>(at(12).request).heartbeat_interval(), 5000.0);
  EXPECT_EQ(at(10).status_details, "Invalid node ID");
  EXPECT_EQ(parse<fp::GetRunRequest>(at(19).request).run_id(), 12345u);
  EXPECT_EQ(at(19).status_name, "PERMISSION_DENIED");
  EXPECT_EQ(parse<fp::PullObjectRequest>(at(20).request).run_id(), 12345u);

  // A real run: the probe's GetRun.
  const fp::Run run = parse_response<fp::GetRunResponse>(at(23)).run();
  EXPECT_EQ(run.run_id(), kProbeRunId);
  EXPECT_EQ(run.federation(), "@none/default");
  EXPECT_EQ(run.run_type(), "serverapp");
  EXPECT_EQ(run.status().status(), "running");
  const fp::Fab fab = parse_response<fp::GetFabResponse>(at(25)).fab();
  EXPECT_EQ(fab.hash_str(), run.fab_hash());
  EXPECT_EQ(sha256_hex(fab.content()), run.fab_hash());

  // Unknown, malformed and already-confirmed objects: OK with an empty answer.
  EXPECT_EQ(parse<fp::PullObjectRequest>(at(26).request).object_id(), std::string(64, '0'));
  EXPECT_EQ(parse<fp::PullObjectRequest>(at(27).request).object_id(), "not-an-id");
  for (int seq : {26, 27, 40}) {
    SCOPED_TRACE("seq " + std::to_string(seq));
    auto response = parse_response<fp::PullObjectResponse>(at(seq));
    EXPECT_TRUE(at(seq).response->empty());
    EXPECT_FALSE(response.object_found());
    EXPECT_FALSE(response.object_available());
  }
  // Normal pulls of instruction objects.
  int normal_pulls = 0;
  for (const auto& call : calls) {
    if (call.label.find("instruction object)") == std::string::npos) continue;
    SCOPED_TRACE("seq " + std::to_string(call.seq));
    auto request = parse<fp::PullObjectRequest>(call.request);
    auto response = parse_response<fp::PullObjectResponse>(call);
    EXPECT_EQ(request.run_id(), kProbeRunId);
    EXPECT_TRUE(response.object_found());
    EXPECT_TRUE(response.object_available());
    EXPECT_EQ(sha256_hex(response.object_content()), request.object_id());
    ++normal_pulls;
  }
  EXPECT_EQ(normal_pulls, 20);

  // A reply with neither content nor error.
  auto empty_reply = parse<fp::PushMessagesRequest>(at(41).request);
  ASSERT_EQ(empty_reply.messages_list_size(), 1);
  EXPECT_FALSE(empty_reply.messages_list(0).has_content());
  EXPECT_FALSE(empty_reply.messages_list(0).has_error());
  EXPECT_EQ(at(41).status_name, "UNKNOWN");

  // A reply failing validation is dropped: results {"None": 0}.
  auto bad_reply = parse<fp::PushMessagesRequest>(at(42).request);
  ASSERT_EQ(bad_reply.messages_list_size(), 1);
  EXPECT_EQ(bad_reply.messages_list(0).metadata().dst_node_id(), 7u);
  EXPECT_EQ(bad_reply.clientapp_runtime_list_size(), 1);
  auto dropped = parse_response<fp::PushMessagesResponse>(at(42));
  EXPECT_EQ(dropped.results_size(), 1);
  ASSERT_EQ(dropped.results().count("None"), 1u);
  EXPECT_EQ(dropped.results().at("None"), 0u);
  EXPECT_EQ(dropped.objects_to_push_size(), 11);
  auto bogus = parse<fp::PushObjectRequest>(at(43).request);
  EXPECT_EQ(bogus.object_content(), std::string("Bogus  3\0abc", 12));
  EXPECT_EQ(sha256_hex(bogus.object_content()), bogus.object_id());
  EXPECT_EQ(at(43).status_name, "FAILED_PRECONDITION");

  // The accepted train reply.
  auto train_reply = parse<fp::PushMessagesRequest>(at(44).request);
  const std::string train_id = train_reply.messages_list(0).metadata().message_id();
  auto accepted = parse_response<fp::PushMessagesResponse>(at(44));
  ASSERT_EQ(accepted.results().count(train_id), 1u);
  EXPECT_EQ(accepted.results().at(train_id), 0u);

  // PushObject: wrong hash and never preregistered give stored=false.
  EXPECT_FALSE(parse_response<fp::PushObjectResponse>(at(45)).stored());
  EXPECT_FALSE(parse_response<fp::PushObjectResponse>(at(46)).stored());
  for (int seq = 47; seq <= 57; ++seq) {
    EXPECT_TRUE(parse_response<fp::PushObjectResponse>(at(seq)).stored()) << "seq " << seq;
  }

  // The error reply: Error{code: 2} with code as sint64.
  auto error_reply = parse<fp::PushMessagesRequest>(at(73).request);
  ASSERT_EQ(error_reply.messages_list_size(), 1);
  const fp::Message& message = error_reply.messages_list(0);
  EXPECT_FALSE(message.has_content());
  ASSERT_TRUE(message.has_error());
  EXPECT_EQ(message.error().code(), 2);
  EXPECT_EQ(message.error().reason().rfind("<class 'RuntimeError'>:", 0), 0u);
  EXPECT_EQ(message.error().SerializeAsString().substr(0, 2), std::string("\x08\x04"));
  EXPECT_EQ(message.metadata().message_type(), "evaluate");
  auto error_accepted = parse_response<fp::PushMessagesResponse>(at(73));
  EXPECT_EQ(error_accepted.results().count(message.metadata().message_id()), 1u);

  // After the run and after going offline.
  EXPECT_EQ(at(80).status_details, "Run is finished.");
  EXPECT_EQ(parse<fp::DeactivateNodeRequest>(at(83).request).node_id(), kProbeNodeId);
  EXPECT_TRUE(parse_response<fp::SendNodeHeartbeatResponse>(at(85)).success());
  EXPECT_EQ(parse<fp::UnregisterNodeFleetRequest>(at(87).request).node_id(), kProbeNodeId);
  EXPECT_EQ(at(89).status_name, "UNAUTHENTICATED");
}

}  // namespace
}  // namespace pollen::testing
