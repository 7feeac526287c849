// pollen_test_node: a node process for end-to-end tests. It takes the same
// flags as `pollen` (see node_command.h) plus --target X and --examples N
// for its TargetClient, and exits as `pollen` does.
#include <iostream>
#include <string>
#include <vector>

#include "node_command.h"
#include "target_client.h"

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  auto options = pollen::cli::parse_node_flags({argv + 1, argv + argc}, &rest);
  if (!options.ok()) {
    std::cerr << "pollen_test_node: " << options.status().message() << "\n";
    return 2;
  }
  double target = 1.0;
  int64_t examples = 1;
  for (size_t i = 0; i + 1 < rest.size(); i += 2) {
    if (rest[i] == "--target")
      target = std::stod(rest[i + 1]);
    else if (rest[i] == "--examples")
      examples = std::stoll(rest[i + 1]);
    else {
      std::cerr << "pollen_test_node: unknown flag " << rest[i] << "\n";
      return 2;
    }
  }
  pollen::TargetClient client(target, examples);
  return pollen::cli::run_node_command(*options, client);
}
