// How pollen-superlink-lite reports a FedAvg round: the lines it prints and
// the JSON line it appends to --metrics-out.
#ifndef POLLEN_SUPERLINK_LITE_SRC_ROUND_REPORT_H_
#define POLLEN_SUPERLINK_LITE_SRC_ROUND_REPORT_H_

#include <ostream>

#include <nlohmann/json.hpp>

#include "pollen/superlink_lite/fedavg.h"

namespace pollen {

// "round N", then one line each for train and evaluate: replies, errors,
// missing answers and the averaged metrics.
void print_round(std::ostream& out, const FedAvgRound& round);

// {"round":N,"train":{"replies":..,"errors":..,"missing":..,"metrics":{..}},
//  "evaluate":{..},"seconds":S}, S being the time since the run started.
nlohmann::ordered_json round_json(const FedAvgRound& round, double seconds);

}  // namespace pollen

#endif  // POLLEN_SUPERLINK_LITE_SRC_ROUND_REPORT_H_
