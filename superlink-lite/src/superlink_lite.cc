#include "pollen/superlink_lite/superlink_lite.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "fleet_server.h"
#include "link_state.h"

namespace pollen {

struct SuperLinkLite::Impl {
  explicit Impl(const SuperLinkOptions& options)
      : options(options), state(options.enable_supernode_auth) {}

  // Sleeps up to `duration`; false when shutdown began.
  bool sleep_for(std::chrono::milliseconds duration) {
    std::unique_lock<std::mutex> lock(mu);
    return !stop_cv.wait_for(lock, duration, [this] { return stopping; });
  }

  const SuperLinkOptions options;
  LinkState state;
  std::unique_ptr<FleetServer> server;  // after the state it serves
  std::mutex mu;
  std::condition_variable stop_cv;
  bool stopping = false;
};

Result<std::unique_ptr<SuperLinkLite>> SuperLinkLite::start(const SuperLinkOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  POLLEN_ASSIGN_OR_RETURN(impl->server, FleetServer::start(options, &impl->state));
  return std::unique_ptr<SuperLinkLite>(new SuperLinkLite(std::move(impl)));
}

SuperLinkLite::SuperLinkLite(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SuperLinkLite::~SuperLinkLite() { shutdown(); }

int SuperLinkLite::port() const { return impl_->server->port(); }

std::string SuperLinkLite::address() const {
  const std::string& configured = impl_->options.address;
  const size_t colon = configured.rfind(':');
  const std::string host = colon == std::string::npos ? configured : configured.substr(0, colon);
  return host + ":" + std::to_string(port());
}

uint64_t SuperLinkLite::create_run() { return impl_->state.create_run(); }

Status SuperLinkLite::finish_run(uint64_t run_id) { return impl_->state.finish_run(run_id); }

Result<uint64_t> SuperLinkLite::register_node_key(const std::string& public_key_pem) {
  return impl_->state.register_node_key(public_key_pem);
}

std::vector<uint64_t> SuperLinkLite::online_nodes() const { return impl_->state.online_nodes(); }

Result<std::vector<uint64_t>> SuperLinkLite::wait_for_nodes(size_t count,
                                                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    std::vector<uint64_t> nodes = online_nodes();
    if (nodes.size() >= count) return nodes;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds(0)) {
      return Status(StatusCode::kDeadlineExceeded, std::to_string(nodes.size()) + " of " +
                                                       std::to_string(count) +
                                                       " nodes online when the wait timed out");
    }
    if (!impl_->sleep_for(std::min(left, std::chrono::milliseconds(100)))) {
      return Status(StatusCode::kCancelled, "the SuperLink is shutting down");
    }
  }
}

Result<std::string> SuperLinkLite::push_instruction(uint64_t run_id, uint64_t dst_node_id,
                                                    const std::string& message_type,
                                                    RecordDict content, double ttl,
                                                    const std::string& group_id) {
  return impl_->state.push_instruction(run_id, dst_node_id, message_type, std::move(content), ttl,
                                       group_id);
}

std::optional<Message> SuperLinkLite::get_reply(const std::string& instruction_id) {
  return impl_->state.get_reply(instruction_id);
}

std::map<std::string, Message> SuperLinkLite::wait_for_replies(
    const std::vector<std::string>& instruction_ids, std::chrono::milliseconds timeout,
    std::chrono::milliseconds poll_interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::map<std::string, Message> replies;
  while (true) {
    for (const std::string& id : instruction_ids) {
      if (replies.count(id) != 0) continue;
      if (std::optional<Message> reply = get_reply(id)) replies.emplace(id, std::move(*reply));
    }
    if (replies.size() >= instruction_ids.size()) return replies;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds(0)) return replies;
    const auto pause = std::max(poll_interval, std::chrono::milliseconds(1));
    if (!impl_->sleep_for(std::min(left, pause))) return replies;
  }
}

std::vector<CallRecord> SuperLinkLite::call_log() const { return impl_->server->call_log(); }

void SuperLinkLite::clear_call_log() { impl_->server->clear_call_log(); }

void SuperLinkLite::shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  impl_->server->shutdown();
}

}  // namespace pollen
