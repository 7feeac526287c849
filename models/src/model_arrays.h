// Private to models/: conversions between tensors and Flower Arrays with the
// dtype rules of Model::load_arrays and Model::reply_arrays.
#ifndef POLLEN_MODELS_SRC_MODEL_ARRAYS_H_
#define POLLEN_MODELS_SRC_MODEL_ARRAYS_H_

#include <torch/script.h>

#include <string>

#include "pollen/core/npy.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// numpy's name for a tensor dtype ("float32"), or LibTorch's ("BFloat16")
// when numpy has none.
std::string tensor_dtype_name(c10::ScalarType type);

// Encodes `tensor` (any device) in its own dtype as an Array, writing the
// elements once, straight into the .npy buffer. UNIMPLEMENTED for dtypes
// .npy cannot hold (bfloat16); INVALID_ARGUMENT for sparse tensors.
Result<Array> encode_tensor(const torch::Tensor& tensor);

// `array` as a CPU tensor of `target` dtype and `shape`, after the checks
// of load_arrays (shape, NaN/inf and range for integer targets, overflow
// for narrower floats). Errors do not name the array; callers add that.
Result<torch::Tensor> decode_for(const Array& array, c10::ScalarType target,
                                 c10::IntArrayRef shape);

// The reply Array for `received`: `tensor`'s values in the dtype (and, for
// legacy arrays, the empty dtype/shape fields) of `received`.
Result<Array> encode_like(const torch::Tensor& tensor, const Array& received);

}  // namespace pollen

#endif  // POLLEN_MODELS_SRC_MODEL_ARRAYS_H_
