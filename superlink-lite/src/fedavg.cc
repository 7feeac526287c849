// The round loop of Flower's Strategy.start() with FedAvg's
// configure/aggregate steps, driving a SuperLinkLite in place of a Grid.
#include "pollen/superlink_lite/fedavg.h"

namespace pollen {

namespace {

// Sends `content` as `message_type` to every target node and waits for the
// answers; returns the content replies, counting the rest in `step`.
Result<std::vector<Message>> send_and_receive(SuperLinkLite& link, uint64_t run_id,
                                              const std::vector<uint64_t>& nodes,
                                              const std::string& message_type,
                                              const RecordDict& content, const FedAvgConfig& config,
                                              FedAvgStep* step) {
  const std::vector<uint64_t> targets = nodes.empty() ? link.online_nodes() : nodes;
  if (targets.empty()) return failed_precondition("no node is online");
  std::vector<std::string> ids;
  for (uint64_t node : targets) {
    Result<std::string> id = link.push_instruction(run_id, node, message_type, content, config.ttl);
    if (id.ok()) {
      ids.push_back(*id);
    } else {
      ++step->errors;
    }
  }
  step->sent = ids.size();
  std::map<std::string, Message> answers =
      link.wait_for_replies(ids, config.round_timeout, config.poll_interval);
  std::vector<Message> replies;
  for (const std::string& id : ids) {
    auto it = answers.find(id);
    if (it == answers.end()) {
      ++step->missing;
    } else if (it->second.has_error() || !it->second.has_content()) {
      ++step->errors;
    } else {
      replies.push_back(std::move(it->second));
    }
  }
  step->replies = replies.size();
  return replies;
}

std::vector<const RecordDict*> contents(const std::vector<Message>& replies) {
  std::vector<const RecordDict*> out;
  for (const Message& reply : replies) out.push_back(&*reply.content);
  return out;
}

RecordDict instruction_content(const FedAvgConfig& config, const ArrayRecord& arrays,
                               ConfigRecord step_config, int round) {
  step_config.set("server-round", int64_t{round});
  RecordDict content;
  content.set(config.arrayrecord_key, arrays);
  content.set(config.configrecord_key, std::move(step_config));
  return content;
}

}  // namespace

Result<FedAvgResult> run_fedavg(SuperLinkLite& link, uint64_t run_id,
                                const std::vector<uint64_t>& nodes, ArrayRecord initial_arrays,
                                const FedAvgConfig& config) {
  FedAvgResult result;
  result.arrays = std::move(initial_arrays);
  const std::string& weight_key = config.weighted_by_key;
  for (int round = 1; round <= config.num_rounds; ++round) {
    FedAvgRound summary;
    summary.round = round;

    RecordDict train = instruction_content(config, result.arrays, config.train_config, round);
    POLLEN_ASSIGN_OR_RETURN(
        std::vector<Message> train_replies,
        send_and_receive(link, run_id, nodes, "train", train, config, &summary.train));
    const std::vector<const RecordDict*> trained = contents(train_replies);
    POLLEN_RETURN_IF_ERROR(check_reply_consistency(trained, weight_key, /*check_arrays=*/true)
                               .with_context("round " + std::to_string(round) + " train"));
    if (!trained.empty()) {
      POLLEN_ASSIGN_OR_RETURN(
          result.arrays,
          aggregate_array_records(trained, weight_key, config.promote_integers_to_float64));
      POLLEN_ASSIGN_OR_RETURN(summary.train.metrics, aggregate_metric_records(trained, weight_key));
    }

    RecordDict evaluate = instruction_content(config, result.arrays, config.evaluate_config, round);
    POLLEN_ASSIGN_OR_RETURN(
        std::vector<Message> evaluate_replies,
        send_and_receive(link, run_id, nodes, "evaluate", evaluate, config, &summary.evaluate));
    const std::vector<const RecordDict*> evaluated = contents(evaluate_replies);
    POLLEN_RETURN_IF_ERROR(check_reply_consistency(evaluated, weight_key, /*check_arrays=*/false)
                               .with_context("round " + std::to_string(round) + " evaluate"));
    if (!evaluated.empty()) {
      POLLEN_ASSIGN_OR_RETURN(summary.evaluate.metrics,
                              aggregate_metric_records(evaluated, weight_key));
    }
    if (config.on_round) config.on_round(summary);
    result.rounds.push_back(std::move(summary));
  }
  return result;
}

}  // namespace pollen
