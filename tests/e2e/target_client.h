// TargetClient: a trivial Client for end-to-end tests whose FedAvg result
// can be computed by hand.
#ifndef POLLEN_TESTS_E2E_TARGET_CLIENT_H_
#define POLLEN_TESTS_E2E_TARGET_CLIENT_H_

#include <cmath>
#include <cstring>
#include <vector>

#include "pollen/core/client.h"

namespace pollen {

// Moves every float array halfway towards the node's own target value, so
// FedAvg's result can be computed by hand: g' = g/2 + (weighted mean of
// targets)/2. Other arrays go back unchanged (FedAvg may send them as
// float64 from round 2 on; that must be fine too).
class TargetClient final : public DispatchingClient {
 public:
  TargetClient(double target, int64_t examples) : target_(target), examples_(examples) {}

 protected:
  Result<RecordDict> train(const Message& m) override {
    const ArrayRecord* arrays = find_array_record(*m.content, "arrays");
    if (arrays == nullptr) return invalid_argument("no 'arrays' record");
    ArrayRecord out;
    double loss = 0;
    for (const auto& [name, array] : *arrays) {
      POLLEN_ASSIGN_OR_RETURN(NpyArray npy, array.to_npy());
      if (npy.dtype != DType::kFloat32) {
        out.set(name, array);
        continue;
      }
      std::vector<float> v(npy.num_elements());
      std::memcpy(v.data(), npy.data.data(), v.size() * sizeof(float));
      for (float& x : v) {
        loss += std::fabs(x - target_);
        x = static_cast<float>(x + 0.5 * (target_ - x));
      }
      POLLEN_ASSIGN_OR_RETURN(Array a, Array::from_elements(DType::kFloat32, npy.shape, v.data(),
                                                            v.size() * sizeof(float)));
      out.set(name, std::move(a));
    }
    RecordDict reply;
    reply.set("arrays", std::move(out));
    MetricRecord metrics;
    metrics.set("train_loss", loss);
    metrics.set("num-examples", examples_);
    reply.set("metrics", std::move(metrics));
    return reply;
  }
  Result<RecordDict> evaluate(const Message& m) override {
    const ArrayRecord* arrays = find_array_record(*m.content, "arrays");
    if (arrays == nullptr) return invalid_argument("no 'arrays' record");
    POLLEN_ASSIGN_OR_RETURN(NpyArray w, arrays->find("w")->to_npy());
    float first = 0;
    std::memcpy(&first, w.data.data(), sizeof(float));
    RecordDict reply;
    MetricRecord metrics;
    metrics.set("eval_loss", std::fabs(first - target_));
    metrics.set("num-examples", examples_);
    reply.set("metrics", std::move(metrics));
    return reply;
  }

 private:
  double target_;
  int64_t examples_;
};

}  // namespace pollen

#endif  // POLLEN_TESTS_E2E_TARGET_CLIENT_H_
