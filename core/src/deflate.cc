#include "pollen/core/deflate.h"

#include <algorithm>
#include <unordered_map>

#include "json_text.h"
#include "pollen/core/proto_convert.h"

namespace pollen {

const DeflatedObject* DeflatedObjects::find(const std::string& id) const {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : &it->second;
}

std::string DeflatedObjects::add(DeflatedObject object) {
  std::string id = object.compute_id();
  objects_.try_emplace(id, std::move(object));
  return id;
}

namespace {

// Adds a leaf or inner object; returns its tree node.
ObjectTree add_object(ObjectType type, std::vector<ObjectTree> children, std::string body,
                      DeflatedObjects* out) {
  std::vector<std::string> ids;
  ids.reserve(children.size());
  for (const ObjectTree& child : children) ids.push_back(child.object_id);
  std::string head = object_head(type, ids, body.size());
  DeflatedObject object(std::move(head), Bytes(std::move(body)));
  return ObjectTree{out->add(std::move(object)), std::move(children)};
}

// Keeps the first occurrence of each child, in order; returns the index of
// `node` in `unique`.
size_t add_unique(std::vector<ObjectTree>* unique, ObjectTree node) {
  auto it = std::find_if(unique->begin(), unique->end(),
                         [&](const ObjectTree& t) { return t.object_id == node.object_id; });
  if (it != unique->end()) return static_cast<size_t>(it - unique->begin());
  unique->push_back(std::move(node));
  return unique->size() - 1;
}

std::string int_list(const std::vector<int64_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(values[i]);
  }
  return out + "]";
}

// {"name": "<child id>", ...} over a record's entries, with unique children.
template <typename Record, typename DeflateValue>
Result<ObjectTree> deflate_mapping(ObjectType type, const Record& record, DeflatedObjects* out,
                                   DeflateValue deflate_value) {
  std::vector<ObjectTree> children;
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& [name, value] : record) {
    POLLEN_ASSIGN_OR_RETURN(ObjectTree node, deflate_value(value));
    names.emplace_back(name, node.object_id);
    add_unique(&children, std::move(node));
  }
  POLLEN_ASSIGN_OR_RETURN(std::string body, json_text::string_map(names));
  return add_object(type, std::move(children), std::move(body), out);
}

}  // namespace

Result<ObjectTree> deflate_array(const Array& array, DeflatedObjects* out,
                                 const DeflateOptions& options) {
  if (options.max_chunk_size == 0) return invalid_argument("chunk size must be positive");
  std::vector<ObjectTree> chunks;
  std::vector<int64_t> chunk_indices;
  for (size_t offset = 0; offset < array.data.size(); offset += options.max_chunk_size) {
    Bytes slice = array.data.slice(offset, options.max_chunk_size);
    DeflatedObject chunk(object_head(ObjectType::kArrayChunk, {}, slice.size()), slice);
    ObjectTree node{out->add(std::move(chunk)), {}};
    chunk_indices.push_back(static_cast<int64_t>(add_unique(&chunks, std::move(node))));
  }
  std::string body = "{\"dtype\": ";
  POLLEN_RETURN_IF_ERROR(json_text::append_string(&body, array.dtype).with_context("dtype"));
  body += ", \"shape\": " + int_list(array.shape) + ", \"stype\": ";
  POLLEN_RETURN_IF_ERROR(json_text::append_string(&body, array.stype).with_context("stype"));
  body += ", \"arraychunk_ids\": " + int_list(chunk_indices) + "}";
  return add_object(ObjectType::kArray, std::move(chunks), std::move(body), out);
}

Result<ObjectTree> deflate_array_record(const ArrayRecord& record, DeflatedObjects* out,
                                        const DeflateOptions& options) {
  return deflate_mapping(ObjectType::kArrayRecord, record, out,
                         [&](const Array& array) { return deflate_array(array, out, options); });
}

ObjectTree deflate_metric_record(const MetricRecord& record, DeflatedObjects* out) {
  flwr::proto::MetricRecord proto;
  to_proto(record, &proto);
  return add_object(ObjectType::kMetricRecord, {}, serialize_deterministic(proto), out);
}

ObjectTree deflate_config_record(const ConfigRecord& record, DeflatedObjects* out) {
  flwr::proto::ConfigRecord proto;
  to_proto(record, &proto);
  return add_object(ObjectType::kConfigRecord, {}, serialize_deterministic(proto), out);
}

Result<ObjectTree> deflate_record_dict(const RecordDict& dict, DeflatedObjects* out,
                                       const DeflateOptions& options) {
  return deflate_mapping(ObjectType::kRecordDict, dict, out,
                         [&](const Record& record) -> Result<ObjectTree> {
                           if (auto* r = std::get_if<ArrayRecord>(&record))
                             return deflate_array_record(*r, out, options);
                           if (auto* r = std::get_if<MetricRecord>(&record))
                             return deflate_metric_record(*r, out);
                           return deflate_config_record(std::get<ConfigRecord>(record), out);
                         });
}

Result<ObjectTree> deflate_message_objects(const Message& message, DeflatedObjects* out,
                                           const DeflateOptions& options) {
  POLLEN_RETURN_IF_ERROR(message.check_content_or_error());
  std::vector<ObjectTree> children;
  if (message.content) {
    POLLEN_ASSIGN_OR_RETURN(ObjectTree content,
                            deflate_record_dict(*message.content, out, options));
    children.push_back(std::move(content));
  }
  // The body is the metadata (without the id it is about to get) and error.
  flwr::proto::Message proto;
  to_proto(message.metadata, proto.mutable_metadata());
  proto.mutable_metadata()->clear_message_id();
  if (message.error) to_proto(*message.error, proto.mutable_error());
  return add_object(ObjectType::kMessage, std::move(children), serialize_deterministic(proto), out);
}

Result<DeflatedMessage> deflate_message(const Message& message, const DeflateOptions& options) {
  DeflatedMessage out;
  POLLEN_ASSIGN_OR_RETURN(out.tree, deflate_message_objects(message, &out.objects, options));
  out.message_id = out.tree.object_id;
  return out;
}

}  // namespace pollen
