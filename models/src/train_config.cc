// apply_server_config: the keys of a Flower train config, kept out of
// trainer.cc so that it compiles without LibTorch.
#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "pollen/models/trainer.h"

namespace pollen {
namespace {

Status key_error(const std::string& key, const std::string& what) {
  return invalid_argument("train config key '" + key + "': " + what);
}

Result<int64_t> int_at_least(const std::string& key, const ConfigValue& value, int64_t min) {
  Result<int64_t> v = config_as_int(value);
  if (!v.ok()) return key_error(key, v.status().message());
  if (*v < min) return key_error(key, "must be at least " + std::to_string(min));
  return *v;
}

// A finite number >= min (> min when `strict`).
Result<double> number_above(const std::string& key, const ConfigValue& value, double min,
                            bool strict) {
  Result<double> v = config_as_double(value);
  if (!v.ok()) return key_error(key, v.status().message());
  if (!std::isfinite(*v) || *v < min || (strict && *v == min)) {
    std::ostringstream bound;
    bound << min;  // "0", not std::to_string's "0.000000"
    return key_error(
        key, std::string("must be a finite number ") + (strict ? ">" : ">=") + " " + bound.str());
  }
  return *v;
}

Result<std::string> optimizer_name(const std::string& key, const ConfigValue& value) {
  const auto* text = std::get_if<std::string>(&value);
  if (!text) return key_error(key, "expected a string");
  std::string name;
  for (char c : *text) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name != "sgd" && name != "adam" && name != "adamw") {
    return key_error(key, "unknown optimizer '" + *text + "': expected sgd, adam or adamw");
  }
  return name;
}

Result<uint64_t> seed_value(const std::string& key, const ConfigValue& value) {
  if (const auto* v = std::get_if<uint64_t>(&value)) return *v;
  POLLEN_ASSIGN_OR_RETURN(int64_t v, int_at_least(key, value, 0));
  return static_cast<uint64_t>(v);
}

Status apply_key(const std::string& key, const ConfigValue& value, TrainConfig* c) {
  if (key == "lr") {
    POLLEN_ASSIGN_OR_RETURN(c->lr, number_above(key, value, 0, /*strict=*/true));
  } else if (key == "local-epochs") {
    POLLEN_ASSIGN_OR_RETURN(c->local_epochs, int_at_least(key, value, 1));
  } else if (key == "local-steps") {
    POLLEN_ASSIGN_OR_RETURN(c->local_steps, int_at_least(key, value, 0));
  } else if (key == "batch-size") {
    POLLEN_ASSIGN_OR_RETURN(c->batch_size, int_at_least(key, value, 1));
  } else if (key == "proximal-mu") {
    POLLEN_ASSIGN_OR_RETURN(c->proximal_mu, number_above(key, value, 0, /*strict=*/false));
  } else if (key == "momentum") {
    POLLEN_ASSIGN_OR_RETURN(c->momentum, number_above(key, value, 0, /*strict=*/false));
  } else if (key == "weight-decay") {
    POLLEN_ASSIGN_OR_RETURN(c->weight_decay, number_above(key, value, 0, /*strict=*/false));
  } else if (key == "clip-norm" || key == "clipping_norm") {
    POLLEN_ASSIGN_OR_RETURN(c->clip_norm, number_above(key, value, 0, /*strict=*/false));
  } else if (key == "optimizer") {
    POLLEN_ASSIGN_OR_RETURN(c->optimizer, optimizer_name(key, value));
  } else if (key == "seed") {
    POLLEN_ASSIGN_OR_RETURN(c->seed, seed_value(key, value));
  }
  return Status::Ok();
}

}  // namespace

Result<TrainConfig> apply_server_config(const ConfigRecord& config, TrainConfig defaults) {
  for (const auto& item : config) {
    POLLEN_RETURN_IF_ERROR(apply_key(item.first, item.second, &defaults));
  }
  return defaults;
}

}  // namespace pollen
