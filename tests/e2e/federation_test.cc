// Pollen nodes in federations run by the conformance SuperLink: several
// nodes and rounds of FedAvg, the same calls as a Python SuperNode, TLS and
// pre-registered keys, a SuperLink restart, and a faulty network.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "pollen/runtime/node.h"
#include "pollen/superlink_lite/fedavg.h"
#include "pollen/superlink_lite/superlink_lite.h"
#include "pollen/transport/fleet.h"
#include "support/tcp_proxy.h"
#include "support/transcript.h"
#include "target_client.h"

namespace pollen {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// One Pollen node on its own thread, stopped and joined by the destructor.
class NodeThread {
 public:
  NodeThread(FleetOptions options, double target, int64_t examples) : client_(target, examples) {
    options.stop_requested = [this] { return stop_.stop_requested(); };
    thread_ = std::thread([this, options] {
      Result<std::unique_ptr<Connection>> connection = connect_fleet(options);
      if (!connection.ok()) {
        status_ = connection.status();
        return;
      }
      NodeOptions node;
      node.poll_interval = 0.05;
      node.linger = 0;
      status_ = run_node(**connection, client_, node, stop_, &stats_);
    });
  }
  ~NodeThread() { join(); }
  void join() {
    stop_.request_stop();
    if (thread_.joinable()) thread_.join();
  }
  const Status& status() const { return status_; }
  const NodeStats& stats() const { return stats_; }

 private:
  TargetClient client_;
  StopFlag stop_;
  Status status_;
  NodeStats stats_;
  std::thread thread_;
};

FleetOptions insecure_options(const std::string& address) {
  FleetOptions options;
  options.superlink = address;
  options.insecure = true;
  options.retry.max_delay = 0.5;  // keep reconnect tests quick
  return options;
}

ArrayRecord initial_arrays(size_t floats = 6) {
  std::vector<float> w(floats, 0.0f);
  const int64_t steps = 0;
  ArrayRecord arrays;
  arrays.set("w", *Array::from_elements(DType::kFloat32, {static_cast<int64_t>(floats)}, w.data(),
                                        w.size() * sizeof(float)));
  arrays.set("steps", *Array::from_elements(DType::kInt64, {}, &steps, sizeof(steps)));
  return arrays;
}

FedAvgConfig fast_fedavg(int rounds) {
  FedAvgConfig config;
  config.num_rounds = rounds;
  config.poll_interval = milliseconds(20);
  config.round_timeout = seconds(30);
  config.train_config.set("lr", 0.5);
  return config;
}

float first_float(const ArrayRecord& arrays) {
  NpyArray w = arrays.find("w")->to_npy().value();
  float x = 0;
  std::memcpy(&x, w.data.data(), sizeof(x));
  return x;
}

TEST(FederationTest, ThreeNodesThreeRoundsOfFedAvg) {
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok()) << link.status();
  const double targets[] = {1.0, 2.0, 4.0};
  const int64_t examples[] = {10, 20, 30};
  std::vector<std::unique_ptr<NodeThread>> nodes;
  for (int i = 0; i < 3; ++i) {
    nodes.push_back(std::make_unique<NodeThread>(insecure_options((*link)->address()), targets[i],
                                                 examples[i]));
  }
  auto online = (*link)->wait_for_nodes(3, seconds(30));
  ASSERT_TRUE(online.ok()) << online.status();
  const uint64_t run = (*link)->create_run();
  auto result = run_fedavg(**link, run, *online, initial_arrays(), fast_fedavg(3));
  ASSERT_TRUE(result.ok()) << result.status();
  for (auto& node : nodes) node->join();

  ASSERT_EQ(result->rounds.size(), 3u);
  for (const FedAvgRound& round : result->rounds) {
    EXPECT_EQ(round.train.replies, 3u);
    EXPECT_EQ(round.train.errors, 0u);
    EXPECT_EQ(round.evaluate.replies, 3u);
    EXPECT_NE(round.evaluate.metrics.find("eval_loss"), nullptr);
  }
  // g_r = g_{r-1}/2 + t/2 with t the example-weighted mean target (17/6).
  const double t = (10 * 1.0 + 20 * 2.0 + 30 * 4.0) / 60.0;
  EXPECT_NEAR(first_float(result->arrays), t * (1 - 1.0 / 8), 1e-5);
  // Stock FedAvg turned the int64 array into float64.
  EXPECT_EQ(result->arrays.find("steps")->dtype, "float64");
  for (auto& node : nodes) {
    EXPECT_TRUE(node->status().ok()) << node->status();
    EXPECT_EQ(node->stats().replies, 6);
    EXPECT_EQ(node->stats().error_replies, 0);
  }
  // Every node left cleanly: deactivated, then unregistered.
  int deactivated = 0, unregistered = 0;
  for (const CallRecord& call : (*link)->call_log()) {
    EXPECT_EQ(call.code, StatusCode::kOk) << call.method << ": " << call.details;
    deactivated += call.method == "DeactivateNode";
    unregistered += call.method == "UnregisterNode";
  }
  EXPECT_EQ(deactivated, 3);
  EXPECT_EQ(unregistered, 3);
}

// Drops heartbeats, the FAB calls and repeated calls, so timing and
// deduplication on the server do not matter, only the order of steps.
std::vector<std::string> steps_of(const std::vector<std::string>& methods) {
  std::vector<std::string> out;
  for (const std::string& m : methods) {
    if (m == "SendNodeHeartbeat" || m == "GetRun" || m == "GetFab") continue;
    if (!out.empty() && out.back() == m) continue;
    if (m == "DeactivateNode" && !out.empty() && out.back() == "PullMessages") out.pop_back();
    out.push_back(m);
  }
  return out;
}

// The recorded session: 2 Python SuperNodes, 2 rounds. The same federation
// with Pollen nodes makes the same calls in the same order.
TEST(FederationTest, SameCallsAsThePythonSuperNode) {
  std::vector<std::string> python;
  for (const auto& call : testing::load_transcript("fedavg_2rounds_2nodes.jsonl.gz")) {
    if (call.node == "A") python.push_back(testing::method_name(call));
  }
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok());
  std::vector<std::unique_ptr<NodeThread>> nodes;
  for (int i = 0; i < 2; ++i) {
    nodes.push_back(std::make_unique<NodeThread>(insecure_options((*link)->address()), i, 5));
  }
  auto online = (*link)->wait_for_nodes(2, seconds(30));
  ASSERT_TRUE(online.ok());
  auto result =
      run_fedavg(**link, (*link)->create_run(), *online, initial_arrays(), fast_fedavg(2));
  ASSERT_TRUE(result.ok()) << result.status();
  for (auto& node : nodes) node->join();

  std::vector<std::string> ours;
  std::vector<std::string> log_lines;
  for (const CallRecord& call : (*link)->call_log()) {
    if (call.node_id != (*online)[0]) continue;
    ours.push_back(call.method);
  }
  EXPECT_EQ(steps_of(ours), steps_of(python));
  for (const std::string& step : steps_of(ours)) std::cout << "  " << step << "\n";
}

// SIGTERM (as systemd sends it) stops the node after its current step; it
// deactivates and unregisters on the way out, and run_node returns OK.
TEST(FederationTest, SigtermStopsTheNodeCleanly) {
  StopFlag stop;
  SignalStop signals(&stop);  // first, so every thread started later blocks SIGTERM
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok());
  Status status = internal_error("not run");
  NodeStats stats;
  TargetClient client(1.0, 3);
  std::thread node([&] {
    FleetOptions options = insecure_options((*link)->address());
    options.stop_requested = [&stop] { return stop.stop_requested(); };
    auto connection = connect_fleet(options);
    if (!connection.ok()) {
      status = connection.status();
      return;
    }
    NodeOptions node_options;
    node_options.poll_interval = 0.05;
    status = run_node(**connection, client, node_options, stop, &stats);
  });
  auto online = (*link)->wait_for_nodes(1, seconds(30));
  ASSERT_TRUE(online.ok());
  ASSERT_TRUE(
      run_fedavg(**link, (*link)->create_run(), *online, initial_arrays(), fast_fedavg(1)).ok());
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  node.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(signals.signal_received(), SIGTERM);
  EXPECT_EQ(stats.replies, 2);
  std::vector<std::string> last;
  for (const CallRecord& call : (*link)->call_log()) {
    if (call.node_id == (*online)[0] && call.method != "SendNodeHeartbeat") {
      last.push_back(call.method);
    }
  }
  ASSERT_GE(last.size(), 2u);
  EXPECT_EQ(last[last.size() - 2], "DeactivateNode");
  EXPECT_EQ(last.back(), "UnregisterNode");
}

// --- TLS and pre-registered keys -----------------------------------------

// A CA and a server certificate for 127.0.0.1, made with the openssl command.
class TlsFiles {
 public:
  TlsFiles() {
    dir_ = std::filesystem::temp_directory_path() /
           ("pollen-tls-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::create_directories(dir_);
    const std::string d = dir_.string();
    const std::string cmd =
        "cd " + d +
        " && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=pollen-test-ca -keyout ca.key -out ca.pem && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-subj /CN=127.0.0.1 -keyout server.key -out server.csr && "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile san.ext -out server.pem && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
        "-subj /CN=other-ca -keyout other.key -out other.pem";
    ok_ = std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
  }
  ~TlsFiles() { std::filesystem::remove_all(dir_); }
  bool ok() const { return ok_; }
  std::string path(const char* name) const { return (dir_ / name).string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  bool ok_ = false;
};

std::string write_key_file(const TlsFiles& tls, const NodeKey& key) {
  const std::string path = tls.path("node.key");
  std::ofstream(path) << key.private_key_pem().value();
  return path;
}

TEST(FederationTest, TlsAndPreRegisteredKey) {
  TlsFiles tls;
  ASSERT_TRUE(tls.ok()) << "the openssl command could not make test certificates";
  SuperLinkOptions server;
  server.ssl_certfile = tls.path("server.pem");
  server.ssl_keyfile = tls.path("server.key");
  server.enable_supernode_auth = true;
  auto link = SuperLinkLite::start(server);
  ASSERT_TRUE(link.ok()) << link.status();

  NodeKey key = NodeKey::generate().value();
  ASSERT_TRUE((*link)->register_node_key(key.public_key_pem()).ok());
  FleetOptions options;
  options.superlink = (*link)->address();
  options.root_certificates = tls.path("ca.pem");
  options.auth_private_key = write_key_file(tls, key);
  NodeThread registered(options, 3.0, 8);
  auto online = (*link)->wait_for_nodes(1, seconds(30));
  ASSERT_TRUE(online.ok()) << online.status();
  auto result =
      run_fedavg(**link, (*link)->create_run(), *online, initial_arrays(), fast_fedavg(1));
  ASSERT_TRUE(result.ok()) << result.status();
  registered.join();
  EXPECT_TRUE(registered.status().ok()) << registered.status();
  EXPECT_EQ(registered.stats().replies, 2);
  for (const CallRecord& call : (*link)->call_log()) {
    EXPECT_NE(call.method, "RegisterNode");  // the key was registered beforehand
    EXPECT_NE(call.method, "UnregisterNode");
  }

  // A node whose key was never registered is told what to do.
  FleetOptions stranger = options;
  stranger.auth_private_key.clear();
  stranger.retry.max_retries = 0;
  auto connection = connect_fleet(stranger);
  ASSERT_TRUE(connection.ok());
  Status refused = (*connection)->connect();
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("flwr supernode register"), std::string::npos) << refused;
}

TEST(FederationTest, TlsWithTheWrongRootIsRefusedQuickly) {
  TlsFiles tls;
  ASSERT_TRUE(tls.ok());
  SuperLinkOptions server;
  server.ssl_certfile = tls.path("server.pem");
  server.ssl_keyfile = tls.path("server.key");
  auto link = SuperLinkLite::start(server);
  ASSERT_TRUE(link.ok()) << link.status();
  FleetOptions options;
  options.superlink = (*link)->address();
  options.root_certificates = tls.path("other.pem");
  auto connection = connect_fleet(options);
  ASSERT_TRUE(connection.ok());
  const auto start = std::chrono::steady_clock::now();
  Status status = (*connection)->connect();
  EXPECT_FALSE(status.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(20));
  EXPECT_EQ((*link)->call_log().size(), 0u);  // nothing got through

  options.root_certificates = tls.path("ca.pem");
  auto good = connect_fleet(options);
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE((*good)->connect().ok());
  EXPECT_TRUE((*good)->disconnect().ok());
}

// --- A SuperLink that restarts, a network that fails ----------------------

TEST(FederationTest, NodeRegistersAgainAfterSuperLinkRestart) {
  auto first = SuperLinkLite::start();
  ASSERT_TRUE(first.ok());
  const std::string address = (*first)->address();
  NodeThread node(insecure_options(address), 2.0, 4);
  auto online = (*first)->wait_for_nodes(1, seconds(30));
  ASSERT_TRUE(online.ok());
  ASSERT_TRUE(
      run_fedavg(**first, (*first)->create_run(), *online, initial_arrays(), fast_fedavg(1)).ok());
  (*first)->shutdown();
  first->reset();

  // Same address, empty state: the node's old id means nothing here.
  SuperLinkOptions same;
  same.address = address;
  auto second = SuperLinkLite::start(same);
  ASSERT_TRUE(second.ok()) << second.status();
  auto again = (*second)->wait_for_nodes(1, seconds(60));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE((*again)[0], (*online)[0]);
  auto result =
      run_fedavg(**second, (*second)->create_run(), *again, initial_arrays(), fast_fedavg(1));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rounds[0].train.replies, 1u);
  node.join();
  EXPECT_TRUE(node.status().ok()) << node.status();
  EXPECT_GE(node.stats().reconnects, 1);
  EXPECT_EQ(node.stats().replies, 4);
}

// With the default retries (waits of up to 20 s, as Flower's) and a SuperLink
// away for 6 s, the node's retries have backed off to waits of several
// seconds; yet it registers again about a second after the restart (5 s
// allowed), since a wait ends when the connection is back, and only once.
TEST(FederationTest, NodeIsBackSoonAfterALongerSuperLinkOutage) {
  auto first = SuperLinkLite::start();
  ASSERT_TRUE(first.ok());
  const std::string address = (*first)->address();
  FleetOptions options = insecure_options(address);
  options.retry = RetryOptions{};
  NodeThread node(options, 2.0, 4);
  auto online = (*first)->wait_for_nodes(1, seconds(30));
  ASSERT_TRUE(online.ok());
  (*first)->shutdown();
  first->reset();
  std::this_thread::sleep_for(seconds(6));

  SuperLinkOptions same;
  same.address = address;
  auto second = SuperLinkLite::start(same);
  ASSERT_TRUE(second.ok()) << second.status();
  const auto restarted = std::chrono::steady_clock::now();
  auto again = (*second)->wait_for_nodes(1, seconds(20));
  ASSERT_TRUE(again.ok()) << again.status();
  const double back =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted).count();
  EXPECT_LT(back, 5.0) << "the node registered again " << back << " s after the restart";
  std::this_thread::sleep_for(milliseconds(500));  // room for a second registration
  EXPECT_EQ((*second)->online_nodes(), *again);
  node.join();
  EXPECT_TRUE(node.status().ok()) << node.status();
  EXPECT_EQ(node.stats().reconnects, 1);
}

TEST(FederationTest, RoundsFinishThroughDelaysAndCutConnections) {
  auto link = SuperLinkLite::start();
  ASSERT_TRUE(link.ok());
  auto proxy = testing::TcpProxy::start((*link)->port());
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  (*proxy)->set_delay(milliseconds(1));
  const std::string via_proxy = "127.0.0.1:" + std::to_string((*proxy)->port());
  NodeThread a(insecure_options(via_proxy), 1.0, 10);
  NodeThread b(insecure_options(via_proxy), 3.0, 10);
  auto online = (*link)->wait_for_nodes(2, seconds(30));
  ASSERT_TRUE(online.ok());

  // While the rounds run (7 MB arrays, so chunks are in flight), every 2 s:
  // cut every connection; cut each one again after 1 MB more from the
  // server; refuse new connections for a moment; then leave the network
  // alone long enough for a chunk to get through.
  std::atomic<bool> done{false};
  std::thread chaos([&] {
    auto pause = [&](int ms) {
      for (int i = 0; i < ms / 10 && !done; ++i) std::this_thread::sleep_for(milliseconds(10));
    };
    while (!done) {
      pause(200);
      (*proxy)->cut_all();
      pause(200);
      (*proxy)->set_cut_after(1'000'000);
      pause(400);
      (*proxy)->set_cut_after(0);
      (*proxy)->set_refuse(true);
      pause(200);
      (*proxy)->set_refuse(false);
      pause(1000);
    }
  });
  FedAvgConfig config = fast_fedavg(2);
  // What a lost instruction costs; long enough that a reply which reached
  // a node gets through the chaos on a slow machine (sanitizers, -j2).
  config.round_timeout = seconds(40);
  auto result = run_fedavg(**link, (*link)->create_run(), *online, initial_arrays(7 << 18), config);
  done = true;
  chaos.join();
  (*proxy)->set_cut_after(0);
  (*proxy)->set_refuse(false);
  a.join();
  b.join();
  ASSERT_TRUE(result.ok()) << result.status();
  // Every instruction that reached a node was answered, and every answer
  // reached the ServerApp. (An instruction can be lost before it reaches a
  // node: the SuperLink marks it delivered when it answers PullMessages, so
  // a PullMessages answer cut in flight loses it; the Python SuperNode has
  // the same exposure. The ServerApp then counts it as missing.)
  size_t aggregated = 0, missing = 0;
  for (const FedAvgRound& round : result->rounds) {
    EXPECT_EQ(round.train.errors + round.evaluate.errors, 0u);
    aggregated += round.train.replies + round.evaluate.replies;
    missing += round.train.missing + round.evaluate.missing;
  }
  // The nodes are stopped as soon as the ServerApp has every reply, so a
  // node may still be retrying a push whose answer the proxy cut after the
  // SuperLink had taken the reply: at most one reply per node uncounted.
  for (const NodeThread* node : {&a, &b}) {
    EXPECT_LE(node->stats().replies, node->stats().instructions);
    EXPECT_GE(node->stats().replies, node->stats().instructions - 1);
  }
  EXPECT_EQ(aggregated, static_cast<size_t>(a.stats().instructions + b.stats().instructions));
  EXPECT_EQ(aggregated + missing, 8u);
  EXPECT_GT(aggregated, 0u);
  if (missing == 0) {
    EXPECT_NEAR(first_float(result->arrays), 2.0 * (1 - 0.25), 1e-5);
  }
  std::cout << "instructions lost before reaching a node: " << missing << "\n";
  EXPECT_GT((*proxy)->cut(), 0);
  std::cout << "proxy: " << (*proxy)->accepted() << " connections, " << (*proxy)->cut()
            << " cut mid-transfer\n";
}

}  // namespace
}  // namespace pollen
