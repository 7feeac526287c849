#include "link_object_store.h"

#include <algorithm>

#include "pollen/core/sha256.h"

namespace pollen {

namespace {

bool is_known_type(std::string_view type) {
  return type == "Message" || type == "RecordDict" || type == "ArrayRecord" ||
         type == "MetricRecord" || type == "ConfigRecord" || type == "Array" ||
         type == "ArrayChunk";
}

}  // namespace

// The checks and messages of Flower's validate_object_content, in its order,
// so that a client sees the same FAILED_PRECONDITION details.
std::optional<std::string> object_structure_error(std::string_view content) {
  const size_t nul = content.find('\0');
  if (nul == std::string_view::npos) {
    return "Unexpected format for object content. Head and body could not be split.";
  }
  const std::string_view head = content.substr(0, nul);
  const size_t sp1 = head.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : head.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || head.find(' ', sp2 + 1) != std::string_view::npos) {
    return "Unexpected format for object head.";
  }
  const std::string_view type = head.substr(0, sp1);
  std::string_view children = head.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view body_len = head.substr(sp2 + 1);
  while (true) {
    const size_t comma = children.find(',');
    const std::string_view child = children.substr(0, comma);
    if (!child.empty() && !is_object_id(child)) {
      return "Detected invalid object ID (" + std::string(child) + ") in children.";
    }
    if (comma == std::string_view::npos) break;
    children.remove_prefix(comma + 1);
  }
  if (!is_known_type(type)) return "Object of type " + std::string(type) + " is not supported.";
  const bool digits =
      !body_len.empty() && body_len.size() <= 18 &&
      std::all_of(body_len.begin(), body_len.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) {
    return "invalid literal for int() with base 10: '" + std::string(body_len) + "'";
  }
  const size_t actual = content.size() - nul - 1;
  if (std::stoull(std::string(body_len)) != actual) {
    return "Object content length expected " + std::string(body_len) + " bytes but got " +
           std::to_string(actual) + " bytes.";
  }
  return std::nullopt;
}

Result<std::vector<std::string>> LinkObjectStore::preregister(uint64_t run_id,
                                                              const flwr::proto::ObjectTree& tree) {
  std::vector<std::string> not_available;
  POLLEN_RETURN_IF_ERROR(register_node(run_id, tree, &not_available));
  // Flower returns a set; keep the first occurrence of each id.
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (std::string& id : not_available) {
    if (seen.insert(id).second) unique.push_back(std::move(id));
  }
  return unique;
}

// Post-order, as Flower's iterate_object_tree: children are registered (and
// so exist) before their parent counts a reference to them. Recursion depth
// is bounded by protobuf's parse limit on nested messages.
Status LinkObjectStore::register_node(uint64_t run_id, const flwr::proto::ObjectTree& node,
                                      std::vector<std::string>* not_available) {
  for (const flwr::proto::ObjectTree& child : node.children()) {
    POLLEN_RETURN_IF_ERROR(register_node(run_id, child, not_available));
  }
  const std::string& id = node.object_id();
  if (!is_object_id(id)) {
    return Status(StatusCode::kUnknown, "Invalid object ID format: " + id);
  }
  auto [it, inserted] = entries_.try_emplace(id);
  Entry& entry = it->second;
  if (inserted) {
    for (const flwr::proto::ObjectTree& child : node.children()) {
      entry.children.push_back(child.object_id());
      entries_[child.object_id()].ref_count += 1;
    }
  }
  if (!entry.available) not_available->push_back(id);
  entry.runs.insert(run_id);
  run_objects_[run_id].insert(id);
  return Status::Ok();
}

bool LinkObjectStore::put(const std::string& id, Bytes content) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  if (!it->second.available) {
    it->second.content = std::move(content);
    it->second.available = true;
  }
  return true;
}

const LinkObjectStore::Entry* LinkObjectStore::find(const std::string& id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

void LinkObjectStore::erase(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.ref_count > 0) return;
  Entry entry = std::move(it->second);
  entries_.erase(it);
  for (uint64_t run : entry.runs) {
    auto objects = run_objects_.find(run);
    if (objects != run_objects_.end()) objects->second.erase(id);
  }
  for (const std::string& child : entry.children) {
    auto c = entries_.find(child);
    if (c == entries_.end()) continue;
    c->second.ref_count -= 1;
    erase(child);
  }
}

void LinkObjectStore::erase_run(uint64_t run_id) {
  auto objects = run_objects_.find(run_id);
  if (objects == run_objects_.end()) return;
  const std::vector<std::string> ids(objects->second.begin(), objects->second.end());
  for (const std::string& id : ids) {
    auto it = entries_.find(id);
    if (it == entries_.end()) continue;
    it->second.runs.erase(run_id);
    // Only message objects have no parents; erasing them frees the rest.
    if (it->second.ref_count == 0) erase(id);
  }
  run_objects_.erase(run_id);
}

}  // namespace pollen
