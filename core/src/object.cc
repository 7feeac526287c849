#include "pollen/core/object.h"

#include <charconv>
#include <unordered_set>

#include "pollen/core/sha256.h"

namespace pollen {

namespace {

constexpr std::string_view kTypeNames[] = {
    "Message", "RecordDict", "ArrayRecord", "MetricRecord", "ConfigRecord", "Array", "ArrayChunk"};

// Shows at most 40 bytes of untrusted text in an error message.
std::string excerpt(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > 40) out += "...";
  return out;
}

Result<std::vector<std::string>> parse_child_ids(std::string_view field) {
  std::vector<std::string> ids;
  if (field.empty()) return ids;
  size_t start = 0;
  while (true) {
    const size_t comma = field.find(',', start);
    std::string_view id = field.substr(start, comma - start);
    if (!is_object_id(id)) {
      return data_loss("object head lists child id '" + excerpt(id) +
                       "', which is not 64 lowercase hex characters");
    }
    ids.emplace_back(id);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return ids;
}

}  // namespace

std::string_view object_type_name(ObjectType type) { return kTypeNames[static_cast<int>(type)]; }

Result<ObjectType> object_type_from_name(std::string_view name) {
  for (size_t i = 0; i < std::size(kTypeNames); ++i) {
    if (kTypeNames[i] == name) return static_cast<ObjectType>(i);
  }
  return data_loss("unknown object type '" + excerpt(name) + "'");
}

Result<ObjectView> parse_object(std::string_view content) {
  const size_t nul = content.find('\0');
  if (nul == std::string_view::npos) {
    return data_loss("object has no NUL between head and body (starts with '" + excerpt(content) +
                     "')");
  }
  const std::string_view head = content.substr(0, nul);
  const size_t sp1 = head.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : head.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || head.find(' ', sp2 + 1) != std::string_view::npos) {
    return data_loss("object head '" + excerpt(head) +
                     "' does not have exactly three space-separated fields");
  }
  ObjectView view;
  POLLEN_ASSIGN_OR_RETURN(view.type, object_type_from_name(head.substr(0, sp1)));
  POLLEN_ASSIGN_OR_RETURN(view.children, parse_child_ids(head.substr(sp1 + 1, sp2 - sp1 - 1)));
  const std::string_view len_text = head.substr(sp2 + 1);
  size_t declared = 0;
  auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), declared);
  if (ec != std::errc() || end != len_text.data() + len_text.size() || len_text.empty()) {
    return data_loss("object head has body length '" + excerpt(len_text) +
                     "', which is not a decimal number");
  }
  view.body = content.substr(nul + 1);
  if (declared != view.body.size()) {
    return data_loss(std::string(object_type_name(view.type)) + " object declares a body of " +
                     std::to_string(declared) + " bytes but has " +
                     std::to_string(view.body.size()));
  }
  return view;
}

std::string object_head(ObjectType type, const std::vector<std::string>& children,
                        size_t body_size) {
  std::string head(object_type_name(type));
  head += ' ';
  for (size_t i = 0; i < children.size(); ++i) {
    if (i > 0) head += ',';
    head += children[i];
  }
  head += ' ';
  head += std::to_string(body_size);
  head += '\0';
  return head;
}

std::string DeflatedObject::bytes() const {
  std::string out;
  out.reserve(size());
  out.append(head_);
  out.append(body_.view());
  return out;
}

std::string DeflatedObject::compute_id() const {
  Sha256 hasher;
  hasher.update(head_);
  hasher.update(body_.view());
  return hasher.hex_digest();
}

namespace {
void post_order(const ObjectTree& node, std::unordered_set<std::string>* seen,
                std::vector<std::string>* out) {
  for (const ObjectTree& child : node.children) post_order(child, seen, out);
  if (seen->insert(node.object_id).second) out->push_back(node.object_id);
}
}  // namespace

std::vector<std::string> post_order_ids(const ObjectTree& tree) {
  std::unordered_set<std::string> seen;
  std::vector<std::string> out;
  post_order(tree, &seen, &out);
  return out;
}

Status verify_object_id(std::string_view id, std::string_view content) {
  if (!is_object_id(id)) {
    return data_loss("'" + excerpt(id) + "' is not an object id (64 lowercase hex characters)");
  }
  const std::string actual = sha256_hex(content);
  if (actual != id) {
    return data_loss("object " + std::string(id) + " has SHA-256 " + actual +
                     ": its content does not match its id");
  }
  return Status::Ok();
}

Status ObjectStore::put(const std::string& id, Bytes content) {
  if (contains(id)) return Status::Ok();
  POLLEN_RETURN_IF_ERROR(verify_object_id(id, content.view()));
  POLLEN_RETURN_IF_ERROR(parse_object(content.view()).status().with_context("object " + id));
  objects_.emplace(id, std::move(content));
  return Status::Ok();
}

const Bytes* ObjectStore::find(const std::string& id) const {
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : &it->second;
}

}  // namespace pollen
