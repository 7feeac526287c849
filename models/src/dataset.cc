// The Dataset views (dense, concatenated, partitioned) and open_dataset()'s
// dispatch by path. No LibTorch here: only dataset_pt.cc needs it.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <system_error>
#include <utility>

#include "dataset_internal.h"
#include "pollen/models/dataset.h"

namespace pollen {

Dataset::~Dataset() = default;

Result<std::vector<int64_t>> feature_shape(const Dataset& dataset) {
  if (dataset.size() == 0) return failed_precondition("dataset is empty: it has no feature shape");
  POLLEN_ASSIGN_OR_RETURN(Sample first, dataset.get(0));
  return first.x_shape;
}

namespace internal {
namespace {

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

size_t element_count(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), size_t{1},
                         [](size_t n, int64_t d) { return n * static_cast<size_t>(d); });
}

Status out_of_range_index(size_t index, size_t size) {
  return out_of_range("sample " + std::to_string(index) + " of a dataset of " +
                      std::to_string(size));
}

class DenseDataset final : public Dataset {
 public:
  explicit DenseDataset(DenseData data)
      : data_(std::move(data)),
        x_stride_(element_count(data_.x_shape)),
        y_stride_(element_count(data_.y_shape)) {}

  size_t size() const override { return data_.size; }
  bool labels_are_classes() const override { return data_.labels_are_classes; }

  Result<Sample> get(size_t index) const override {
    if (index >= data_.size) return out_of_range_index(index, data_.size);
    const float* x = data_.x.data() + index * x_stride_;
    const float* y = data_.y.data() + index * y_stride_;
    return Sample{{x, x + x_stride_}, data_.x_shape, {y, y + y_stride_}, data_.y_shape};
  }

 private:
  const DenseData data_;
  const size_t x_stride_;
  const size_t y_stride_;
};

// Shards one after another; each index maps to (shard, local index) by a
// binary search over the shards' first indices.
class ConcatDataset final : public Dataset {
 public:
  explicit ConcatDataset(std::vector<std::unique_ptr<Dataset>> parts) : parts_(std::move(parts)) {
    for (const auto& part : parts_) {
      starts_.push_back(size_);
      size_ += part->size();
    }
  }

  size_t size() const override { return size_; }
  bool labels_are_classes() const override { return parts_.front()->labels_are_classes(); }

  Result<Sample> get(size_t index) const override {
    if (index >= size_) return out_of_range_index(index, size_);
    size_t part = std::upper_bound(starts_.begin(), starts_.end(), index) - starts_.begin() - 1;
    return parts_[part]->get(index - starts_[part]);
  }

 private:
  std::vector<std::unique_ptr<Dataset>> parts_;
  std::vector<size_t> starts_;
  size_t size_ = 0;
};

class RangeDataset final : public Dataset {
 public:
  RangeDataset(std::unique_ptr<Dataset> base, size_t begin, size_t size)
      : base_(std::move(base)), begin_(begin), size_(size) {}

  size_t size() const override { return size_; }
  bool labels_are_classes() const override { return base_->labels_are_classes(); }

  Result<Sample> get(size_t index) const override {
    if (index >= size_) return out_of_range_index(index, size_);
    return base_->get(begin_ + index);
  }

 private:
  std::unique_ptr<Dataset> base_;
  size_t begin_;
  size_t size_;
};

bool has_extension(const std::filesystem::path& path, std::initializer_list<const char*> exts) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return std::find_if(exts.begin(), exts.end(), [&](const char* e) { return ext == e; }) !=
         exts.end();
}

Result<std::unique_ptr<Dataset>> open_file(const std::filesystem::path& path,
                                           const DataOptions& options) {
  if (has_extension(path, {".pt", ".pth"})) return read_pt_dataset(path.string(), options);
  if (has_extension(path, {".csv"})) return read_csv_dataset(path.string(), options);
  return invalid_argument("'" + path.string() +
                          "': unknown data file type (expected .pt, .pth, .csv or a directory)");
}

// Shards must describe the same samples; the first shard sets the shapes.
Status check_same_kind(const Dataset& first, const std::string& first_path, const Dataset& shard,
                       const std::string& shard_path) {
  POLLEN_ASSIGN_OR_RETURN(Sample a, first.get(0));
  POLLEN_ASSIGN_OR_RETURN(Sample b, shard.get(0));
  std::string what;
  if (a.x_shape != b.x_shape) {
    what = "feature shape " + shape_string(b.x_shape) + " differs from " + shape_string(a.x_shape);
  } else if (a.y_shape != b.y_shape) {
    what = "label shape " + shape_string(b.y_shape) + " differs from " + shape_string(a.y_shape);
  } else if (first.labels_are_classes() != shard.labels_are_classes()) {
    what = std::string("labels are ") + (shard.labels_are_classes() ? "classes" : "regression") +
           " but not";
  } else {
    return Status::Ok();
  }
  return invalid_argument("'" + shard_path + "': " + what + " in '" + first_path + "'");
}

Result<std::unique_ptr<Dataset>> open_directory(const std::filesystem::path& dir,
                                                const DataOptions& options) {
  std::error_code ec;
  std::vector<std::filesystem::path> shards;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && has_extension(it->path(), {".pt", ".pth", ".csv"})) {
      shards.push_back(it->path());
    }
  }
  if (ec) return invalid_argument("'" + dir.string() + "': cannot list directory: " + ec.message());
  if (shards.empty()) {
    return invalid_argument("'" + dir.string() + "': directory holds no .pt, .pth or .csv files");
  }
  std::sort(shards.begin(), shards.end());
  std::vector<std::unique_ptr<Dataset>> parts;
  for (const auto& shard : shards) {
    POLLEN_ASSIGN_OR_RETURN(auto part, open_file(shard, options));
    if (!parts.empty()) {
      POLLEN_RETURN_IF_ERROR(
          check_same_kind(*parts.front(), shards.front().string(), *part, shard.string()));
    }
    parts.push_back(std::move(part));
  }
  if (parts.size() == 1) return std::move(parts.front());
  return std::unique_ptr<Dataset>(std::make_unique<ConcatDataset>(std::move(parts)));
}

}  // namespace

namespace {

// Labels travel as float32 and become int64 class indices: 2^24 is the
// largest float32 that holds every integer below it, and far more classes
// than any model here has.
constexpr float kMaxClassLabel = 16777216.0f;

// `values` holds `samples` rows of equal width; errors name sample and
// column, 1-based.
Status check_finite(const std::vector<float>& values, size_t samples, const char* what,
                    const std::string& source) {
  const size_t width = samples == 0 ? 0 : values.size() / samples;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) continue;
    std::ostringstream text;
    text << "'" << source << "': sample " << i / width + 1 << ", " << what << " " << i % width + 1
         << " is " << values[i] << (std::isinf(values[i]) ? " (too large for float32?)" : "")
         << "; every value must be a finite number";
    return invalid_argument(text.str());
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Dataset>> make_dense_dataset(DenseData data, const std::string& source,
                                                    const DataOptions& options) {
  if (data.size == 0) return invalid_argument("'" + source + "': holds no samples");
  // One rule for every format: a NaN or Inf (or a value float32 cannot
  // hold) in the data is refused here, not met as a NaN loss mid-round.
  POLLEN_RETURN_IF_ERROR(check_finite(data.x, data.size, "feature", source));
  POLLEN_RETURN_IF_ERROR(check_finite(data.y, data.size, "label", source));
  if (options.labels_are_classes) data.labels_are_classes = *options.labels_are_classes;
  if (data.labels_are_classes) {
    if (!data.y_shape.empty()) {
      return invalid_argument("'" + source + "': class labels must be one scalar per sample, got " +
                              "label shape " + shape_string(data.y_shape));
    }
    for (size_t i = 0; i < data.y.size(); ++i) {
      float label = data.y[i];
      if (!(label >= 0) || std::floor(label) != label || label > kMaxClassLabel) {
        std::ostringstream text;
        text << "'" << source << "': sample " << i + 1 << " has label " << label
             << ", but class labels must be integers from 0 to "
             << static_cast<int64_t>(kMaxClassLabel);
        return invalid_argument(text.str());
      }
    }
  }
  return std::unique_ptr<Dataset>(std::make_unique<DenseDataset>(std::move(data)));
}

Result<std::string> read_data_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return not_found("'" + path + "': no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("'" + path + "': cannot open: " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return data_loss("'" + path + "': read failed");
  if (bytes.empty()) return invalid_argument("'" + path + "': file is empty");
  return bytes;
}

}  // namespace internal

Result<std::unique_ptr<Dataset>> open_dataset(const std::string& path, const DataOptions& options) {
  std::error_code ec;
  std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status))
    return not_found("'" + path + "': no such file or directory");
  if (std::filesystem::is_directory(status)) return internal::open_directory(path, options);
  return internal::open_file(path, options);
}

Result<std::unique_ptr<Dataset>> partition(std::unique_ptr<Dataset> dataset, int64_t partition_id,
                                           int64_t num_partitions) {
  if (!dataset) return invalid_argument("partition: no dataset");
  if (num_partitions < 1) {
    return invalid_argument("num-partitions is " + std::to_string(num_partitions) +
                            ", must be at least 1");
  }
  if (partition_id < 0 || partition_id >= num_partitions) {
    return invalid_argument("partition-id " + std::to_string(partition_id) + " is outside [0, " +
                            std::to_string(num_partitions) + ")");
  }
  // datasets' Dataset.shard(contiguous=True), which IidPartitioner uses.
  const size_t n = dataset->size();
  const size_t k = static_cast<size_t>(num_partitions);
  const size_t id = static_cast<size_t>(partition_id);
  const size_t base = n / k;
  const size_t extra = n % k;
  const size_t begin = base * id + std::min(id, extra);
  const size_t size = base + (id < extra ? 1 : 0);
  if (size == 0) {
    return invalid_argument("partition " + std::to_string(partition_id) + " of " +
                            std::to_string(num_partitions) + " over " + std::to_string(n) +
                            " samples is empty");
  }
  return std::unique_ptr<Dataset>(
      std::make_unique<internal::RangeDataset>(std::move(dataset), begin, size));
}

}  // namespace pollen
