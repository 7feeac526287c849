// Shared by the dataset readers: the in-memory dataset they all produce and
// the per-format entry points open_dataset() dispatches to.
#ifndef POLLEN_MODELS_DATASET_INTERNAL_H_
#define POLLEN_MODELS_DATASET_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pollen/core/status.h"
#include "pollen/models/dataset.h"

namespace pollen::internal {

// `size` samples stored back to back: x holds size * prod(x_shape) floats,
// y size * prod(y_shape).
struct DenseData {
  size_t size = 0;
  std::vector<float> x;
  std::vector<int64_t> x_shape;
  std::vector<float> y;
  std::vector<int64_t> y_shape;
  bool labels_are_classes = false;
};

// Applies options.labels_are_classes, checks that class labels are
// non-negative integer scalars and that there is at least one sample, and
// wraps `data` as an immutable Dataset. Errors start with `source`.
Result<std::unique_ptr<Dataset>> make_dense_dataset(DenseData data, const std::string& source,
                                                    const DataOptions& options);

// The whole file; NOT_FOUND when missing, INVALID_ARGUMENT when empty.
Result<std::string> read_data_file(const std::string& path);

Result<std::unique_ptr<Dataset>> read_csv_dataset(const std::string& path,
                                                  const DataOptions& options);
Result<std::unique_ptr<Dataset>> read_pt_dataset(const std::string& path,
                                                 const DataOptions& options);

}  // namespace pollen::internal

#endif  // POLLEN_MODELS_DATASET_INTERNAL_H_
