// Flower's inflatable objects: the byte framing
//   <Type> SP <child id>,<child id>,... SP <body length> NUL <body>
// whose SHA-256 is the object id, the trees that link them, and a store of
// verified objects.
#ifndef POLLEN_CORE_OBJECT_H_
#define POLLEN_CORE_OBJECT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pollen/core/bytes.h"
#include "pollen/core/status.h"

namespace pollen {

// Flower's default (and maximum sensible) size of one ArrayChunk body.
inline constexpr size_t kMaxArrayChunkSize = 5 * 1024 * 1024;

enum class ObjectType {
  kMessage,
  kRecordDict,
  kArrayRecord,
  kMetricRecord,
  kConfigRecord,
  kArray,
  kArrayChunk
};

// The Python class name Flower writes in the head: "Message", "ArrayChunk", ...
std::string_view object_type_name(ObjectType type);
Result<ObjectType> object_type_from_name(std::string_view name);

// A parsed object: views into the content it was parsed from.
struct ObjectView {
  ObjectType type = ObjectType::kArrayChunk;
  std::vector<std::string> children;  // child ids, in head order
  std::string_view body;
};

// Parses and validates the framing of `content`: a NUL, a head of exactly
// three space-separated fields, a known type, 64-hex child ids, and a
// declared body length equal to the actual one.
Result<ObjectView> parse_object(std::string_view content);

// "<Type> <ids> <len>" followed by the NUL separator.
std::string object_head(ObjectType type, const std::vector<std::string>& children,
                        size_t body_size);

// An object ready to send: head and body kept apart so the body can be a
// slice of array data; bytes are joined only when sent.
class DeflatedObject {
 public:
  DeflatedObject() = default;
  DeflatedObject(std::string head, Bytes body) : head_(std::move(head)), body_(std::move(body)) {}

  const std::string& head() const { return head_; }  // includes the NUL
  const Bytes& body() const { return body_; }
  size_t size() const { return head_.size() + body_.size(); }
  // The object's bytes (one copy of the body).
  std::string bytes() const;
  // SHA-256 over head and body without joining them.
  std::string compute_id() const;

 private:
  std::string head_;
  Bytes body_;
};

// Mirrors the child lists of the object heads, rooted at a Message.
struct ObjectTree {
  std::string object_id;
  std::vector<ObjectTree> children;

  friend bool operator==(const ObjectTree& a, const ObjectTree& b) {
    return a.object_id == b.object_id && a.children == b.children;
  }
};

// Ids of `tree` children before parents (the order Flower pulls and pushes
// in), each id once.
std::vector<std::string> post_order_ids(const ObjectTree& tree);

// Objects by id, each one checked on entry: its SHA-256 equals its id and its
// framing parses. Not thread-safe.
class ObjectStore {
 public:
  // Verifies and stores `content` under `id`. A second put of an id is a
  // no-op once verified.
  Status put(const std::string& id, Bytes content);
  const Bytes* find(const std::string& id) const;
  bool contains(const std::string& id) const { return objects_.count(id) != 0; }
  size_t size() const { return objects_.size(); }
  void erase(const std::string& id) { objects_.erase(id); }

 private:
  std::unordered_map<std::string, Bytes> objects_;
};

// OK when sha256(content) is `id`, else DATA_LOSS naming both.
Status verify_object_id(std::string_view id, std::string_view content);

}  // namespace pollen

#endif  // POLLEN_CORE_OBJECT_H_
