#include "pollen/core/inflate.h"

#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "json_text.h"
#include "pollen/core/proto_convert.h"

namespace pollen {

namespace {

using Json = nlohmann::ordered_json;

std::string describe(const ObjectTree& node, ObjectType type) {
  return std::string(object_type_name(type)) + " " + node.object_id;
}

// A stored object, parsed, checked against its tree node.
struct Loaded {
  ObjectView view;
  Bytes content;
};

Result<Loaded> load(const ObjectTree& node, const ObjectStore& objects,
                    std::initializer_list<ObjectType> allowed) {
  const Bytes* content = objects.find(node.object_id);
  if (content == nullptr) {
    return not_found("object " + node.object_id + " is missing (it was never received)");
  }
  POLLEN_ASSIGN_OR_RETURN(ObjectView view, parse_object(content->view()));
  bool type_ok = false;
  for (ObjectType t : allowed) type_ok |= (t == view.type);
  if (!type_ok) {
    return data_loss("object " + node.object_id + " is a " +
                     std::string(object_type_name(view.type)) + ", which cannot appear here");
  }
  bool same = view.children.size() == node.children.size();
  for (size_t i = 0; same && i < view.children.size(); ++i) {
    same = view.children[i] == node.children[i].object_id;
  }
  if (!same) {
    return data_loss(describe(node, view.type) +
                     ": the object tree's children differ from the children in its head");
  }
  return Loaded{view, *content};
}

// Maps the body's {"name": "<id>"} entries onto the tree's children.
Result<std::vector<std::pair<std::string, const ObjectTree*>>> named_children(
    const ObjectTree& node, const Loaded& loaded) {
  const std::string what = describe(node, loaded.view.type);
  POLLEN_ASSIGN_OR_RETURN(Json body, json_text::parse(loaded.view.body, what));
  if (!body.is_object()) return data_loss(what + ": body is not a JSON object");
  std::unordered_map<std::string, const ObjectTree*> by_id;
  for (const ObjectTree& child : node.children) by_id.emplace(child.object_id, &child);
  std::unordered_set<std::string> used;
  std::vector<std::pair<std::string, const ObjectTree*>> out;
  for (const auto& [name, value] : body.items()) {
    if (!value.is_string()) return data_loss(what + ": entry '" + name + "' is not an id");
    auto it = by_id.find(value.get<std::string>());
    if (it == by_id.end()) {
      return data_loss(what + ": entry '" + name + "' refers to an object not among its children");
    }
    used.insert(it->first);
    out.emplace_back(name, it->second);
  }
  if (used.size() != by_id.size()) {
    return data_loss(what + ": lists children its body does not use");
  }
  return out;
}

Result<int64_t> json_int(const Json& value, const std::string& what) {
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return data_loss(what + " is out of range");
    }
    return static_cast<int64_t>(value.get<uint64_t>());
  }
  if (!value.is_number_integer()) return data_loss(what + " is not an integer");
  return value.get<int64_t>();
}

Result<std::vector<int64_t>> json_int_list(const Json& body, const char* key,
                                           const std::string& what) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_array()) {
    return data_loss(what + ": '" + key + "' is missing or not a list");
  }
  std::vector<int64_t> out;
  for (const Json& v : *it) {
    POLLEN_ASSIGN_OR_RETURN(int64_t x, json_int(v, what + ": '" + key + "' entry"));
    out.push_back(x);
  }
  return out;
}

Result<std::string> json_text_field(const Json& body, const char* key, const std::string& what) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string()) {
    return data_loss(what + ": '" + key + "' is missing or not a string");
  }
  return it->get<std::string>();
}

// Joins the chunks in `indices` order; one chunk is shared, not copied.
Result<Bytes> join_chunks(const ObjectTree& node, const std::vector<int64_t>& indices,
                          const ObjectStore& objects, const InflateOptions& options) {
  const std::string what = describe(node, ObjectType::kArray);
  std::vector<Bytes> parts;
  size_t total = 0;
  for (int64_t index : indices) {
    if (index < 0 || static_cast<size_t>(index) >= node.children.size()) {
      return data_loss(what + ": chunk index " + std::to_string(index) + " is out of range");
    }
    POLLEN_ASSIGN_OR_RETURN(Loaded chunk,
                            load(node.children[index], objects, {ObjectType::kArrayChunk}));
    const size_t offset = chunk.view.body.data() - chunk.content.view().data();
    parts.push_back(chunk.content.slice(offset, chunk.view.body.size()));
    total += parts.back().size();
    if (total > options.max_array_bytes) {
      return Status(StatusCode::kResourceExhausted, what + ": array is larger than the limit of " +
                                                        std::to_string(options.max_array_bytes) +
                                                        " bytes");
    }
  }
  if (parts.size() == 1) return parts.front();
  std::string data;
  data.reserve(total);
  for (const Bytes& part : parts) data.append(part.view());
  return Bytes(std::move(data));
}

Result<Record> inflate_record(const ObjectTree& node, const ObjectStore& objects,
                              const InflateOptions& options) {
  POLLEN_ASSIGN_OR_RETURN(Loaded loaded, load(node, objects,
                                              {ObjectType::kArrayRecord, ObjectType::kMetricRecord,
                                               ObjectType::kConfigRecord}));
  const std::string what = describe(node, loaded.view.type);
  if (loaded.view.type == ObjectType::kArrayRecord) {
    POLLEN_ASSIGN_OR_RETURN(ArrayRecord record, inflate_array_record(node, objects, options));
    return Record(std::move(record));
  }
  if (!node.children.empty()) return data_loss(what + ": a record of this kind has no children");
  if (loaded.view.type == ObjectType::kMetricRecord) {
    flwr::proto::MetricRecord proto;
    if (!proto.ParseFromArray(loaded.view.body.data(), static_cast<int>(loaded.view.body.size()))) {
      return data_loss(what + ": body is not a protobuf MetricRecord");
    }
    POLLEN_ASSIGN_OR_RETURN(MetricRecord record, from_proto(proto));
    return Record(std::move(record));
  }
  flwr::proto::ConfigRecord proto;
  if (!proto.ParseFromArray(loaded.view.body.data(), static_cast<int>(loaded.view.body.size()))) {
    return data_loss(what + ": body is not a protobuf ConfigRecord");
  }
  POLLEN_ASSIGN_OR_RETURN(ConfigRecord record, from_proto(proto));
  return Record(std::move(record));
}

}  // namespace

Result<Array> inflate_array(const ObjectTree& node, const ObjectStore& objects,
                            const InflateOptions& options) {
  POLLEN_ASSIGN_OR_RETURN(Loaded loaded, load(node, objects, {ObjectType::kArray}));
  const std::string what = describe(node, ObjectType::kArray);
  POLLEN_ASSIGN_OR_RETURN(Json body, json_text::parse(loaded.view.body, what));
  if (!body.is_object()) return data_loss(what + ": body is not a JSON object");
  Array array;
  POLLEN_ASSIGN_OR_RETURN(array.dtype, json_text_field(body, "dtype", what));
  POLLEN_ASSIGN_OR_RETURN(array.stype, json_text_field(body, "stype", what));
  POLLEN_ASSIGN_OR_RETURN(array.shape, json_int_list(body, "shape", what));
  POLLEN_ASSIGN_OR_RETURN(std::vector<int64_t> indices,
                          json_int_list(body, "arraychunk_ids", what));
  std::vector<bool> used(node.children.size(), false);
  for (int64_t i : indices) {
    if (i >= 0 && static_cast<size_t>(i) < used.size()) used[i] = true;
  }
  for (bool u : used) {
    if (!u) return data_loss(what + ": lists chunks its body does not use");
  }
  POLLEN_ASSIGN_OR_RETURN(array.data, join_chunks(node, indices, objects, options));
  return array;
}

Result<ArrayRecord> inflate_array_record(const ObjectTree& node, const ObjectStore& objects,
                                         const InflateOptions& options) {
  POLLEN_ASSIGN_OR_RETURN(Loaded loaded, load(node, objects, {ObjectType::kArrayRecord}));
  POLLEN_ASSIGN_OR_RETURN(auto entries, named_children(node, loaded));
  ArrayRecord record;
  for (const auto& [name, child] : entries) {
    POLLEN_ASSIGN_OR_RETURN(Array array, inflate_array(*child, objects, options));
    record.set(name, std::move(array));
  }
  return record;
}

Result<RecordDict> inflate_record_dict(const ObjectTree& node, const ObjectStore& objects,
                                       const InflateOptions& options) {
  POLLEN_ASSIGN_OR_RETURN(Loaded loaded, load(node, objects, {ObjectType::kRecordDict}));
  POLLEN_ASSIGN_OR_RETURN(auto entries, named_children(node, loaded));
  RecordDict dict;
  for (const auto& [name, child] : entries) {
    POLLEN_ASSIGN_OR_RETURN(Record record, inflate_record(*child, objects, options));
    dict.set(name, std::move(record));
  }
  return dict;
}

Result<Message> inflate_message(const ObjectTree& node, const ObjectStore& objects,
                                const InflateOptions& options) {
  POLLEN_ASSIGN_OR_RETURN(Loaded loaded, load(node, objects, {ObjectType::kMessage}));
  const std::string what = describe(node, ObjectType::kMessage);
  flwr::proto::Message proto;
  if (!proto.ParseFromArray(loaded.view.body.data(), static_cast<int>(loaded.view.body.size()))) {
    return data_loss(what + ": body is not a protobuf Message");
  }
  Message message;
  message.metadata = from_proto(proto.metadata());
  message.metadata.message_id = node.object_id;
  if (node.children.size() > 1) return data_loss(what + ": has more than one child");
  if (node.children.size() == 1) {
    if (proto.has_error()) return data_loss(what + ": has both content and an error");
    POLLEN_ASSIGN_OR_RETURN(RecordDict content,
                            inflate_record_dict(node.children[0], objects, options));
    message.content = std::move(content);
  } else if (proto.has_error()) {
    message.error = from_proto(proto.error());
  } else {
    return data_loss(what + ": has neither content nor an error");
  }
  return message;
}

Result<ObjectTree> tree_from_heads(const std::string& id, const ObjectStore& objects) {
  const Bytes* content = objects.find(id);
  if (content == nullptr) return not_found("object " + id + " is missing");
  POLLEN_ASSIGN_OR_RETURN(ObjectView view, parse_object(content->view()));
  ObjectTree tree{id, {}};
  for (const std::string& child : view.children) {
    if (view.type == ObjectType::kArrayChunk) break;
    POLLEN_ASSIGN_OR_RETURN(ObjectTree sub, tree_from_heads(child, objects));
    tree.children.push_back(std::move(sub));
  }
  return tree;
}

}  // namespace pollen
