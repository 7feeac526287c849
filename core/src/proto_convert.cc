#include "pollen/core/proto_convert.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "pollen/core/sha256.h"

namespace pollen {

namespace fp = flwr::proto;

void to_proto(const Metadata& m, fp::Metadata* out) {
  out->set_run_id(m.run_id);
  out->set_message_id(m.message_id);
  out->set_src_node_id(m.src_node_id);
  out->set_dst_node_id(m.dst_node_id);
  out->set_reply_to_message_id(m.reply_to_message_id);
  out->set_group_id(m.group_id);
  out->set_ttl(m.ttl);
  out->set_message_type(m.message_type);
  out->set_created_at(m.created_at);
}

Metadata from_proto(const fp::Metadata& m) {
  Metadata out;
  out.run_id = m.run_id();
  out.message_id = m.message_id();
  out.src_node_id = m.src_node_id();
  out.dst_node_id = m.dst_node_id();
  out.reply_to_message_id = m.reply_to_message_id();
  out.group_id = m.group_id();
  out.ttl = m.ttl();
  out.message_type = m.message_type();
  out.created_at = m.created_at();
  return out;
}

void to_proto(const Error& e, fp::Error* out) {
  out->set_code(e.code);
  out->set_reason(e.reason);
}

Error from_proto(const fp::Error& e) { return Error{e.code(), e.reason()}; }

void to_proto(const ObjectTree& tree, fp::ObjectTree* out) {
  out->set_object_id(tree.object_id);
  for (const ObjectTree& child : tree.children) to_proto(child, out->add_children());
}

namespace {

// Message > RecordDict > ArrayRecord > Array > ArrayChunk.
constexpr int kMaxTreeDepth = 5;

Result<ObjectTree> tree_from_proto(const fp::ObjectTree& tree, int depth) {
  if (depth > kMaxTreeDepth) {
    return data_loss("object tree is deeper than a Message can be (" +
                     std::to_string(kMaxTreeDepth) + " levels)");
  }
  if (!is_object_id(tree.object_id())) {
    return data_loss("object tree holds an id that is not 64 lowercase hex characters");
  }
  ObjectTree out;
  out.object_id = tree.object_id();
  out.children.reserve(tree.children_size());
  for (const fp::ObjectTree& child : tree.children()) {
    POLLEN_ASSIGN_OR_RETURN(ObjectTree node, tree_from_proto(child, depth + 1));
    out.children.push_back(std::move(node));
  }
  return out;
}

template <typename T, typename List>
std::vector<T> list_values(const List& list) {
  return std::vector<T>(list.vals().begin(), list.vals().end());
}

}  // namespace

Result<ObjectTree> from_proto(const fp::ObjectTree& tree) { return tree_from_proto(tree, 1); }

void to_proto(const MetricRecord& record, fp::MetricRecord* out) {
  for (const auto& [key, value] : record) {
    fp::MetricRecord::Item* item = out->add_items();
    item->set_key(key);
    fp::MetricRecordValue* v = item->mutable_value();
    std::visit(
        [v](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, int64_t>)
            v->set_sint64(x);
          else if constexpr (std::is_same_v<T, uint64_t>)
            v->set_uint64(x);
          else if constexpr (std::is_same_v<T, double>)
            v->set_double_(x);
          else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
            v->mutable_sint_list()->mutable_vals()->Add(x.begin(), x.end());
          else if constexpr (std::is_same_v<T, std::vector<uint64_t>>)
            v->mutable_uint_list()->mutable_vals()->Add(x.begin(), x.end());
          else
            v->mutable_double_list()->mutable_vals()->Add(x.begin(), x.end());
        },
        value);
  }
}

Result<MetricRecord> from_proto(const fp::MetricRecord& record) {
  MetricRecord out;
  for (const fp::MetricRecord::Item& item : record.items()) {
    const fp::MetricRecordValue& v = item.value();
    switch (v.value_case()) {
      case fp::MetricRecordValue::kSint64:
        out.set(item.key(), int64_t{v.sint64()});
        break;
      case fp::MetricRecordValue::kUint64:
        out.set(item.key(), uint64_t{v.uint64()});
        break;
      case fp::MetricRecordValue::kDouble:
        out.set(item.key(), v.double_());
        break;
      case fp::MetricRecordValue::kSintList:
        out.set(item.key(), list_values<int64_t>(v.sint_list()));
        break;
      case fp::MetricRecordValue::kUintList:
        out.set(item.key(), list_values<uint64_t>(v.uint_list()));
        break;
      case fp::MetricRecordValue::kDoubleList:
        out.set(item.key(), list_values<double>(v.double_list()));
        break;
      default:
        return data_loss("metric '" + item.key() + "' has no value of a known kind");
    }
  }
  return out;
}

void to_proto(const ConfigRecord& record, fp::ConfigRecord* out) {
  for (const auto& [key, value] : record) {
    fp::ConfigRecord::Item* item = out->add_items();
    item->set_key(key);
    fp::ConfigRecordValue* v = item->mutable_value();
    std::visit(
        [v](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, int64_t>)
            v->set_sint64(x);
          else if constexpr (std::is_same_v<T, uint64_t>)
            v->set_uint64(x);
          else if constexpr (std::is_same_v<T, double>)
            v->set_double_(x);
          else if constexpr (std::is_same_v<T, bool>)
            v->set_bool_(x);
          else if constexpr (std::is_same_v<T, std::string>)
            v->set_string(x);
          else if constexpr (std::is_same_v<T, Blob>)
            v->set_bytes(x.bytes);
          else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
            v->mutable_sint_list()->mutable_vals()->Add(x.begin(), x.end());
          else if constexpr (std::is_same_v<T, std::vector<uint64_t>>)
            v->mutable_uint_list()->mutable_vals()->Add(x.begin(), x.end());
          else if constexpr (std::is_same_v<T, std::vector<double>>)
            v->mutable_double_list()->mutable_vals()->Add(x.begin(), x.end());
          else if constexpr (std::is_same_v<T, std::vector<bool>>)
            for (bool b : x) v->mutable_bool_list()->add_vals(b);
          else if constexpr (std::is_same_v<T, std::vector<std::string>>)
            for (const auto& s : x) v->mutable_string_list()->add_vals(s);
          else
            for (const Blob& b : x) v->mutable_bytes_list()->add_vals(b.bytes);
        },
        value);
  }
}

Result<ConfigRecord> from_proto(const fp::ConfigRecord& record) {
  using V = fp::ConfigRecordValue;
  ConfigRecord out;
  for (const fp::ConfigRecord::Item& item : record.items()) {
    const V& v = item.value();
    const std::string& key = item.key();
    switch (v.value_case()) {
      case V::kSint64:
        out.set(key, int64_t{v.sint64()});
        break;
      case V::kUint64:
        out.set(key, uint64_t{v.uint64()});
        break;
      case V::kDouble:
        out.set(key, v.double_());
        break;
      case V::kBool:
        out.set(key, v.bool_());
        break;
      case V::kString:
        out.set(key, v.string());
        break;
      case V::kBytes:
        out.set(key, Blob{v.bytes()});
        break;
      case V::kSintList:
        out.set(key, list_values<int64_t>(v.sint_list()));
        break;
      case V::kUintList:
        out.set(key, list_values<uint64_t>(v.uint_list()));
        break;
      case V::kDoubleList:
        out.set(key, list_values<double>(v.double_list()));
        break;
      case V::kBoolList:
        out.set(key, list_values<bool>(v.bool_list()));
        break;
      case V::kStringList:
        out.set(key, list_values<std::string>(v.string_list()));
        break;
      case V::kBytesList: {
        std::vector<Blob> blobs;
        for (const std::string& b : v.bytes_list().vals()) blobs.push_back(Blob{b});
        out.set(key, std::move(blobs));
        break;
      }
      default:
        return data_loss("config '" + key + "' has no value of a known kind");
    }
  }
  return out;
}

fp::Message to_wire_message(const Message& message) {
  fp::Message out;
  to_proto(message.metadata, out.mutable_metadata());
  if (message.error) {
    to_proto(*message.error, out.mutable_error());
  } else {
    out.mutable_content();  // present but empty: the SuperLink requires it
  }
  return out;
}

std::string serialize_deterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace pollen
