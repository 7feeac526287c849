// FedAvg on a SuperLinkLite, sending and checking exactly what Flower's
// Message-API FedAvg strategy (flwr.serverapp.strategy.FedAvg) does, so that
// a node passing it would pass a real Flower ServerApp.
#ifndef POLLEN_SUPERLINK_LITE_FEDAVG_H_
#define POLLEN_SUPERLINK_LITE_FEDAVG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pollen/core/message.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"
#include "pollen/superlink_lite/superlink_lite.h"

namespace pollen {

struct FedAvgRound;

struct FedAvgConfig {
  int num_rounds = 1;
  // Sent as "config" with "server-round": <round> (int64) added.
  ConfigRecord train_config;
  ConfigRecord evaluate_config;
  // Longest wait for the replies of one train or evaluate step (Flower: 3600 s).
  std::chrono::milliseconds round_timeout{3'600'000};
  // How often replies are polled for (Flower's ServerApp: 3 s).
  std::chrono::milliseconds poll_interval{3'000};
  double ttl = kDefaultTtl;
  // Stock FedAvg multiplies arrays by a Python float, which turns integer
  // and bool arrays into float64 from round 2 on. Off: such arrays keep
  // their dtype (the average is rounded to the nearest value).
  bool promote_integers_to_float64 = true;
  std::string arrayrecord_key = "arrays";
  std::string configrecord_key = "config";
  std::string weighted_by_key = "num-examples";
  // Called after each round's evaluate step, on run_fedavg's thread, so a
  // caller can report progress while the run goes on. Optional.
  std::function<void(const FedAvgRound&)> on_round;
};

// What one step (train or evaluate) of a round received.
struct FedAvgStep {
  size_t sent = 0;
  size_t replies = 0;    // content replies aggregated
  size_t errors = 0;     // error replies (incl. the SuperLink's NODE_UNAVAILABLE) and failed sends
  size_t missing = 0;    // no answer within round_timeout
  MetricRecord metrics;  // weighted averages; empty without replies
};

struct FedAvgRound {
  int round = 0;
  FedAvgStep train;
  FedAvgStep evaluate;
};

struct FedAvgResult {
  ArrayRecord arrays;  // the global model after the last round
  std::vector<FedAvgRound> rounds;
};

// Runs `config.num_rounds` rounds of FedAvg in `run_id`: each round sends
// "train" to every node of `nodes` (empty: every node online at that
// moment), aggregates the replies into the new global arrays, then sends
// "evaluate" and averages the metrics. Error replies are counted and
// skipped, as in Flower. Fails, as Flower's ServerApp does, on replies that
// break the reply contract (see check_reply_consistency) and when no node
// is online.
Result<FedAvgResult> run_fedavg(SuperLinkLite& link, uint64_t run_id,
                                const std::vector<uint64_t>& nodes, ArrayRecord initial_arrays,
                                const FedAvgConfig& config);

// Flower's validate_message_reply_consistency over the contents of the
// content replies of one step: exactly one ArrayRecord (train only) and one
// MetricRecord each, the same keys in every reply, and `weighted_by_key` a
// single number. FAILED_PRECONDITION with Flower's reason otherwise.
Status check_reply_consistency(const std::vector<const RecordDict*>& replies,
                               const std::string& weighted_by_key, bool check_arrays);

// Flower's aggregate_arrayrecords: the weighted average of every array,
// weights num_examples_i / sum. Computed in double and returned in the
// first reply's dtype (float64 for integers and bool when `promote`).
Result<ArrayRecord> aggregate_array_records(const std::vector<const RecordDict*>& replies,
                                            const std::string& weighted_by_key, bool promote);

// Flower's aggregate_metricrecords: the weighted average of every metric
// except `weighted_by_key` (numbers become double, lists element-wise).
Result<MetricRecord> aggregate_metric_records(const std::vector<const RecordDict*>& replies,
                                              const std::string& weighted_by_key);

}  // namespace pollen

#endif  // POLLEN_SUPERLINK_LITE_FEDAVG_H_
