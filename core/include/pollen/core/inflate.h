// Rebuilding records and messages from Flower objects ("inflating").
//
// Every object comes from an ObjectStore (so its id is verified) and must
// agree with the tree: the tree's children are exactly the head's children,
// bodies reference only those children and use all of them, and each child
// has the type its parent allows. Anything else is DATA_LOSS naming the
// object; nothing here trusts a length, index or id it has not checked.
#ifndef POLLEN_CORE_INFLATE_H_
#define POLLEN_CORE_INFLATE_H_

#include <cstddef>

#include "pollen/core/message.h"
#include "pollen/core/object.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

struct InflateOptions {
  // Refuse arrays larger than this before allocating them.
  size_t max_array_bytes = size_t{4} << 30;
};

// Rebuilds the Message rooted at `tree`; its metadata.message_id is the
// root id.
Result<Message> inflate_message(const ObjectTree& tree, const ObjectStore& objects,
                                const InflateOptions& options = {});

// The same for the parts, each rooted at its own tree node.
Result<RecordDict> inflate_record_dict(const ObjectTree& tree, const ObjectStore& objects,
                                       const InflateOptions& options = {});
Result<ArrayRecord> inflate_array_record(const ObjectTree& tree, const ObjectStore& objects,
                                         const InflateOptions& options = {});
Result<Array> inflate_array(const ObjectTree& tree, const ObjectStore& objects,
                            const InflateOptions& options = {});

// A tree for a single object whose children are leaves or whose subtree
// is read from the heads in `objects` (for objects that arrive without a
// tree, e.g. in tests). Fails when an object is missing.
Result<ObjectTree> tree_from_heads(const std::string& id, const ObjectStore& objects);

}  // namespace pollen

#endif  // POLLEN_CORE_INFLATE_H_
