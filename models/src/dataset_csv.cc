// CSV training data: one sample per line, numeric cells separated by ','.
// Written for what numpy.savetxt and pandas.DataFrame.to_csv(index=False)
// produce; quoting is only understood around header names.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataset_internal.h"

namespace pollen::internal {
namespace {

struct Line {
  size_t number;  // 1-based, as editors show it
  std::vector<std::string_view> cells;
};

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n";
  size_t begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(space) - begin + 1);
}

std::string_view unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

// Non-blank lines split into trimmed cells; blank lines are skipped as
// numpy.loadtxt does.
std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> lines;
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    size_t end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty()) continue;
    Line parsed{number, {}};
    for (size_t start = 0;;) {
      size_t comma = line.find(',', start);
      parsed.cells.push_back(trim(line.substr(start, comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    lines.push_back(std::move(parsed));
  }
  return lines;
}

// strtod over the whole cell; false for empty cells, trailing text and
// values that do not fit a float.
bool parse_number(std::string_view cell, double* value) {
  if (cell.empty()) return false;
  std::string copy(cell);  // strtod needs a terminator
  char* end = nullptr;
  errno = 0;
  *value = std::strtod(copy.c_str(), &end);
  return end == copy.c_str() + copy.size() && errno != ERANGE && std::isfinite(*value);
}

bool is_integer(std::string_view cell) {
  if (!cell.empty() && (cell.front() == '-' || cell.front() == '+')) cell.remove_prefix(1);
  return !cell.empty() && cell.find_first_not_of("0123456789") == std::string_view::npos;
}

size_t numeric_cells(const Line& line) {
  double ignored;
  size_t count = 0;
  for (std::string_view cell : line.cells) count += parse_number(cell, &ignored) ? 1 : 0;
  return count;
}

Result<size_t> label_index(const std::string& path, const std::vector<std::string_view>* header,
                           size_t columns, const std::string& wanted) {
  if (wanted.empty()) return columns - 1;
  if (header) {
    for (size_t i = 0; i < header->size(); ++i) {
      if (unquote((*header)[i]) == wanted) return i;
    }
  }
  if (is_integer(wanted)) {
    long long index = std::strtoll(wanted.c_str(), nullptr, 10);
    if (index < 0) index += static_cast<long long>(columns);
    if (index >= 0 && index < static_cast<long long>(columns)) return static_cast<size_t>(index);
    return invalid_argument("'" + path + "': label column " + wanted + " is outside the " +
                            std::to_string(columns) + " columns");
  }
  return invalid_argument("'" + path + "': no column named '" + wanted + "'" +
                          (header ? "" : " (the file has no header line)"));
}

}  // namespace

Result<std::unique_ptr<Dataset>> read_csv_dataset(const std::string& path,
                                                  const DataOptions& options) {
  POLLEN_ASSIGN_OR_RETURN(std::string text, read_data_file(path));
  std::string_view body = text;
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // UTF-8 BOM (Excel)
  std::vector<Line> lines = split_lines(body);
  if (lines.empty()) return invalid_argument("'" + path + "': file holds only blank lines");

  // Auto: a header names every column. A first line with some numbers and
  // some text ("nan" among numbers) is a damaged data row, not a header:
  // taking it as one would silently drop a sample.
  bool has_header = options.csv_header == DataOptions::Header::kPresent;
  if (options.csv_header == DataOptions::Header::kAuto) {
    const size_t numeric = numeric_cells(lines[0]);
    if (numeric != 0 && numeric != lines[0].cells.size()) {
      return invalid_argument("'" + path + ":" + std::to_string(lines[0].number) +
                              "': mixes numbers and text, so it is neither a header (names "
                              "only) nor a data row (finite numbers only)");
    }
    has_header = numeric == 0;
  }
  const size_t columns = lines[0].cells.size();
  if (columns < 2) {
    return invalid_argument("'" + path + "': needs at least two columns (features and a label)");
  }
  POLLEN_ASSIGN_OR_RETURN(size_t label, label_index(path, has_header ? &lines[0].cells : nullptr,
                                                    columns, options.label_column));

  DenseData data;
  data.x_shape = {static_cast<int64_t>(columns - 1)};
  bool integer_labels = true;
  for (size_t i = has_header ? 1 : 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    const std::string where = path + ":" + std::to_string(line.number);
    if (line.cells.size() != columns) {
      return invalid_argument("'" + where + "': " + std::to_string(line.cells.size()) +
                              " cells, but line " + std::to_string(lines[0].number) + " has " +
                              std::to_string(columns));
    }
    for (size_t c = 0; c < columns; ++c) {
      double value;
      if (!parse_number(line.cells[c], &value)) {
        return invalid_argument("'" + where + ":" + std::to_string(c + 1) + "': cell '" +
                                std::string(line.cells[c]) + "' is not a finite number");
      }
      if (std::fabs(value) > std::numeric_limits<float>::max()) {
        return invalid_argument("'" + where + ":" + std::to_string(c + 1) + "': cell '" +
                                std::string(line.cells[c]) +
                                "' is too large for float32 (at most 3.4e38)");
      }
      if (c == label) {
        data.y.push_back(static_cast<float>(value));
        integer_labels = integer_labels && is_integer(line.cells[c]);
      } else {
        data.x.push_back(static_cast<float>(value));
      }
    }
    ++data.size;
  }
  data.labels_are_classes = options.labels_are_classes.value_or(integer_labels);
  if (!data.labels_are_classes) data.y_shape = {1};
  return make_dense_dataset(std::move(data), path, options);
}

}  // namespace pollen::internal
