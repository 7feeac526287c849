// pollen-superlink-lite: serve the Fleet API, wait for nodes, run FedAvg on
// a small built-in model, print what each round received, exit.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pollen/superlink_lite/fedavg.h"
#include "pollen/superlink_lite/superlink_lite.h"

namespace {

constexpr char kUsage[] =
    "usage: pollen-superlink-lite (--insecure | --ssl-certfile FILE --ssl-keyfile FILE)\n"
    "                             [--address HOST:PORT] [--rounds N] [--min-nodes N]\n"
    "                             [--wait-timeout SECONDS] [--round-timeout SECONDS]\n\n"
    "A conformance stand-in for Flower's SuperLink: serves the Fleet API (default\n"
    "127.0.0.1:9092), waits until --min-nodes nodes are online (default 2), runs\n"
    "--rounds rounds of FedAvg (default 1) on a small built-in model and exits.\n";

struct Flags {
  pollen::SuperLinkOptions options;
  bool insecure = false;
  int rounds = 1;
  int min_nodes = 2;
  int wait_timeout_s = 600;
  int round_timeout_s = 3600;
};

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
    } else if (is_number && flag == "--round-timeout") {
      flags->round_timeout_s = static_cast<int>(number);
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

std::string format_metrics(const pollen::MetricRecord& metrics) {
  std::ostringstream out;
  for (const auto& [key, value] : metrics) {
    out << " " << key << "=";
    if (const double* d = std::get_if<double>(&value)) {
      out << *d;
    } else if (const auto* list = std::get_if<std::vector<double>>(&value)) {
      out << "[" << list->size() << " values]";
    }
  }
  return out.str();
}

void print_step(const char* name, const pollen::FedAvgStep& step) {
  std::cout << "  " << name << ": " << step.replies << " replies, " << step.errors << " errors, "
            << step.missing << " missing;" << format_metrics(step.metrics) << "\n";
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
    const uint64_t run_id = (*link)->create_run();
    pollen::FedAvgConfig config;
    config.num_rounds = flags.rounds;
    config.round_timeout = std::chrono::seconds(flags.round_timeout_s);
    config.train_config.set("lr", 0.01);
    std::cout << "run " << run_id << ": FedAvg, " << flags.rounds << " round(s), " << nodes->size()
              << " node(s) online" << std::endl;
    auto result = pollen::run_fedavg(**link, run_id, {}, builtin_model(), config);
    if (!result.ok()) {
      std::cerr << "pollen-superlink-lite: " << result.status() << "\n";
      rc = 1;
    } else {
      for (const pollen::FedAvgRound& round : result->rounds) {
        std::cout << "round " << round.round << "\n";
        print_step("train", round.train);
        print_step("evaluate", round.evaluate);
      }
    }
    (*link)->finish_run(run_id).ignore();
  }
  done.store(true);
  watcher.join();
  (*link)->shutdown();
  return rc;
}
