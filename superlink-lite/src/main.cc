// pollen-superlink-lite: serve the Fleet API, wait for nodes, run FedAvg on
// a small built-in model (or arrays from a .npz file), report each round as
// it completes, exit.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pollen/core/node_config.h"
#include "pollen/core/npz.h"
#include "pollen/superlink_lite/fedavg.h"
#include "pollen/superlink_lite/superlink_lite.h"
#include "round_report.h"

namespace {

constexpr char kUsage[] =
    "usage: pollen-superlink-lite (--insecure | --ssl-certfile FILE --ssl-keyfile FILE)\n"
    "                             [--address HOST:PORT] [--rounds N] [--min-nodes N]\n"
    "                             [--wait-timeout SECONDS] [--round-timeout SECONDS]\n"
    "                             [--initial-arrays FILE.npz] [--save-arrays FILE.npz]\n"
    "                             [--train-config CONFIG] [--evaluate-config CONFIG]\n"
    "                             [--metrics-out FILE] [--poll-ms N]\n\n"
    "A conformance stand-in for Flower's SuperLink: serves the Fleet API (default\n"
    "127.0.0.1:9092), waits until --min-nodes nodes are online (default 2), runs\n"
    "--rounds rounds of FedAvg (default 1) and exits.\n\n"
    "  --initial-arrays FILE.npz  start from these arrays (np.savez) instead of a\n"
    "                             small built-in model\n"
    "  --save-arrays FILE.npz     write the final global arrays there\n"
    "  --train-config CONFIG      the \"config\" record sent with \"train\", in\n"
    "                             --node-config syntax: \"lr=0.05 local-epochs=1\"\n"
    "                             (default \"lr=0.01\")\n"
    "  --evaluate-config CONFIG   the same for \"evaluate\" (default empty)\n"
    "  --metrics-out FILE         rewrite FILE with one JSON line per round, added as\n"
    "                             each round completes\n"
    "  --poll-ms N                how often replies are polled for, in milliseconds\n"
    "                             (default 3000, as Flower's ServerApp)\n";

struct Flags {
  pollen::SuperLinkOptions options;
  bool insecure = false;
  int rounds = 1;
  int min_nodes = 2;
  int wait_timeout_s = 600;
  int round_timeout_s = 3600;
  int poll_ms = 3000;
  std::string initial_arrays;
  std::string save_arrays;
  std::string metrics_out;
  std::optional<pollen::ConfigRecord> train_config;
  pollen::ConfigRecord evaluate_config;
};

// Parses a --train-config/--evaluate-config value; false after printing why.
bool parse_config_flag(const std::string& flag, const std::string& value,
                       pollen::ConfigRecord* config) {
  pollen::Result<pollen::ConfigRecord> parsed = pollen::parse_node_config(value);
  if (!parsed.ok()) {
    std::cerr << "pollen-superlink-lite: " << flag << ": " << parsed.status().message() << "\n";
    return false;
  }
  *config = std::move(parsed).value();
  return true;
}

// Returns false (after printing why) on a bad command line.
bool parse_flags(int argc, char** argv, Flags* flags) {
  flags->options.address = "127.0.0.1:9092";
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--insecure") {
      flags->insecure = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::cerr << "pollen-superlink-lite: " << flag << " needs a value (or is unknown)\n";
      return false;
    }
    const std::string value = argv[++i];
    char* end = nullptr;
    const long number = std::strtol(value.c_str(), &end, 10);
    const bool is_number = *end == '\0' && number > 0 && number < 1'000'000'000;
    if (flag == "--address") {
      flags->options.address = value;
    } else if (flag == "--ssl-certfile") {
      flags->options.ssl_certfile = value;
    } else if (flag == "--ssl-keyfile") {
      flags->options.ssl_keyfile = value;
    } else if (is_number && flag == "--rounds") {
      flags->rounds = static_cast<int>(number);
    } else if (is_number && flag == "--min-nodes") {
      flags->min_nodes = static_cast<int>(number);
    } else if (is_number && flag == "--wait-timeout") {
      flags->wait_timeout_s = static_cast<int>(number);
    } else if (is_number && flag == "--poll-ms") {
      flags->poll_ms = static_cast<int>(number);
    } else if (is_number && flag == "--round-timeout") {
      flags->round_timeout_s = static_cast<int>(number);
    } else if (!value.empty() && flag == "--initial-arrays") {
      flags->initial_arrays = value;
    } else if (!value.empty() && flag == "--save-arrays") {
      flags->save_arrays = value;
    } else if (!value.empty() && flag == "--metrics-out") {
      flags->metrics_out = value;
    } else if (flag == "--train-config") {
      if (!parse_config_flag(flag, value, &flags->train_config.emplace())) return false;
    } else if (flag == "--evaluate-config") {
      if (!parse_config_flag(flag, value, &flags->evaluate_config)) return false;
    } else {
      std::cerr << "pollen-superlink-lite: bad flag or value: " << flag << " " << value << "\n";
      return false;
    }
  }
  // Like flower-superlink: plaintext only when asked for explicitly.
  const bool tls = !flags->options.ssl_certfile.empty() || !flags->options.ssl_keyfile.empty();
  if (flags->insecure == tls) {
    std::cerr << "pollen-superlink-lite: give either --insecure or --ssl-certfile/--ssl-keyfile\n";
    return false;
  }
  return true;
}

pollen::ArrayRecord builtin_model() {
  const std::vector<float> weights = {0.0f, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f};
  const std::vector<float> bias = {0.0f, 0.0f, 0.0f};
  pollen::ArrayRecord model;
  model.set("fc.weight", *pollen::Array::from_elements(pollen::DType::kFloat32, {3, 2},
                                                       weights.data(), weights.size() * 4));
  model.set("fc.bias",
            *pollen::Array::from_elements(pollen::DType::kFloat32, {3}, bias.data(), 12));
  return model;
}

pollen::Result<pollen::ArrayRecord> initial_arrays(const Flags& flags) {
  if (flags.initial_arrays.empty()) return builtin_model();
  POLLEN_ASSIGN_OR_RETURN(pollen::ArrayRecord arrays, pollen::read_npz(flags.initial_arrays));
  if (arrays.empty()) return pollen::invalid_argument(flags.initial_arrays + ": holds no arrays");
  return arrays;
}

// Runs FedAvg on the nodes online, reporting each round as it completes.
// Returns the exit code.
int run(pollen::SuperLinkLite& link, const Flags& flags, pollen::ArrayRecord arrays,
        std::ofstream* metrics) {
  const uint64_t run_id = link.create_run();
  pollen::FedAvgConfig config;
  config.num_rounds = flags.rounds;
  config.round_timeout = std::chrono::seconds(flags.round_timeout_s);
  config.poll_interval = std::chrono::milliseconds(flags.poll_ms);
  if (flags.train_config) {
    config.train_config = *flags.train_config;
  } else {
    config.train_config.set("lr", 0.01);
  }
  config.evaluate_config = flags.evaluate_config;
  const auto start = std::chrono::steady_clock::now();
  bool metrics_ok = true;
  config.on_round = [&](const pollen::FedAvgRound& round) {
    pollen::print_round(std::cout, round);
    std::cout.flush();
    if (metrics->is_open()) {
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      *metrics << pollen::round_json(round, elapsed.count()).dump() << "\n";
      metrics->flush();
      metrics_ok = metrics_ok && metrics->good();
    }
  };
  std::cout << "run " << run_id << ": FedAvg, " << flags.rounds << " round(s), "
            << link.online_nodes().size() << " node(s) online" << std::endl;
  auto result = pollen::run_fedavg(link, run_id, {}, std::move(arrays), config);
  link.finish_run(run_id).ignore();
  if (!result.ok()) {
    std::cerr << "pollen-superlink-lite: " << result.status() << "\n";
    return 1;
  }
  int rc = 0;
  if (!metrics_ok) {
    std::cerr << "pollen-superlink-lite: cannot write " << flags.metrics_out << "\n";
    rc = 1;
  }
  if (!flags.save_arrays.empty()) {
    pollen::Status saved = pollen::write_npz(flags.save_arrays, result->arrays);
    if (!saved.ok()) {
      std::cerr << "pollen-superlink-lite: " << saved << "\n";
      return 1;
    }
    std::cout << "saved " << result->arrays.size() << " arrays to " << flags.save_arrays
              << std::endl;
  }
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::cout << kUsage;
    return 0;
  }
  Flags flags;
  if (!parse_flags(argc, argv, &flags)) {
    std::cerr << kUsage;
    return 2;
  }
  // Files first: a bad path should fail before anyone waits for nodes.
  pollen::Result<pollen::ArrayRecord> arrays = initial_arrays(flags);
  if (!arrays.ok()) {
    std::cerr << "pollen-superlink-lite: " << arrays.status() << "\n";
    return 1;
  }
  std::ofstream metrics;
  if (!flags.metrics_out.empty()) {
    metrics.open(flags.metrics_out, std::ios::trunc);
    if (!metrics) {
      std::cerr << "pollen-superlink-lite: cannot write " << flags.metrics_out << "\n";
      return 1;
    }
  }
  // SIGINT/SIGTERM are taken by a watcher thread that shuts the server down,
  // which ends every wait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto link = pollen::SuperLinkLite::start(flags.options);
  if (!link.ok()) {
    std::cerr << "pollen-superlink-lite: " << link.status() << "\n";
    return 1;
  }
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    const timespec tick{0, 200'000'000};
    while (!done.load()) {
      if (sigtimedwait(&signals, nullptr, &tick) > 0) {
        std::cerr << "pollen-superlink-lite: stopping\n";
        (*link)->shutdown();
        return;
      }
    }
  });
  std::cout << "Fleet API on " << (*link)->address() << "; waiting for " << flags.min_nodes
            << " node(s)" << std::endl;

  int rc = 0;
  auto nodes = (*link)->wait_for_nodes(static_cast<size_t>(flags.min_nodes),
                                       std::chrono::seconds(flags.wait_timeout_s));
  if (!nodes.ok()) {
    std::cerr << "pollen-superlink-lite: " << nodes.status() << "\n";
    rc = 1;
  } else {
    rc = run(**link, flags, std::move(arrays).value(), &metrics);
  }
  done.store(true);
  watcher.join();
  (*link)->shutdown();
  return rc;
}
