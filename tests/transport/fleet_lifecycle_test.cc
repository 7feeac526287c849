// FleetConnection's node life cycle and retries, against the fake Fleet
// service; connect_fleet() against real local sockets.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <filesystem>
#include <fstream>

#include <atomic>
#include <cmath>
#include <numeric>
#include <thread>

#include "fleet_fixture.h"

namespace pollen::testing {
namespace {

TEST_F(FleetConnectionTest, ConnectRegistersThenActivates) {
  auto c = make(options_);
  EXPECT_EQ(c->node_id(), 0u);
  ASSERT_TRUE(c->connect().ok());
  EXPECT_NE(c->node_id(), 0u);
  EXPECT_EQ(calls(), (std::vector<std::string>{"RegisterNode", "ActivateNode"}));
  EXPECT_EQ(c->heartbeat_interval(), 30.0);
}

TEST_F(FleetConnectionTest, EveryCallHasTheDeadlineOfItsKind) {
  options_.call_timeout = 30;
  options_.object_call_timeout = 120;
  options_.heartbeat_timeout = 5;
  auto c = connected();
  serve(make_instruction(c->node_id()));
  ASSERT_TRUE(c->heartbeat().ok());
  ASSERT_TRUE(c->receive().ok());
  const auto methods = calls();
  const auto& deadlines = state_->deadlines;
  for (size_t i = 0; i < methods.size(); ++i) {
    const size_t at = deadlines.size() - methods.size() + i;
    const double expected = methods[i] == "SendNodeHeartbeat" ? 5
                            : methods[i] == "PullObject"      ? 120
                                                              : 30;
    // What is left of the deadline when the server sees the call: the
    // kind's timeout less the time in transit (seconds on a loaded machine).
    EXPECT_LE(deadlines[at], expected + 0.5) << methods[i];
    EXPECT_GE(deadlines[at], expected - 4.0) << methods[i];
  }
}

TEST_F(FleetConnectionTest, SuperNodeAuthModeExplainsHowToRegister) {
  state_->supernode_auth = true;
  Status status = make(options_)->connect();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("--enable-supernode-auth"), std::string::npos) << status;
  EXPECT_NE(status.message().find("flwr supernode register"), std::string::npos) << status;
  EXPECT_NE(status.message().find("--auth-supernode-private-key"), std::string::npos) << status;
}

TEST_F(FleetConnectionTest, PreRegisteredKeySkipsRegistrationAndUnregistration) {
  NodeKey key = NodeKey::generate().value();
  const std::string path =
      (std::filesystem::temp_directory_path() / ("pollen-node-key-" + std::to_string(getpid())))
          .string();
  std::ofstream(path) << key.private_key_pem().value();
  state_->supernode_auth = true;
  state_->registered.insert(key.public_key_pem());
  state_->node_of_key[key.public_key_pem()] = 555;

  options_.auth_private_key = path;
  auto c = make(options_);
  Status status = c->connect();
  std::filesystem::remove(path);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(c->node_id(), 555u);
  ASSERT_TRUE(c->disconnect().ok());
  EXPECT_EQ(calls(), (std::vector<std::string>{"ActivateNode", "DeactivateNode"}));
}

TEST_F(FleetConnectionTest, RefusedPreRegisteredKeySaysWhichOfFlowersTwoRefusals) {
  NodeKey key = NodeKey::generate().value();
  const std::string path =
      (std::filesystem::temp_directory_path() / ("pollen-refused-key-" + std::to_string(getpid())))
          .string();
  std::ofstream(path) << key.private_key_pem().value();
  state_->supernode_auth = true;
  options_.auth_private_key = path;
  auto c = make(options_);
  // Flower 1.28's two answers, then one worded otherwise.
  fail_next("ActivateNode", 1, grpc::StatusCode::FAILED_PRECONDITION,
            "No SuperNode found with the given public key.");
  Status never = c->connect();
  fail_next("ActivateNode", 1, grpc::StatusCode::FAILED_PRECONDITION,
            "SuperNode with node ID 7 could not be activated.");
  Status online = c->connect();
  fail_next("ActivateNode", 1, grpc::StatusCode::FAILED_PRECONDITION, "refused");
  Status other = c->connect();
  std::filesystem::remove(path);

  EXPECT_EQ(never.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(never.message().find("is not registered with this SuperLink"), std::string::npos)
      << never;
  EXPECT_NE(never.message().find("flwr supernode register " + path + ".pub"), std::string::npos)
      << never;
  EXPECT_EQ(never.message().find("online"), std::string::npos) << never;
  EXPECT_EQ(online.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(online.message().find("is online already"), std::string::npos) << online;
  EXPECT_EQ(online.message().find("not registered"), std::string::npos) << online;
  EXPECT_NE(other.message().find("Either the key in '" + path + "' is not registered"),
            std::string::npos)
      << other;
  EXPECT_NE(other.message().find("still online"), std::string::npos) << other;
  EXPECT_EQ(count("RegisterNode"), 0u);  // a registered key never self-registers
}

TEST_F(FleetConnectionTest, HeartbeatAndItsFailures) {
  auto c = connected();
  EXPECT_TRUE(c->heartbeat().ok());
  state_->heartbeat_success = false;
  EXPECT_EQ(c->heartbeat().code(), StatusCode::kUnauthenticated);
}

TEST_F(FleetConnectionTest, ReconnectsAsANewNodeAfterTheSuperLinkForgotIt) {
  auto c = connected();
  const uint64_t first = c->node_id();
  state_->forget_nodes();  // a SuperLink restarted with in-memory state
  Status status = c->heartbeat();
  EXPECT_EQ(status.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("no longer knows this node"), std::string::npos) << status;
  EXPECT_EQ(c->receive().status().code(), StatusCode::kUnauthenticated);

  ASSERT_TRUE(c->connect().ok());
  EXPECT_NE(c->node_id(), first);
  EXPECT_TRUE(c->heartbeat().ok());
  EXPECT_EQ(count("RegisterNode"), 1u);
  EXPECT_EQ(state_->registered.size(), 1u);
}

TEST_F(FleetConnectionTest, DisconnectDeactivatesAndUnregistersWithoutRetrying) {
  auto c = connected();
  fail_next("DeactivateNode", 1, grpc::StatusCode::UNAVAILABLE, "connection refused");
  Status status = c->disconnect();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(calls(), (std::vector<std::string>{"DeactivateNode", "UnregisterNode"}));
  EXPECT_TRUE(sleeps_.empty());
  EXPECT_TRUE(state_->registered.empty());  // unregistered all the same
  EXPECT_EQ(c->node_id(), 0u);
  EXPECT_TRUE(c->disconnect().ok());  // nothing left to do
}

TEST_F(FleetConnectionTest, UnavailableIsRetriedWithBackoff) {
  auto c = connected();
  fail_next("PullMessages", 3, grpc::StatusCode::UNAVAILABLE, "connection refused");
  fail_next("PullMessages", 1, grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  Result<std::optional<Instruction>> r = c->receive();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(count("PullMessages"), 5u);
  ASSERT_EQ(sleeps_.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_LE(sleeps_[i], std::ldexp(1.0, static_cast<int>(i)));
}

TEST_F(FleetConnectionTest, RetryLimitsAreHonoured) {
  options_.retry.max_retries = 2;
  auto c = connected();
  fail_next("PullMessages", 10, grpc::StatusCode::UNAVAILABLE, "connection refused");
  Result<std::optional<Instruction>> r = c->receive();
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message().rfind("PullMessages: UNAVAILABLE: connection refused", 0), 0u)
      << r.status();
  EXPECT_EQ(count("PullMessages"), 3u);
}

TEST_F(FleetConnectionTest, TlsHandshakeFailureFailsFast) {
  fail_next("RegisterNode", 5, grpc::StatusCode::UNAVAILABLE,
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9092: Ssl "
            "handshake failed: SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:"
            "CERTIFICATE_VERIFY_FAILED");
  Status status = make(options_)->connect();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("TLS handshake"), std::string::npos) << status;
  EXPECT_EQ(count("RegisterNode"), 1u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(FleetConnectionTest, ClockErrorIsExplained) {
  fail_next("RegisterNode", 1, grpc::StatusCode::UNAUTHENTICATED, "Invalid timestamp");
  Status status = make(options_)->connect();
  EXPECT_EQ(status.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("clock"), std::string::npos) << status;
}

TEST_F(FleetConnectionTest, HeartbeatRetriesForAtMostOneInterval) {
  options_.heartbeat_interval = 10;
  auto c = connected();
  fail_next("SendNodeHeartbeat", 1000, grpc::StatusCode::UNAVAILABLE, "connection refused");
  EXPECT_EQ(c->heartbeat().code(), StatusCode::kUnavailable);
  EXPECT_LE(std::accumulate(sleeps_.begin(), sleeps_.end(), 0.0), 10.0 + 0.5);
  EXPECT_GT(count("SendNodeHeartbeat"), 1u);
}

TEST_F(FleetConnectionTest, AStopRequestEndsUnlimitedRetries) {
  std::atomic<bool> stop{false};
  options_.stop_requested = [&] { return stop.load(); };
  auto c = connected();
  fail_next("PullMessages", 1000, grpc::StatusCode::UNAVAILABLE, "connection refused");
  std::thread stopper([&] {
    while (count("PullMessages") < 5) std::this_thread::yield();
    stop = true;
  });
  Result<std::optional<Instruction>> r = c->receive();
  stopper.join();
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status();
  EXPECT_LT(count("PullMessages"), 1000u);
}

TEST_F(FleetConnectionTest, PermissionDeniedIsNotRetried) {
  auto c = connected();
  serve(make_instruction(c->node_id()));
  fail_next("PullObject", 1, grpc::StatusCode::PERMISSION_DENIED, "Run is finished.");
  Result<std::optional<Instruction>> r = c->receive();
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(count("PullObject"), 1u);
  EXPECT_EQ(count("ConfirmMessageReceived"), 0u);
}

TEST(ConnectFleetTest, ContradictoryOptionsAreRefused) {
  FleetOptions options;
  options.insecure = true;
  options.root_certificates = "/etc/ssl/certs/ca-certificates.crt";
  EXPECT_EQ(connect_fleet(options).status().code(), StatusCode::kInvalidArgument);
  options.root_certificates.clear();
  options.auth_private_key = "node.key";
  Result<std::unique_ptr<Connection>> c = connect_fleet(options);
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("TLS"), std::string::npos) << c.status();
  options.insecure = false;
  options.auth_private_key.clear();
  options.root_certificates = "/nonexistent/roots.pem";
  EXPECT_EQ(connect_fleet(options).status().code(), StatusCode::kNotFound);
}

TEST(ConnectFleetTest, MakesAConnectionWithoutContactingTheServer) {
  FleetOptions options;
  options.insecure = true;
  options.superlink = "127.0.0.1:1";  // nothing listens there
  Result<std::unique_ptr<Connection>> c = connect_fleet(options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->node_id(), 0u);
  EXPECT_EQ((*c)->disconnect().code(), StatusCode::kOk);  // never connected: nothing to do
}

TEST(ConnectFleetTest, UnreachableSuperLinkIsUnavailableOnceRetriesRunOut) {
  FleetOptions options;
  options.insecure = true;
  options.superlink = "127.0.0.1:1";
  options.retry.max_retries = 2;
  options.retry.base_delay = 0.01;
  Result<std::unique_ptr<Connection>> c = connect_fleet(options);
  ASSERT_TRUE(c.ok()) << c.status();
  Status status = (*c)->connect();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  EXPECT_EQ(status.message().rfind("RegisterNode: UNAVAILABLE: ", 0), 0u) << status;
  EXPECT_NE(status.message().find("gave up after 3 tries"), std::string::npos) << status;
}

// A SuperLink that comes back while a call waits to retry: the call tries
// again as soon as the channel is up, not after the rest of its backoff
// (here up to 30 s).
TEST(ConnectFleetTest, ACallWaitingToRetryTriesAgainOnceTheSuperLinkIsBack) {
  fp::Fleet::Service service;  // every method UNIMPLEMENTED: the answer says it got there
  int port = 0;
  {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    std::unique_ptr<grpc::Server> away = builder.BuildAndStart();
    ASSERT_TRUE(away && port > 0);
    away->Shutdown();  // nothing listens on `port` now
  }
  std::atomic<bool> stop{false};
  FleetOptions options;
  options.insecure = true;
  options.superlink = "127.0.0.1:" + std::to_string(port);
  options.retry.base_delay = options.retry.max_delay = 30;
  options.stop_requested = [&stop] { return stop.load(); };
  Result<std::unique_ptr<Connection>> c = connect_fleet(options);
  ASSERT_TRUE(c.ok()) << c.status();

  using Clock = std::chrono::steady_clock;
  std::atomic<bool> done{false};
  Status status;
  Clock::time_point answered;
  std::thread call([&] {
    status = (*c)->connect();  // refused, then a wait of up to 30 s
    answered = Clock::now();
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> back = builder.BuildAndStart();
  ASSERT_TRUE(back);
  const Clock::time_point up = Clock::now();
  for (int i = 0; i < 200 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;  // ends the wait should it still go on
  call.join();
  back->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented) << status;
  EXPECT_LT(std::chrono::duration<double>(answered - up).count(), 5.0);
}

// A real gRPC client speaking TLS to a plaintext server: the handshake fails
// and is not retried.
TEST(ConnectFleetTest, TlsToAPlaintextServerFailsFast) {
  fp::Fleet::Service service;  // every method UNIMPLEMENTED; never reached
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_TRUE(server && port > 0);

  FleetOptions options;
  options.superlink = "127.0.0.1:" + std::to_string(port);
  options.retry.max_retries = 5;  // bounds the test should the failure be retried
  options.retry.base_delay = 0.01;
  Result<std::unique_ptr<Connection>> c = connect_fleet(options);
  ASSERT_TRUE(c.ok()) << c.status();
  Status status = (*c)->connect();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status;
  EXPECT_NE(status.message().find("TLS handshake"), std::string::npos) << status;
  EXPECT_EQ(status.message().find("gave up"), std::string::npos) << status;
}

}  // namespace
}  // namespace pollen::testing
