// Measures how fast a model's weights become Flower objects and back:
// deflate (chunk + SHA-256 ids), joining bytes for sending, verifying
// received objects, and inflating. Prints MB/s and the process's peak RSS.
//   objects_bench [megabytes=256] [arrays=8]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "pollen/core/deflate.h"
#include "pollen/core/inflate.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;
}

void report(const char* step, double mb, double secs) {
  std::printf("%-34s %8.1f MB in %7.3f s = %8.1f MB/s   (peak RSS %.0f MiB)\n", step, mb, secs,
              mb / secs, peak_rss_mib());
}

}  // namespace

int main(int argc, char** argv) {
  const size_t megabytes = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const size_t num_arrays = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 8;
  const size_t floats = megabytes * 1024 * 1024 / 4 / num_arrays;
  const double mb = static_cast<double>(floats * 4 * num_arrays) / 1e6;
  std::printf("ArrayRecord of %zu float32 arrays, %.1f MB in all\n", num_arrays, mb);

  pollen::Message message;
  message.metadata.message_type = "train";
  message.metadata.created_at = 1767225600.0;
  message.content.emplace();
  pollen::ArrayRecord arrays;
  {
    // Pseudo-random values: no two chunks are equal, so nothing is deduplicated.
    std::vector<float> values(floats);
    uint32_t state = 12345;
    auto start = Clock::now();
    for (size_t a = 0; a < num_arrays; ++a) {
      for (float& v : values) {
        state = state * 1664525u + 1013904223u;
        v = static_cast<float>(state >> 8) * 1e-7f;
      }
      auto array =
          pollen::Array::from_elements(pollen::DType::kFloat32, {static_cast<int64_t>(floats)},
                                       values.data(), values.size() * 4);
      arrays.set("layer" + std::to_string(a) + ".weight", std::move(array).value());
    }
    report("make values + encode .npy", mb, seconds_since(start));
  }
  message.content->set("arrays", std::move(arrays));

  auto start = Clock::now();
  auto deflated = pollen::deflate_message(message);
  if (!deflated.ok()) return std::fprintf(stderr, "%s\n", deflated.status().to_string().c_str()), 1;
  report("deflate (chunks + SHA-256 ids)", mb, seconds_since(start));
  std::printf("  %zu objects, message id %s\n", deflated->objects.size(),
              deflated->message_id.c_str());

  start = Clock::now();
  std::vector<std::pair<std::string, std::string>> wire;
  for (const auto& [id, object] : deflated->objects) wire.emplace_back(id, object.bytes());
  report("join bytes for PushObject", mb, seconds_since(start));

  start = Clock::now();
  pollen::ObjectStore store;
  for (auto& [id, bytes] : wire) {
    if (!store.put(id, pollen::Bytes(std::move(bytes))).ok()) return 1;
  }
  report("verify received objects", mb, seconds_since(start));

  start = Clock::now();
  auto back = pollen::inflate_message(deflated->tree, store);
  if (!back.ok()) return std::fprintf(stderr, "%s\n", back.status().to_string().c_str()), 1;
  report("inflate (join chunks)", mb, seconds_since(start));
  return 0;
}
