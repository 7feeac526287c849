// A TorchScript model on a device, and its weights as Flower ArrayRecords.
//
// Model is the one object the rest of Pollen holds for a network: it loads
// the TorchScript file onto the chosen device, turns its state_dict into the
// ArrayRecord Flower expects, loads the ArrayRecord a strategy sends back
// into the module, and builds the reply record in the dtypes the server sent.
//
// This header does not include LibTorch; no LibTorch exception leaves a
// Model method. A Model is not thread-safe: one thread uses it at a time.
#ifndef POLLEN_MODELS_MODEL_H_
#define POLLEN_MODELS_MODEL_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

struct ModelOptions {
  // "auto" (CUDA when LibTorch sees a GPU, else the CPU), "cpu", "cuda" or
  // "cuda:N".
  std::string device = "auto";
  // Intra-op threads; 0 keeps LibTorch's default (one per physical core).
  // LibTorch's thread pool is per process, so this applies to every Model.
  int threads = 0;
};

// Whether LibTorch can use a CUDA device in this process.
bool cuda_available();

// The LibTorch version this build uses, e.g. "1.13.0".
std::string libtorch_version();

class Model {
 public:
  // Loads the TorchScript file `path` onto options.device. Errors name the
  // file: NOT_FOUND when it is missing; INVALID_ARGUMENT for a file that is
  // not TorchScript, a model with no parameter that requires grad, or a
  // malformed device string; FAILED_PRECONDITION for a CUDA device that is
  // not available.
  static Result<std::unique_ptr<Model>> load(const std::string& path,
                                             const ModelOptions& options = {});

  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // "cpu" or "cuda:N".
  std::string device_name() const;

  // The module's state_dict as Flower Arrays, in PyTorch's state_dict order
  // (see state_dict.h). Each tensor is copied once, straight from the device
  // into its .npy buffer. UNIMPLEMENTED for dtypes .npy cannot hold
  // (bfloat16).
  Result<ArrayRecord> state_dict() const;

  // Copies the arrays of `received` into the module's parameters and
  // buffers. Keys are either the state_dict names (any order) or Flower's
  // NumPy-list keys "0".."n-1" in state_dict order; every entry must be
  // present exactly once. Values are converted to each tensor's dtype:
  // floats to floats freely; floats to integers and bool by rounding to the
  // nearest integer (ties to even, as numpy.rint), bool being "nonzero";
  // NaN, infinities and out-of-range values are refused, as are complex,
  // uint16/32/64 and non-numeric arrays. Everything is checked before any
  // tensor is written, so on error the model is unchanged. Errors name the
  // key (and its state_dict name when keyed by position).
  Status load_arrays(const ArrayRecord& received);

  // The reply to `received`: the same keys in the same order, each array
  // holding the current value of the tensor it maps to (as in load_arrays)
  // in the dtype received, so a float64 array sent for an int64 buffer goes
  // back as float64. An array received in the legacy form (dtype "" and
  // shape []) is answered in the same form. Tensor values go to the .npy
  // bytes in one copy, except when an integer or bool dtype is received for
  // a tensor of another dtype (rounded and range-checked as in load_arrays).
  Result<ArrayRecord> reply_arrays(const ArrayRecord& received) const;

  // Elements of the parameters with requires_grad (of those whose names
  // start with one of `prefixes`, when given: what TrainConfig's
  // trainable_prefixes trains), and their names in state_dict order.
  size_t num_trainable_parameters(const std::vector<std::string>& prefixes = {}) const;
  std::vector<std::string> trainable_names() const;

  // LibTorch state for code inside models/ (src/model_impl.h defines it).
  struct Impl;
  Impl& impl() { return *impl_; }
  const Impl& impl() const { return *impl_; }

 private:
  explicit Model(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace pollen

#endif  // POLLEN_MODELS_MODEL_H_
