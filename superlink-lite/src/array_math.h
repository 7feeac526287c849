// Element-wise arithmetic on Flower Arrays for aggregation: arrays are read
// into doubles and written back in a chosen dtype.
#ifndef POLLEN_SUPERLINK_LITE_ARRAY_MATH_H_
#define POLLEN_SUPERLINK_LITE_ARRAY_MATH_H_

#include <cstdint>
#include <vector>

#include "pollen/core/npy.h"
#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// IEEE 754 half precision <-> single precision (round to nearest even).
float half_to_float(uint16_t half);
uint16_t float_to_half(float value);

bool is_integer_or_bool(DType dtype);

// The elements of `array` as doubles, in C order; complex elements give
// their real and imaginary parts one after the other.
std::vector<double> to_doubles(const NpyArray& array);

// An Array of `dtype` and `shape` from values laid out as to_doubles()
// returns them. Integers and bool are rounded to the nearest value and
// clamped to the dtype's range.
Result<Array> from_doubles(DType dtype, const std::vector<int64_t>& shape,
                           const std::vector<double>& values);

}  // namespace pollen

#endif  // POLLEN_SUPERLINK_LITE_ARRAY_MATH_H_
