// pollen: a Flower SuperNode for edge devices.
#include <cstring>
#include <iostream>
#include <string>

#include "keygen.h"
#include "pollen/core/version.h"
#include "selfcheck.h"
#ifdef POLLEN_WITH_TORCH
#include "inspect.h"
#endif

namespace {

void print_usage(std::ostream& out) {
  out << "usage: pollen <command>\n\n"
         "commands:\n"
         "  selfcheck   check that this build speaks Flower's wire format\n"
         "  keygen      FILE: make a node key (FILE, FILE.pub) for a SuperLink that runs\n"
         "              with --enable-supernode-auth\n"
#ifdef POLLEN_WITH_TORCH
         "  inspect     MODEL.pt: list a TorchScript model's state_dict as the Flower\n"
         "              ArrayRecord it becomes, with object ids\n"
#endif
         "  version     print the Pollen and Flower protocol versions\n"
         "  help        show this text\n";
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "help";
  if (command == "selfcheck") return pollen::cli::run_selfcheck(std::cout);
  if (command == "keygen") {
    if (argc != 3) {
      std::cerr << "usage: pollen keygen FILE\n";
      return 2;
    }
    return pollen::cli::run_keygen(argv[2], std::cout, std::cerr);
  }
#ifdef POLLEN_WITH_TORCH
  if (command == "inspect") {
    if (argc != 3) {
      std::cerr << "usage: pollen inspect MODEL.pt\n";
      return 2;
    }
    return pollen::cli::run_inspect(argv[2], std::cout, std::cerr);
  }
#endif
  if (command == "version" || command == "--version") {
    std::cout << "pollen " << pollen::kPollenVersion << " (Flower protocol "
              << pollen::kFlowerProtocolVersion << ", SuperLink " << pollen::kMinSuperLinkVersion
              << " to " << pollen::kMaxSuperLinkVersion << ")\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    print_usage(std::cout);
    return 0;
  }
  std::cerr << "pollen: unknown command '" << command << "'\n";
  print_usage(std::cerr);
  return 2;
}
