// pollen: a Flower SuperNode for edge devices.
//   pollen --superlink HOST:PORT --insecure --model m.pt --train-data d.csv
//   pollen selfcheck | keygen FILE | inspect MODEL.pt | version
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "keygen.h"
#include "pollen/core/version.h"
#include "selfcheck.h"
#ifdef POLLEN_WITH_TORCH
#include "client_command.h"
#include "client_options.h"
#include "inspect.h"
#include "pollen/models/model.h"
#endif

namespace {

std::string version_text() {
  std::string text = std::string("pollen ") + pollen::kPollenVersion + " (Flower protocol " +
                     pollen::kFlowerProtocolVersion + ", SuperLink " +
                     pollen::kMinSuperLinkVersion + " to " + pollen::kMaxSuperLinkVersion + ")";
#ifdef POLLEN_WITH_TORCH
  text += "\nLibTorch " + pollen::libtorch_version() +
          (pollen::cuda_available() ? " (CUDA available)" : " (CPU)");
#else
  text += "\nbuilt without LibTorch: node mode and inspect are not available";
#endif
  return text;
}

constexpr char kDescription[] =
    "Pollen: a Flower SuperNode for edge devices. Without a command it runs a node:\n"
    "it loads a TorchScript model, connects to a Flower SuperLink's Fleet API and\n"
    "fine-tunes the model on this device's data whenever the server asks.\n\n"
    "  pollen --superlink 10.0.0.2:9092 --insecure --model model.pt --train-data data.csv\n";

// Usage errors exit 2, as flower-supernode's argparse does.
int usage_error(const CLI::App& app, const std::string& message) {
  std::cerr << "pollen: " << message << "\nRun '" << app.get_name() << " --help' for usage.\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT/SIGTERM are blocked before any thread exists (LibTorch starts its
  // pool while loading the model), so every thread inherits the mask and the
  // node's SignalStop thread is the one that takes them: a clean stop, never
  // the default handler killing the process.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  CLI::App app(kDescription, "pollen");
  app.set_version_flag("--version", version_text(), "print Pollen, LibTorch and protocol versions");
  app.require_subcommand(0, 1);
  app.get_formatter()->column_width(38);

  CLI::App* selfcheck =
      app.add_subcommand("selfcheck", "check that this build speaks Flower's wire format");
  CLI::App* version = app.add_subcommand("version", "same as --version");
  std::string key_file;
  CLI::App* keygen = app.add_subcommand(
      "keygen",
      "make a node key (FILE, FILE.pub) for a SuperLink run with --enable-supernode-auth");
  keygen->add_option("FILE", key_file, "private key file to create")->required();
#ifdef POLLEN_WITH_TORCH
  std::string model_file;
  CLI::App* inspect = app.add_subcommand(
      "inspect", "list a TorchScript model's state_dict as the Flower ArrayRecord it becomes");
  inspect->add_option("MODEL", model_file, "TorchScript file")->required();
  pollen::cli::ClientOptions client;
  pollen::cli::add_client_options(app, &client);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e.what());
  }

  if (selfcheck->parsed()) return pollen::cli::run_selfcheck(std::cout);
  if (version->parsed()) {
    std::cout << version_text() << "\n";
    return 0;
  }
  if (keygen->parsed()) return pollen::cli::run_keygen(key_file, std::cout, std::cerr);
#ifdef POLLEN_WITH_TORCH
  if (inspect->parsed()) return pollen::cli::run_inspect(model_file, std::cout, std::cerr);
  if (argc == 1) {
    std::cout << app.help();
    return 2;
  }
  if (pollen::Status s = pollen::cli::check_client_options(client); !s.ok()) {
    return usage_error(app, s.message());
  }
  return pollen::cli::run_client_command(client);
#else
  std::cout << app.help();
  return 2;
#endif
}
