// Turning records and messages into Flower objects ("deflating"): bodies,
// heads, SHA-256 ids and the object tree, exactly as Flower 1.28 builds them.
//
// Array data is never copied: chunks are slices of the Array's buffer,
// hashed in place; bytes are joined only when an object is sent.
#ifndef POLLEN_CORE_DEFLATE_H_
#define POLLEN_CORE_DEFLATE_H_

#include <string>
#include <unordered_map>

#include "pollen/core/message.h"
#include "pollen/core/object.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

struct DeflateOptions {
  // Largest ArrayChunk body. Flower's default; receivers accept any size.
  size_t max_chunk_size = kMaxArrayChunkSize;
};

// Deflated objects by id.
class DeflatedObjects {
 public:
  const DeflatedObject* find(const std::string& id) const;
  size_t size() const { return objects_.size(); }
  auto begin() const { return objects_.begin(); }
  auto end() const { return objects_.end(); }
  // Adds `object` under its id (computed here) and returns the id.
  std::string add(DeflatedObject object);

 private:
  std::unordered_map<std::string, DeflatedObject> objects_;
};

// Each function adds the objects of its argument (and of everything below it)
// to `out` and returns the argument's tree node. Errors: keys that are not
// valid UTF-8, an empty chunk size, a message with both or neither of
// content and error.
Result<ObjectTree> deflate_array(const Array& array, DeflatedObjects* out,
                                 const DeflateOptions& options = {});
Result<ObjectTree> deflate_array_record(const ArrayRecord& record, DeflatedObjects* out,
                                        const DeflateOptions& options = {});
ObjectTree deflate_metric_record(const MetricRecord& record, DeflatedObjects* out);
ObjectTree deflate_config_record(const ConfigRecord& record, DeflatedObjects* out);
Result<ObjectTree> deflate_record_dict(const RecordDict& dict, DeflatedObjects* out,
                                       const DeflateOptions& options = {});
// The Message object hashes all metadata except message_id (which is its id).
Result<ObjectTree> deflate_message_objects(const Message& message, DeflatedObjects* out,
                                           const DeflateOptions& options = {});

// A message ready to push: its id (the root of the tree), tree and objects.
struct DeflatedMessage {
  std::string message_id;
  ObjectTree tree;
  DeflatedObjects objects;
};

Result<DeflatedMessage> deflate_message(const Message& message, const DeflateOptions& options = {});

}  // namespace pollen

#endif  // POLLEN_CORE_DEFLATE_H_
