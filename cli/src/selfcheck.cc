#include "selfcheck.h"

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "pollen/core/deflate.h"
#include "pollen/core/inflate.h"
#include "pollen/core/proto_convert.h"
#include "pollen/core/signing.h"
#include "pollen/core/version.h"

namespace pollen::cli {

namespace {

// Known answers computed by Flower 1.28's own code for the reply described in
// make_reply() (they are the published protocol test vectors).
constexpr char kChunkId[] = "0bd55c552a4d962cf4398ecd7b71d1a05377410b9b904603b85f1760b8928530";
constexpr char kArrayRecordId[] =
    "c4af0da254aa53a2c081a07f76a6c926065e8139d826103ba13dfa0619d4ff5e";
constexpr char kReplyId[] = "e266c5d3b46c181c4298c997bafef2ea223cbe749056c2bc6cb0b2cb7521f34a";
constexpr char kErrorReplyId[] = "228bfcc03d9eda944b80137e4f8e045cc48dbcd4961a8f2a4012f5e3ca8968c2";

Metadata reply_metadata() {
  Metadata m;
  m.run_id = 1234;
  m.src_node_id = 5678;
  m.dst_node_id = kSuperLinkNodeId;
  m.reply_to_message_id = std::string(64, 'a');
  for (size_t i = 1; i < 64; i += 2) m.reply_to_message_id[i] = 'b';
  m.ttl = 3600.0;
  m.message_type = "train";
  m.created_at = 1767225600.25;
  return m;
}

Result<Message> make_reply() {
  const float values[] = {1, 2, 3, 4};
  POLLEN_ASSIGN_OR_RETURN(Array array,
                          Array::from_elements(DType::kFloat32, {2, 2}, values, sizeof(values)));
  ArrayRecord arrays;
  arrays.set("0", std::move(array));
  MetricRecord metrics;
  metrics.set("num-examples", int64_t{10});
  metrics.set("train_loss", 0.5);
  Message reply;
  reply.metadata = reply_metadata();
  reply.content.emplace();
  reply.content->set("arrays", std::move(arrays));
  reply.content->set("metrics", std::move(metrics));
  return reply;
}

Status expect_id(const std::string& what, const std::string& got, const char* want) {
  if (got == want) return Status::Ok();
  return internal_error(what + " id is " + got + ", Flower's is " + want);
}

Status check_reply_ids() {
  POLLEN_ASSIGN_OR_RETURN(Message reply, make_reply());
  POLLEN_ASSIGN_OR_RETURN(DeflatedMessage d, deflate_message(reply));
  POLLEN_RETURN_IF_ERROR(expect_id(
      "ArrayChunk", d.tree.children[0].children[0].children[0].children[0].object_id, kChunkId));
  POLLEN_RETURN_IF_ERROR(
      expect_id("ArrayRecord", d.tree.children[0].children[0].object_id, kArrayRecordId));
  return expect_id("reply Message", d.message_id, kReplyId);
}

Status check_error_reply_id() {
  Message reply;
  reply.metadata = reply_metadata();
  reply.error = Error{kErrorClientAppRaisedException, "boom"};
  POLLEN_ASSIGN_OR_RETURN(DeflatedMessage d, deflate_message(reply));
  return expect_id("error reply Message", d.message_id, kErrorReplyId);
}

Status check_round_trip() {
  POLLEN_ASSIGN_OR_RETURN(Message reply, make_reply());
  POLLEN_ASSIGN_OR_RETURN(DeflatedMessage d, deflate_message(reply, DeflateOptions{64}));
  ObjectStore store;
  for (const auto& [id, object] : d.objects)
    POLLEN_RETURN_IF_ERROR(store.put(id, Bytes(object.bytes())));
  POLLEN_ASSIGN_OR_RETURN(Message back, inflate_message(d.tree, store));
  reply.metadata.message_id = d.message_id;
  if (!(back.metadata == reply.metadata) || !(back.content == reply.content)) {
    return internal_error("inflated message differs from the original");
  }
  return Status::Ok();
}

Status check_signing() {
  POLLEN_ASSIGN_OR_RETURN(NodeKey key, NodeKey::generate());
  POLLEN_ASSIGN_OR_RETURN(SignedHeaders h, sign_request(key, std::chrono::system_clock::now()));
  POLLEN_RETURN_IF_ERROR(verify_signature(h.public_key, h.timestamp, h.signature));
  std::string tampered = h.timestamp;
  tampered[tampered.size() - 7] ^= 1;
  if (verify_signature(h.public_key, tampered, h.signature).ok()) {
    return internal_error("a signature verified for a tampered timestamp");
  }
  return Status::Ok();
}

}  // namespace

int run_selfcheck(std::ostream& out) {
  out << "Pollen " << kPollenVersion << " protocol self-check (Flower " << kFlowerProtocolVersion
      << " wire format; SuperLink " << kMinSuperLinkVersion << " to " << kMaxSuperLinkVersion
      << ")\n";
  const std::vector<std::pair<const char*, std::function<Status()>>> checks = {
      {"train reply objects and message id match Flower's", check_reply_ids},
      {"error reply message id matches Flower's", check_error_reply_id},
      {"deflate -> inflate round trip (64-byte chunks)", check_round_trip},
      {"P-384 request signature verifies; tampered one fails", check_signing},
  };
  int failed = 0;
  for (const auto& [name, check] : checks) {
    const auto start = std::chrono::steady_clock::now();
    Status status = check();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    out << (status.ok() ? "  ok    " : "  FAIL  ") << name << " (" << ms << " ms)\n";
    if (!status.ok()) {
      out << "        " << status << "\n";
      ++failed;
    }
  }
  out << (failed == 0 ? "all checks passed\n" : std::to_string(failed) + " check(s) failed\n");
  return failed == 0 ? 0 : 1;
}

}  // namespace pollen::cli
