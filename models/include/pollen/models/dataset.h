// Training data on the device: the Dataset interface, readers for the files
// a Python user writes (torch.save, CSV, directories of shards), Flower-style
// partitioning and flower-supernode's --node-config syntax.
//
// Users feed their own data (sensor streams, camera frames) by implementing
// Dataset; the readers below are implementations of it too.
//
// This header does not include LibTorch.
#ifndef POLLEN_MODELS_DATASET_H_
#define POLLEN_MODELS_DATASET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pollen/core/node_config.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// One training example as row-major float elements plus shapes. x_shape and
// y_shape describe one sample (no batch dimension); a batch of samples gets a
// leading dimension. A class label is y = {label} with y_shape {} (so a batch
// is the [B] int64 target cross-entropy wants); a regression target keeps its
// own shape.
struct Sample {
  std::vector<float> x;
  std::vector<int64_t> x_shape;
  std::vector<float> y;
  std::vector<int64_t> y_shape;
};

// A fixed-size, random-access collection of samples. Every sample of one
// Dataset has the same x_shape and y_shape, so the feature shape of a
// dataset is that of its first sample (see feature_shape()).
//
// get() must be safe to call concurrently from several threads; the
// readers in this file hold their data in memory and are immutable.
class Dataset {
 public:
  virtual ~Dataset();

  virtual size_t size() const = 0;
  // Precondition-free: an index >= size() returns OUT_OF_RANGE.
  virtual Result<Sample> get(size_t index) const = 0;
  // True when y is a class index (y = {label}, y_shape {}), false for
  // regression targets.
  virtual bool labels_are_classes() const = 0;
};

// The x_shape of the first sample; FAILED_PRECONDITION for an empty dataset.
Result<std::vector<int64_t>> feature_shape(const Dataset& dataset);

struct DataOptions {
  enum class Header { kAuto, kPresent, kAbsent };

  // CSV: the label column, by header name or by zero-based index ("0",
  // "3"; negative counts from the end, "-1" is the last). A name is tried
  // first when the file has a header. Empty: the last column.
  std::string label_column;
  // CSV: kAuto treats the first line as a header when any of its cells is
  // not a number.
  Header csv_header = Header::kAuto;
  // Overrides what the file suggests (integer labels: classes; otherwise
  // regression). Classes must be non-negative integers, one per sample.
  std::optional<bool> labels_are_classes;
};

// Opens training data, chosen by what `path` is:
//   *.pt, *.pth  a file written by torch.save({"x": X, "y": Y}): X of shape
//                [N, ...] float or integer (converted to float), Y of shape
//                [N] or [N, ...]; integer Y means classes (Y must then be
//                [N]), floating Y regression. Other keys are ignored.
//   *.csv        numeric cells separated by ','; each line one sample, every
//                column but the label column a feature (x_shape {F}). Integer
//                labels mean classes; otherwise regression with y_shape {1},
//                so that a batch is [B, 1] like a Linear(F, 1) output.
//   a directory  every *.pt, *.pth and *.csv file directly inside, in sorted
//                file-name order, concatenated; all must agree on x_shape,
//                y_shape and whether labels are classes.
// Everything is read into memory (as float32) before this returns.
//
// Errors name the file (and for CSV the line and column): NOT_FOUND for a
// missing path, INVALID_ARGUMENT for empty, malformed or inconsistent data
// and unknown extensions, UNIMPLEMENTED for unsupported tensor dtypes.
Result<std::unique_ptr<Dataset>> open_dataset(const std::string& path,
                                              const DataOptions& options = {});

// The samples of partition `partition_id` of `num_partitions`, as Flower's
// IidPartitioner makes them (datasets' Dataset.shard(contiguous=True)):
// contiguous ranges in order, the first size % num_partitions partitions one
// sample larger. 10 samples in 3 partitions: [0, 4), [4, 7), [7, 10).
// The view owns `dataset`. INVALID_ARGUMENT for num_partitions < 1, an id
// outside [0, num_partitions) or a partition that would be empty (more
// partitions than samples), since a node without data cannot train.
Result<std::unique_ptr<Dataset>> partition(std::unique_ptr<Dataset> dataset, int64_t partition_id,
                                           int64_t num_partitions);

}  // namespace pollen

#endif  // POLLEN_MODELS_DATASET_H_
