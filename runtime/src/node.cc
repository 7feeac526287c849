#include "pollen/runtime/node.h"

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>

#include "heartbeat.h"
#include "pollen/runtime/log.h"

namespace pollen {

namespace {

using Seconds = std::chrono::duration<double>;

std::string short_id(const std::string& id) { return id.substr(0, 8); }

// "1.234 s": durations in log lines, to the millisecond.
std::string seconds_text(Seconds d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f s", d.count());
  return text;
}

// What the handler did, for the log: "train", "evaluate", "query", ...
std::string category(const std::string& message_type) {
  return std::string(split_message_type(message_type).first);
}

// Runs the user's Client, turning a failure (or an exception escaping user
// code) into an Error reply, as Flower's SuperNode does for a ClientApp.
Message answer(Client& client, const Instruction& instruction, uint64_t node_id) {
  Message reply;
  Result<RecordDict> content = internal_error("not run");
  if (!instruction.status.ok()) {
    content = Status(instruction.status.code(),
                     "Pollen could not read the instruction: " + instruction.status.message());
  } else {
    try {
      content = client.handle(*instruction.message);
    } catch (const std::exception& e) {
      content = internal_error(std::string("client raised an exception: ") + e.what());
    } catch (...) {
      content = internal_error("client raised an unknown exception");
    }
  }
  reply.metadata = make_reply_metadata(instruction.metadata, node_id, unix_now());
  if (content.ok()) {
    reply.content = std::move(content).value();
  } else {
    reply.error = Error{kErrorClientAppRaisedException, content.status().to_string()};
  }
  return reply;
}

class NodeLoop {
 public:
  NodeLoop(Connection& connection, Client& client, const NodeOptions& options, const StopFlag& stop,
           NodeStats* stats)
      : connection_(connection), client_(client), options_(options), stop_(stop), stats_(stats) {}

  Status run() {
    POLLEN_RETURN_IF_ERROR(connect());
    heartbeat_ = std::make_unique<Heartbeat>(connection_);
    Status result = loop();
    if (result.ok() && options_.max_replies > 0 && stats_->replies >= options_.max_replies) {
      POLLEN_LOG(Info) << "Sent " << stats_->replies << " replies; staying online for "
                       << options_.linger << " s so the server can collect them";
      stop_.wait_for(Seconds(options_.linger));
    }
    heartbeat_.reset();  // stop heartbeats before leaving, as Flower does
    const Status bye = connection_.disconnect();
    if (!bye.ok()) POLLEN_LOG(Warning) << "Disconnect: " << bye.message();
    POLLEN_LOG(Info) << "Disconnected from the SuperLink";
    return result;
  }

 private:
  Status connect() {
    Status status = connection_.connect();
    if (!status.ok()) return status.with_context("cannot connect to the SuperLink");
    POLLEN_LOG(Info) << "Connected as node " << connection_.node_id();
    return Status::Ok();
  }

  // Connects again after the SuperLink lost this node (e.g. it restarted).
  Status reconnect() {
    for (int attempt = 1; !stop_.stop_requested(); ++attempt) {
      ++stats_->reconnects;
      POLLEN_LOG(Warning) << "The SuperLink no longer knows this node; registering again";
      Status status = connect();
      if (status.ok()) return status;
      POLLEN_LOG(Error) << status.message();
      if (options_.max_reconnects > 0 && attempt >= options_.max_reconnects) return status;
      stop_.wait_for(Seconds(options_.poll_interval));
    }
    return Status::Ok();
  }

  bool done() const {
    return stop_.stop_requested() ||
           (options_.max_replies > 0 && stats_->replies >= options_.max_replies);
  }

  Status loop() {
    while (!done()) {
      if (heartbeat_->lost_node() == connection_.node_id()) POLLEN_RETURN_IF_ERROR(reconnect());
      const auto pull_start = std::chrono::steady_clock::now();
      Result<std::optional<Instruction>> received = connection_.receive();
      if (!received.ok()) {
        POLLEN_RETURN_IF_ERROR(on_error("PullMessages", received.status()));
        continue;
      }
      if (!received->has_value()) {
        stop_.wait_for(Seconds(options_.poll_interval));
        continue;
      }
      POLLEN_RETURN_IF_ERROR(serve(**received, pull_start));
    }
    return Status::Ok();
  }

  // What to do when a call fails: reconnect, drop, or give up.
  Status on_error(const char* what, const Status& status) {
    // A stop requested while a call was retrying ends that call with
    // CANCELLED: the way out, not an error.
    if (stop_.stop_requested() && status.code() == StatusCode::kCancelled) return Status::Ok();
    switch (status.code()) {
      case StatusCode::kUnauthenticated:
        return reconnect();
      case StatusCode::kPermissionDenied:
        POLLEN_LOG(Info) << what << ": the run is not running (" << status.message()
                         << "); message dropped";
        ++stats_->dropped;
        return Status::Ok();
      case StatusCode::kUnavailable:
      case StatusCode::kDeadlineExceeded:
      case StatusCode::kCancelled:
        return status.with_context("giving up after the configured retries");
      default: {
        const std::string& message = status.message();
        const bool named = message.rfind(what, 0) == 0;  // transport errors start with the call
        POLLEN_LOG(Error) << (named ? "" : std::string(what) + ": ") << message;
        stop_.wait_for(Seconds(options_.poll_interval));
        return Status::Ok();
      }
    }
  }

  // `pulled_from`: when the call that brought the instruction started, so
  // the log line covers pull, handling and push.
  Status serve(const Instruction& instruction, std::chrono::steady_clock::time_point pulled_from) {
    ++stats_->instructions;
    const Metadata& m = instruction.metadata;
    POLLEN_LOG(Info) << "Received: " << m.message_type << " message " << short_id(m.message_id);
    if (m.created_at + m.ttl <= unix_now()) {
      POLLEN_LOG(Warning) << "Instruction " << short_id(m.message_id) << " expired; not answered";
      ++stats_->dropped;
      return Status::Ok();
    }
    const auto start = std::chrono::steady_clock::now();
    Message reply = answer(client_, instruction, connection_.node_id());
    const double runtime = Seconds(std::chrono::steady_clock::now() - start).count();
    if (reply.error && stop_.stop_requested()) {
      // Cut short by the stop: no reply. The node deactivates next, and the
      // SuperLink then reports it to the ServerApp as unavailable.
      POLLEN_LOG(Warning) << "Stopping: " << category(m.message_type) << " of "
                          << short_id(m.message_id) << " abandoned after "
                          << seconds_text(Seconds(runtime)) << " (" << reply.error->reason
                          << "); not answered";
      ++stats_->dropped;
      return Status::Ok();
    }
    if (reply.error) POLLEN_LOG(Error) << "Replying with an error: " << reply.error->reason;
    const auto push_start = std::chrono::steady_clock::now();
    const Status sent = connection_.send(reply, runtime);
    if (!sent.ok()) return on_error("PushMessages", sent);
    ++stats_->replies;
    if (reply.error) ++stats_->error_replies;
    const auto done = std::chrono::steady_clock::now();
    POLLEN_LOG(Info) << "Sent reply to " << short_id(m.message_id) << " in "
                     << seconds_text(done - pulled_from) << " (pull "
                     << seconds_text(start - pulled_from) << ", " << category(m.message_type) << " "
                     << seconds_text(Seconds(runtime)) << ", push "
                     << seconds_text(done - push_start) << ")";
    return Status::Ok();
  }

  Connection& connection_;
  Client& client_;
  const NodeOptions& options_;
  const StopFlag& stop_;
  NodeStats* stats_;
  std::unique_ptr<Heartbeat> heartbeat_;
};

}  // namespace

Status run_node(Connection& connection, Client& client, const NodeOptions& options,
                const StopFlag& stop, NodeStats* stats) {
  NodeStats local;
  return NodeLoop(connection, client, options, stop, stats ? stats : &local).run();
}

}  // namespace pollen
