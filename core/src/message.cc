#include "pollen/core/message.h"

#include <chrono>

namespace pollen {

bool operator==(const Metadata& a, const Metadata& b) {
  return a.run_id == b.run_id && a.message_id == b.message_id && a.src_node_id == b.src_node_id &&
         a.dst_node_id == b.dst_node_id && a.reply_to_message_id == b.reply_to_message_id &&
         a.group_id == b.group_id && a.ttl == b.ttl && a.message_type == b.message_type &&
         a.created_at == b.created_at;
}

Status Message::check_content_or_error() const {
  if (content.has_value() == error.has_value()) {
    return invalid_argument(content ? "message has both content and an error"
                                    : "message has neither content nor an error");
  }
  return Status::Ok();
}

namespace {

bool is_category(std::string_view s) {
  return s == "train" || s == "evaluate" || s == "query" || s == "system";
}

// ASCII Python identifier (Flower's own action names are ASCII).
bool is_identifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

}  // namespace

std::pair<std::string_view, std::string_view> split_message_type(std::string_view type) {
  const size_t dot = type.find('.');
  if (dot == std::string_view::npos) return {type, {}};
  return {type.substr(0, dot), type.substr(dot + 1)};
}

Status validate_message_type(std::string_view type) {
  auto [category, action] = split_message_type(type);
  const bool has_dot = type.find('.') != std::string_view::npos;
  if (is_category(category) && (!has_dot || is_identifier(action))) return Status::Ok();
  return invalid_argument("invalid message type '" + std::string(type) +
                          "': expected train, evaluate, query or system, optionally followed by "
                          "'.<identifier>'");
}

Metadata make_reply_metadata(const Metadata& instruction, uint64_t node_id, double now) {
  Metadata reply;
  reply.run_id = instruction.run_id;
  reply.src_node_id = node_id;
  reply.dst_node_id = instruction.src_node_id;
  reply.reply_to_message_id = instruction.message_id;
  reply.group_id = instruction.group_id;
  reply.message_type = instruction.message_type;
  reply.created_at = now;
  reply.ttl = instruction.created_at + instruction.ttl - now;
  return reply;
}

double unix_now() {
  using std::chrono::duration;
  using std::chrono::system_clock;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace pollen
