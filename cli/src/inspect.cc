#include "inspect.h"

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <vector>

#include "pollen/core/deflate.h"
#include "pollen/models/state_dict.h"

namespace pollen::cli {

namespace {

struct Row {
  std::string name;
  std::string dtype;
  std::string shape;
  size_t elements = 0;
  size_t bytes = 0;
  std::string id;
};

// Flower's notation for a shape: "[4, 1, 3, 3]", "[]" for a scalar.
std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

Result<Row> make_row(const std::string& name, const Array& array, DeflatedObjects* objects) {
  POLLEN_ASSIGN_OR_RETURN(ObjectTree tree, deflate_array(array, objects));
  POLLEN_ASSIGN_OR_RETURN(DType dtype, dtype_from_name(array.dtype));
  POLLEN_ASSIGN_OR_RETURN(size_t elements, shape_num_elements(array.shape, dtype_itemsize(dtype)));
  return Row{name,     array.dtype,       shape_text(array.shape),
             elements, array.data.size(), tree.object_id};
}

void print_rows(const std::vector<Row>& rows, std::ostream& out) {
  size_t name_width = 4, shape_width = 5;
  for (const Row& row : rows) {
    name_width = std::max(name_width, row.name.size());
    shape_width = std::max(shape_width, row.shape.size());
  }
  out << std::left << std::setw(name_width) << "name"
      << "  " << std::setw(8) << "dtype"
      << "  " << std::setw(shape_width) << "shape"
      << "  " << std::right << std::setw(12) << "npy bytes"
      << "  array id\n";
  for (const Row& row : rows) {
    out << std::left << std::setw(name_width) << row.name << "  " << std::setw(8) << row.dtype
        << "  " << std::setw(shape_width) << row.shape << "  " << std::right << std::setw(12)
        << row.bytes << "  " << row.id << "\n";
  }
}

void print_totals(const std::vector<Row>& rows, std::ostream& out) {
  size_t elements = 0, bytes = 0;
  for (const Row& row : rows) {
    elements += row.elements;
    bytes += row.bytes;
  }
  out << "total: " << rows.size() << " entries, " << elements << " elements, " << bytes
      << " npy bytes\n";
}

Status inspect(const std::string& model_path, std::ostream& out) {
  POLLEN_ASSIGN_OR_RETURN(ArrayRecord record, load_state_dict(model_path));
  DeflatedObjects objects;
  std::vector<Row> rows;
  for (const auto& [name, array] : record) {
    POLLEN_ASSIGN_OR_RETURN(Row row, make_row(name, array, &objects));
    rows.push_back(std::move(row));
  }
  POLLEN_ASSIGN_OR_RETURN(ObjectTree tree, deflate_array_record(record, &objects));
  out << model_path << ": state_dict as a Flower ArrayRecord\n";
  print_rows(rows, out);
  print_totals(rows, out);
  out << "ArrayRecord id: " << tree.object_id << "\n";
  return Status::Ok();
}

}  // namespace

int run_inspect(const std::string& model_path, std::ostream& out, std::ostream& err) {
  Status status = inspect(model_path, out);
  if (status.ok()) return 0;
  err << "pollen inspect: " << status << "\n";
  return 1;
}

}  // namespace pollen::cli
