// The NumPy .npy format, as Flower carries it in Array.data (stype
// "numpy.ndarray"): a complete .npy file per array.
//
// Output is always little-endian, C order, format version 1.0 (2.0 when the
// header does not fit in 64 KiB), laid out byte for byte as numpy 1.24 writes
// it. Input accepts versions 1.0, 2.0 and 3.0, little- or big-endian data and
// Fortran order; big-endian and Fortran-ordered arrays are converted to
// little-endian C order. Every size is checked before anything is allocated.
//
// Supported dtypes: bool, int8/16/32/64, uint8/16/32/64, float16/32/64,
// complex64/128. bfloat16 has no .npy form (numpy has no such type): callers
// must convert to float32 first. Structured and object dtypes are refused.
#ifndef POLLEN_CORE_NPY_H_
#define POLLEN_CORE_NPY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pollen/core/bytes.h"
#include "pollen/core/status.h"

namespace pollen {

enum class DType {
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kFloat16,
  kFloat32,
  kFloat64,
  kComplex64,
  kComplex128,
};

// numpy's name of the dtype, as `str(ndarray.dtype)`: "float32", "bool", ...
std::string_view dtype_name(DType dtype);
// Bytes per element.
size_t dtype_itemsize(DType dtype);
// The little-endian .npy descr: "<f4", "|u1", "|b1", "<c8", ...
std::string dtype_descr(DType dtype);
// Parses a numpy dtype name ("float32") into a DType.
Result<DType> dtype_from_name(std::string_view name);

// What a .npy header says.
struct NpyHeader {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  bool fortran_order = false;
  bool big_endian = false;  // the data needs a byte swap to be little-endian
  int major_version = 1;    // 1, 2 or 3
  size_t data_offset = 0;   // where element data starts in the file
  size_t num_elements = 0;  // product of shape
  size_t data_size = 0;     // num_elements * itemsize
};

// A decoded array: little-endian, C order.
struct NpyArray {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  Bytes data;  // num_elements * itemsize bytes

  size_t num_elements() const;
};

// Parses and validates the header of the .npy file `npy`, including that
// the file holds exactly the number of data bytes the header implies.
Result<NpyHeader> parse_npy_header(std::string_view npy);

// Decodes a whole .npy file. When the file is already little-endian C order
// the returned data is a slice of `npy` (no copy); otherwise it is converted.
Result<NpyArray> decode_npy(const Bytes& npy);

// Returns the .npy header (magic, version, length, dict, padding) numpy 1.24
// writes for a little-endian, C-order array of this dtype and shape.
// Fails on negative dimensions or a shape whose byte size overflows.
Result<std::string> npy_header(DType dtype, const std::vector<int64_t>& shape);

// Encodes `data` (num_elements * itemsize bytes, little-endian, C order) as a
// .npy file. The element bytes are copied once, into the returned buffer.
Result<Bytes> encode_npy(DType dtype, const std::vector<int64_t>& shape, const void* data,
                         size_t size);

// Returns the number of elements of `shape`, or an error on a negative
// dimension or overflow of size_t (also for the byte size with `itemsize`).
Result<size_t> shape_num_elements(const std::vector<int64_t>& shape, size_t itemsize);

}  // namespace pollen

#endif  // POLLEN_CORE_NPY_H_
