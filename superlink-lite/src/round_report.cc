#include "round_report.h"

#include <variant>

namespace pollen {
namespace {

using Json = nlohmann::ordered_json;

void print_metrics(std::ostream& out, const MetricRecord& metrics) {
  for (const auto& [key, value] : metrics) {
    out << " " << key << "=";
    if (const double* d = std::get_if<double>(&value)) {
      out << *d;
    } else if (const auto* list = std::get_if<std::vector<double>>(&value)) {
      out << "[" << list->size() << " values]";
    }
  }
}

void print_step(std::ostream& out, const char* name, const FedAvgStep& step) {
  out << "  " << name << ": " << step.replies << " replies, " << step.errors << " errors, "
      << step.missing << " missing;";
  print_metrics(out, step.metrics);
  out << "\n";
}

Json step_json(const FedAvgStep& step) {
  Json metrics = Json::object();
  for (const auto& [key, value] : step.metrics) {
    metrics[key] = std::visit([](const auto& v) { return Json(v); }, value);
  }
  return Json{{"replies", step.replies},
              {"errors", step.errors},
              {"missing", step.missing},
              {"metrics", std::move(metrics)}};
}

}  // namespace

void print_round(std::ostream& out, const FedAvgRound& round) {
  out << "round " << round.round << "\n";
  print_step(out, "train", round.train);
  print_step(out, "evaluate", round.evaluate);
}

Json round_json(const FedAvgRound& round, double seconds) {
  return Json{{"round", round.round},
              {"train", step_json(round.train)},
              {"evaluate", step_json(round.evaluate)},
              {"seconds", seconds}};
}

}  // namespace pollen
