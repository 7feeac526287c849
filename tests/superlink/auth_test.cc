// Request authentication and the node life cycle: every answer of the
// real SuperLink in fixtures/errors_probe (seq 0-19, 84-89), reproduced.
#include <gtest/gtest.h>

#include <set>

#include "fleet_test_client.h"
#include "test_util.h"

namespace pollen::testing {
namespace {

using grpc::StatusCode;
using std::chrono::seconds;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    link_ = start_link();
    ASSERT_NE(link_, nullptr);
    client_ = std::make_unique<FleetTestClient>(link_->address());
  }

  std::unique_ptr<SuperLinkLite> link_;
  std::unique_ptr<FleetTestClient> client_;
};

TEST_F(AuthTest, MissingMetadata) {
  EXPECT_TRUE(has_status(client_->register_node({Signing::kNone}), StatusCode::UNAUTHENTICATED,
                         "Missing authentication metadata"));
}

TEST_F(AuthTest, InvalidSignature) {
  EXPECT_TRUE(has_status(client_->register_node({Signing::kWrongData}), StatusCode::UNAUTHENTICATED,
                         "Invalid signature"));
  EXPECT_TRUE(has_status(client_->register_node({Signing::kNotDer}), StatusCode::UNAUTHENTICATED,
                         "Invalid signature"));
  // Signed by another key than the one presented.
  Result<NodeKey> other = NodeKey::generate();
  ASSERT_TRUE(other.ok());
  fp::RegisterNodeFleetRequest request;
  request.set_public_key(client_->key().public_key_pem());
  fp::RegisterNodeFleetResponse response;
  grpc::ClientContext context;
  const std::string timestamp = format_flwr_timestamp(std::chrono::system_clock::now());
  context.AddMetadata(kPublicKeyMetadata, client_->key().public_key_pem());
  context.AddMetadata(kTimestampMetadata, timestamp);
  context.AddMetadata(kSignatureMetadata, other->sign(timestamp).value());
  auto stub =
      fp::Fleet::NewStub(grpc::CreateChannel(link_->address(), grpc::InsecureChannelCredentials()));
  EXPECT_TRUE(has_status(stub->RegisterNode(&context, request, &response),
                         StatusCode::UNAUTHENTICATED, "Invalid signature"));
}

TEST_F(AuthTest, TimestampWindow) {
  Signing future{Signing::kValid, seconds(10)};
  Signing old{Signing::kValid, seconds(-400)};
  EXPECT_TRUE(
      has_status(client_->register_node(future), StatusCode::UNAUTHENTICATED, "Invalid timestamp"));
  EXPECT_TRUE(
      has_status(client_->register_node(old), StatusCode::UNAUTHENTICATED, "Invalid timestamp"));
  // Up to 5 s ahead and ~305 s behind are accepted; so is "Z" (Python 3.11).
  EXPECT_TRUE(client_->register_node({Signing::kValid, seconds(3)}).ok());
  FleetTestClient late(link_->address());
  EXPECT_TRUE(late.register_node({Signing::kValid, seconds(-290)}).ok());
  FleetTestClient zulu(link_->address());
  EXPECT_TRUE(zulu.register_node({Signing::kValid, seconds(0), /*zulu=*/true}).ok());
}

TEST_F(AuthTest, PublicKeyAlreadyInUse) {
  ASSERT_TRUE(client_->register_node().ok());
  EXPECT_TRUE(has_status(client_->register_node(), StatusCode::FAILED_PRECONDITION,
                         "Public key already in use"));
}

TEST_F(AuthTest, ActivationAndHeartbeatBounds) {
  FleetTestClient unknown(link_->address());
  EXPECT_TRUE(has_status(unknown.activate(30), StatusCode::FAILED_PRECONDITION,
                         "No SuperNode found with the given public key."));
  ASSERT_TRUE(client_->register_node().ok());
  EXPECT_TRUE(
      has_status(client_->activate(5), StatusCode::INVALID_ARGUMENT, "Invalid heartbeat interval"));
  EXPECT_TRUE(has_status(client_->activate(1800.5), StatusCode::INVALID_ARGUMENT,
                         "Invalid heartbeat interval"));
  ASSERT_TRUE(client_->activate(30).ok());
  const uint64_t id = client_->node_id();
  EXPECT_NE(id, 0u);
  EXPECT_NE(id, 1u);
  EXPECT_EQ(link_->online_nodes(), std::vector<uint64_t>{id});
  EXPECT_TRUE(
      has_status(client_->activate(30), StatusCode::FAILED_PRECONDITION,
                 "SuperNode with node ID " + std::to_string(id) + " could not be activated."));
  EXPECT_TRUE(has_status(client_->heartbeat(5000), StatusCode::INVALID_ARGUMENT,
                         "Invalid heartbeat interval"));
  EXPECT_TRUE(has_status(client_->heartbeat(9.99), StatusCode::INVALID_ARGUMENT,
                         "Invalid heartbeat interval"));
  bool success = false;
  ASSERT_TRUE(client_->heartbeat(10, &success).ok());
  EXPECT_TRUE(success);
  ASSERT_TRUE(client_->heartbeat(1800, &success).ok());
  EXPECT_TRUE(success);
}

TEST_F(AuthTest, InvalidNodeId) {
  ASSERT_TRUE(client_->register_node().ok());
  ASSERT_TRUE(client_->activate(30).ok());
  const uint64_t id = client_->node_id();
  client_->set_node_id(12345);
  EXPECT_TRUE(has_status(client_->heartbeat(), StatusCode::UNAUTHENTICATED, "Invalid node ID"));
  client_->set_node_id(id);
  // The real node id, signed with a key that was never registered.
  FleetTestClient stranger(link_->address());
  stranger.set_node_id(id);
  EXPECT_TRUE(has_status(stranger.heartbeat(), StatusCode::UNAUTHENTICATED, "Invalid node ID"));
  fp::PullMessagesResponse pulled;
  EXPECT_TRUE(
      has_status(stranger.pull_messages(&pulled), StatusCode::UNAUTHENTICATED, "Invalid node ID"));
  EXPECT_TRUE(has_status(stranger.deactivate(), StatusCode::UNAUTHENTICATED, "Invalid node ID"));
}

TEST_F(AuthTest, DeactivateReactivateUnregister) {
  ASSERT_TRUE(client_->register_node().ok());
  ASSERT_TRUE(client_->activate(30).ok());
  const std::string id = std::to_string(client_->node_id());
  ASSERT_TRUE(client_->deactivate().ok());
  EXPECT_TRUE(link_->online_nodes().empty());
  EXPECT_TRUE(has_status(client_->deactivate(), StatusCode::FAILED_PRECONDITION,
                         "SuperNode with node ID " + id + " could not be deactivated."));
  // A heartbeat brings a deactivated node back online.
  bool success = false;
  ASSERT_TRUE(client_->heartbeat(30, &success).ok());
  EXPECT_TRUE(success);
  EXPECT_EQ(link_->online_nodes().size(), 1u);
  ASSERT_TRUE(client_->deactivate().ok());
  ASSERT_TRUE(client_->activate(30).ok());  // OFFLINE nodes may be activated again
  ASSERT_TRUE(client_->deactivate().ok());
  ASSERT_TRUE(client_->unregister().ok());
  EXPECT_TRUE(has_status(client_->unregister(), StatusCode::UNAUTHENTICATED, "Invalid node ID"));
  EXPECT_TRUE(has_status(client_->heartbeat(), StatusCode::UNAUTHENTICATED, "Invalid node ID"));
  // Unregistration is permanent: the key is burnt.
  EXPECT_TRUE(has_status(client_->register_node(), StatusCode::FAILED_PRECONDITION,
                         "Public key already in use"));
  EXPECT_TRUE(has_status(client_->activate(30), StatusCode::FAILED_PRECONDITION,
                         "No SuperNode found with the given public key."));
}

TEST_F(AuthTest, UnknownMethodsAndUndecodableRequests) {
  EXPECT_TRUE(has_status(client_->raw_call("/flwr.proto.Fleet/NoSuchMethod", ""),
                         StatusCode::UNKNOWN, "Error in service handler!"));
  EXPECT_TRUE(has_status(client_->raw_call("/flwr.proto.Fleet/NoSuchMethod", "", {Signing::kNone}),
                         StatusCode::UNAUTHENTICATED, "Missing authentication metadata"));
  EXPECT_TRUE(has_status(client_->raw_call("/flwr.proto.NoSuchService/Foo", ""),
                         StatusCode::UNIMPLEMENTED, "Method not found!"));
  EXPECT_TRUE(has_status(client_->raw_call("/flwr.proto.Fleet/PullMessages", "\xff\xff\xff"),
                         StatusCode::INTERNAL, "Exception deserializing request!"));
}

TEST_F(AuthTest, UnknownRunAndFab) {
  ASSERT_TRUE(client_->register_node().ok());
  ASSERT_TRUE(client_->activate(30).ok());
  fp::GetRunRequest get_run;
  get_run.mutable_node()->set_node_id(client_->node_id());
  get_run.set_run_id(12345);
  fp::GetRunResponse run;
  EXPECT_TRUE(has_status(client_->call(&fp::Fleet::Stub::GetRun, get_run, &run),
                         StatusCode::PERMISSION_DENIED, "Run ID not found: 12345"));
  fp::PullObjectResponse object;
  EXPECT_TRUE(has_status(client_->pull_object(12345, std::string(64, '0'), &object),
                         StatusCode::UNKNOWN, "Exception calling application: 12345"));

  const uint64_t run_id = link_->create_run();
  get_run.set_run_id(run_id);
  ASSERT_TRUE(client_->call(&fp::Fleet::Stub::GetRun, get_run, &run).ok());
  EXPECT_EQ(run.run().run_id(), run_id);
  EXPECT_EQ(run.run().status().status(), "running");
  EXPECT_EQ(run.run().fab_hash(), "");
  EXPECT_EQ(run.run().run_type(), "serverapp");

  fp::GetFabRequest get_fab;
  get_fab.mutable_node()->set_node_id(client_->node_id());
  get_fab.set_run_id(run_id);
  get_fab.set_hash_str(std::string(64, '0'));
  fp::GetFabResponse fab;
  EXPECT_TRUE(has_status(client_->call(&fp::Fleet::Stub::GetFab, get_fab, &fab),
                         StatusCode::PERMISSION_DENIED,
                         "Found no FAB with hash: " + std::string(64, '0')));
}

TEST_F(AuthTest, NodeIdsUseTheFullRange) {
  std::set<uint64_t> ids;
  bool high = false;
  for (int i = 0; i < 40; ++i) {
    FleetTestClient node(link_->address());
    ASSERT_TRUE(node.register_node().ok());
    ASSERT_TRUE(node.activate(30).ok());
    ids.insert(node.node_id());
    high = high || node.node_id() >= (uint64_t{1} << 63);
  }
  EXPECT_EQ(ids.size(), 40u);
  EXPECT_EQ(ids.count(0), 0u);
  EXPECT_EQ(ids.count(1), 0u);
  EXPECT_TRUE(high);  // fails with probability 2^-40
}

TEST_F(AuthTest, CallLogRecordsEveryCall) {
  ASSERT_TRUE(client_->register_node({Signing::kNone}).error_code() == StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(client_->register_node().ok());
  ASSERT_TRUE(client_->activate(30).ok());
  ASSERT_FALSE(client_->raw_call("/flwr.proto.NoSuchService/Foo", "").ok());
  const std::vector<CallRecord> log = link_->call_log();
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log[0].method, "RegisterNode");
  EXPECT_EQ(log[0].code, pollen::StatusCode::kUnauthenticated);
  EXPECT_EQ(log[0].details, "Missing authentication metadata");
  EXPECT_EQ(log[1].method, "RegisterNode");
  EXPECT_EQ(log[1].code, pollen::StatusCode::kOk);
  EXPECT_EQ(log[1].node_id, client_->node_id());
  EXPECT_EQ(log[2].method, "ActivateNode");
  EXPECT_EQ(log[2].node_id, client_->node_id());
  EXPECT_EQ(log[3].method, "/flwr.proto.NoSuchService/Foo");
  EXPECT_EQ(log[3].code, pollen::StatusCode::kUnimplemented);
  link_->clear_call_log();
  EXPECT_TRUE(link_->call_log().empty());
}

}  // namespace
}  // namespace pollen::testing
