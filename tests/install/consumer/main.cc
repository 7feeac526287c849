// Builds a Flower reply with the installed library and checks its id.
#include <iostream>

#include "pollen/core/deflate.h"
#include "pollen/core/version.h"
#include "pollen/runtime/node.h"
#include "pollen/transport/fleet.h"

int main() {
  const float values[] = {1, 2, 3, 4};
  auto array =
      pollen::Array::from_elements(pollen::DType::kFloat32, {2, 2}, values, sizeof(values));
  if (!array.ok()) {
    std::cerr << array.status() << "\n";
    return 1;
  }
  pollen::DeflatedObjects objects;
  auto tree = pollen::deflate_array(*array, &objects);
  const char* flower_id = "9a6df3451aa0b992591a9034c8bd92ed282fdd133b06f879662523e78df61e38";
  if (!tree.ok() || tree->object_id != flower_id) {
    std::cerr << "consumer: unexpected Array id\n";
    return 1;
  }
  // The transport and the node loop link from the installed package too.
  pollen::FleetOptions options;
  options.superlink = "127.0.0.1:1";
  options.insecure = true;
  auto connection = pollen::connect_fleet(options);
  if (!connection.ok()) {
    std::cerr << connection.status() << "\n";
    return 1;
  }
  pollen::NodeOptions node;
  (void)node;
  std::cout << "consumer: ok (Pollen " << pollen::kPollenVersion << ")\n";
  return 0;
}
