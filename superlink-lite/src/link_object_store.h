// The SuperLink's object store, with Flower's semantics: objects are
// preregistered from message trees (unavailable until their bytes are
// pushed), reference-counted by their parents, and deleted when the message
// that holds them is confirmed or its run finishes.
#ifndef POLLEN_SUPERLINK_LITE_LINK_OBJECT_STORE_H_
#define POLLEN_SUPERLINK_LITE_LINK_OBJECT_STORE_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "flwr/proto/message.pb.h"
#include "pollen/core/bytes.h"
#include "pollen/core/status.h"

namespace pollen {

// Why Flower's ObjectStore refuses `content`, in its own words ("Object of
// type Bogus is not supported."); nullopt when the framing is acceptable.
std::optional<std::string> object_structure_error(std::string_view content);

// Not thread-safe: the link state guards it with its mutex.
class LinkObjectStore {
 public:
  struct Entry {
    Bytes content;  // empty until available
    bool available = false;
    std::vector<std::string> children;  // from the tree that registered it
    int ref_count = 0;                  // registered parents
    std::set<uint64_t> runs;
  };

  // Registers every id of `tree`, children before parents, under `run_id`.
  // Returns the ids not yet available, each once, in that order. Stops at
  // the first id that is not 64 lowercase hex characters (ids before it stay
  // registered, as in Flower) with an error naming it.
  Result<std::vector<std::string>> preregister(uint64_t run_id,
                                               const flwr::proto::ObjectTree& tree);

  // Stores the content of a preregistered id. Returns false when `id` was
  // never preregistered. The caller has verified hash and structure.
  bool put(const std::string& id, Bytes content);

  // nullptr when the id is unknown.
  const Entry* find(const std::string& id) const;

  // Deletes `id` if no registered parent references it, then each child
  // whose last reference that was. Unknown ids are ignored.
  void erase(const std::string& id);

  // Forgets `run_id` and deletes its unreferenced (message) objects.
  void erase_run(uint64_t run_id);

  size_t size() const { return entries_.size(); }

 private:
  Status register_node(uint64_t run_id, const flwr::proto::ObjectTree& node,
                       std::vector<std::string>* not_available);

  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<uint64_t, std::set<std::string>> run_objects_;
};

}  // namespace pollen

#endif  // POLLEN_SUPERLINK_LITE_LINK_OBJECT_STORE_H_
