#include "test_node.h"

#include <chrono>

namespace pollen::testing {

TestNode::TestNode(const std::string& target, Respond respond)
    : client_(target), respond_(std::move(respond)) {
  grpc::Status registered = client_.register_node();
  grpc::Status activated = registered.ok() ? client_.activate(30.0) : registered;
  if (!activated.ok()) {
    status_ = Status(StatusCode::kUnavailable, "node start: " + describe(activated));
    return;
  }
  thread_ = std::thread([this] { loop(); });
}

TestNode::~TestNode() { stop(); }

void TestNode::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<std::string> TestNode::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

void TestNode::loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return stop_; })) {
        return;
      }
    }
    fp::PullMessagesResponse pulled;
    grpc::Status status = client_.pull_messages(&pulled);
    if (status.ok() && pulled.messages_list_size() > 0) handle(pulled);
  }
}

void TestNode::handle(const fp::PullMessagesResponse& pulled) {
  auto fail = [this](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.push_back(what);
  };
  ObjectStore objects;
  Result<Message> instruction =
      client_.fetch(pulled.messages_list(0), pulled.message_object_trees(0), &objects);
  if (!instruction.ok()) return fail(instruction.status().to_string());
  const Metadata& md = instruction->metadata;
  grpc::Status confirmed = client_.confirm(md.run_id, md.message_id);
  if (!confirmed.ok()) return fail("confirm: " + describe(confirmed));

  Message reply;
  reply.metadata = make_reply_metadata(md, client_.node_id(), unix_now());
  Result<RecordDict> content = respond_(*instruction);
  if (content.ok()) {
    reply.content = std::move(content).value();
  } else {
    reply.error = Error{kErrorClientAppRaisedException, content.status().message()};
  }
  Result<fp::PushMessagesResponse> pushed = client_.send_reply(&reply);
  if (!pushed.ok()) return fail(pushed.status().to_string());
  if (pushed->results().count(reply.metadata.message_id) == 0) return fail("reply rejected");
  answered_.fetch_add(1);
}

}  // namespace pollen::testing
