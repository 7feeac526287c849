// The NumPy .npy codec. The writer mirrors numpy 1.24's
// numpy/lib/format.py (_write_array_header and _wrap_header); the reader
// accepts what np.load accepts for the supported dtypes and refuses the rest
// with a message that names the offending part of the file.
#include "pollen/core/npy.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

// Element data is copied between the file and memory without conversion.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Pollen's .npy codec assumes a little-endian host"
#endif

namespace pollen {
namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);
constexpr size_t kPreambleLen = 8;  // magic plus major and minor version bytes
constexpr size_t kArrayAlign = 64;  // numpy aligns the element data to 64 bytes
// numpy leaves room to rewrite the header in place when axis 0 grows to the
// widest integer repr, len(str(8 * 2**64 - 1)).
constexpr size_t kGrowthAxisMaxDigits = 21;
// Far above any real header (numpy 1.24 itself reads at most 10000 bytes),
// and small enough that a hostile length cannot make us allocate much.
constexpr size_t kMaxHeaderLen = 65536;

struct DTypeInfo {
  DType dtype;
  std::string_view name;  // str(ndarray.dtype)
  std::string_view code;  // the descr without its byte-order character
  size_t itemsize;
};

constexpr std::array<DTypeInfo, 14> kDTypes = {{
    {DType::kBool, "bool", "b1", 1},
    {DType::kInt8, "int8", "i1", 1},
    {DType::kInt16, "int16", "i2", 2},
    {DType::kInt32, "int32", "i4", 4},
    {DType::kInt64, "int64", "i8", 8},
    {DType::kUInt8, "uint8", "u1", 1},
    {DType::kUInt16, "uint16", "u2", 2},
    {DType::kUInt32, "uint32", "u4", 4},
    {DType::kUInt64, "uint64", "u8", 8},
    {DType::kFloat16, "float16", "f2", 2},
    {DType::kFloat32, "float32", "f4", 4},
    {DType::kFloat64, "float64", "f8", 8},
    {DType::kComplex64, "complex64", "c8", 8},
    {DType::kComplex128, "complex128", "c16", 16},
}};

constexpr bool table_follows_enum() {
  for (size_t i = 0; i < kDTypes.size(); ++i) {
    if (static_cast<size_t>(kDTypes[i].dtype) != i) return false;
  }
  return true;
}
static_assert(table_follows_enum(), "kDTypes must list DType values in enum order");

const DTypeInfo& info(DType dtype) { return kDTypes[static_cast<size_t>(dtype)]; }

constexpr std::string_view kSupported =
    "bool, int8/16/32/64, uint8/16/32/64, float16/32/64, complex64/128";

// Python's repr of a shape tuple: (), (3,), (2, 3).
std::string shape_repr(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + (shape.size() == 1 ? ",)" : ")");
}

// Header text quoted for an error message: printable, and short enough to read.
std::string printable(std::string_view text, size_t limit = 80) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

// Finds the dtype of a descr such as "<f4", ">i8", "|b1" or "f4".
std::optional<DType> dtype_of_descr(std::string_view descr, char* order) {
  *order = '=';
  if (!descr.empty() && std::string_view("<>|=").find(descr[0]) != std::string_view::npos) {
    *order = descr[0];
    descr.remove_prefix(1);
  }
  for (const DTypeInfo& d : kDTypes) {
    if (d.code == descr) return d.dtype;
  }
  return std::nullopt;
}

// The dict of a .npy header; each value is known once its key was seen.
struct HeaderDict {
  std::optional<std::string_view> descr_text;  // as written, e.g. '<f4' or [('x', '<f4')]
  std::optional<std::string> descr;            // unset when the descr is not a string
  std::optional<bool> fortran_order;
  std::optional<std::vector<int64_t>> shape;
};

// Parses the Python dict literal of a header. Only the literals numpy writes
// are understood; anything else is an error, never a guess. Iterative, so a
// hostile header cannot exhaust the stack.
class DictParser {
 public:
  explicit DictParser(std::string_view text) : text_(text) {}

  Status parse(HeaderDict* dict) {
    if (!consume('{')) return error("expected '{'");
    while (!consume('}')) {
      POLLEN_ASSIGN_OR_RETURN(std::string key, parse_string());
      if (!consume(':')) return error("expected ':' after key '" + printable(key) + "'");
      POLLEN_RETURN_IF_ERROR(parse_value(key, dict));
      if (consume(',')) continue;
      if (!consume('}')) return error("expected ',' or '}'");
      break;
    }
    skip_space();
    if (pos_ != text_.size()) return error("unexpected text after the closing '}'");
    return Status::Ok();
  }

 private:
  Status error(const std::string& what) const {
    const size_t end = text_.find_last_not_of(" \n");
    const std::string where =
        pos_ > end || end == text_.npos ? "at its end" : "at byte " + std::to_string(pos_);
    return invalid_argument("npy: malformed header (" + what + " " + where + "): \"" +
                            printable(text_.substr(0, end + 1)) + "\"");
  }

  void skip_space() {
    while (pos_ < text_.size() && std::string_view(" \t\r\n").find(text_[pos_]) != text_.npos) {
      ++pos_;
    }
  }

  bool consume(char c) {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // A following identifier character ("Truex") fails at the next ',' or '}'.
  bool consume_word(std::string_view word) {
    skip_space();
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Result<std::string> parse_string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return error("expected a quoted string");
    }
    const char quote = text_[pos_++];
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      out += text_[pos_++];
    }
    if (pos_ >= text_.size()) return error("unterminated string");
    ++pos_;
    return out;
  }

  // Python int literal, with the 'L' suffix Python 2 wrote for longs.
  Result<int64_t> parse_int() {
    skip_space();
    const bool negative = pos_ < text_.size() && text_[pos_] == '-';
    if (negative) ++pos_;
    const size_t start = pos_;
    uint64_t value = 0;
    constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
    for (; pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; ++pos_) {
      const auto digit = static_cast<uint64_t>(text_[pos_] - '0');
      if (value > (kMax - digit) / 10) return error("dimension too large");
      value = value * 10 + digit;
    }
    if (pos_ == start) return error("expected an integer dimension");
    if (pos_ < text_.size() && (text_[pos_] == 'L' || text_[pos_] == 'l')) ++pos_;
    return negative ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
  }

  Result<std::vector<int64_t>> parse_shape() {
    if (!consume('(')) return error("'shape' must be a tuple such as (2, 3)");
    std::vector<int64_t> shape;
    bool comma = false;
    while (!consume(')')) {
      POLLEN_ASSIGN_OR_RETURN(int64_t dim, parse_int());
      shape.push_back(dim);
      comma = consume(',');
      if (!comma && !consume(')')) return error("expected ',' or ')' in 'shape'");
      if (!comma) break;
    }
    // (3) is the int 3 in Python, not a tuple.
    if (shape.size() == 1 && !comma) return error("'shape' (n) must be written (n,)");
    return shape;
  }

  // Skips a value numpy may write but Pollen does not support (a structured
  // descr such as [('x', '<f4')]) so that the caller can name it.
  std::string_view skip_value() {
    skip_space();
    const size_t start = pos_;
    int depth = 0;
    for (; pos_ < text_.size(); ++pos_) {
      const char c = text_[pos_];
      if (c == '\'' || c == '"') {
        const size_t close = text_.find(c, pos_ + 1);
        if (close == text_.npos) break;
        pos_ = close;
      } else if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    pos_ = std::min(pos_, text_.size());
    return text_.substr(start, pos_ - start);
  }

  Status parse_value(const std::string& key, HeaderDict* dict) {
    if (key == "descr") {
      if (dict->descr_text) return error("key 'descr' appears twice");
      skip_space();
      const size_t start = pos_;
      if (pos_ < text_.size() && (text_[pos_] == '\'' || text_[pos_] == '"')) {
        POLLEN_ASSIGN_OR_RETURN(dict->descr, parse_string());
        dict->descr_text = text_.substr(start, pos_ - start);
      } else {
        dict->descr_text = skip_value();
      }
    } else if (key == "fortran_order") {
      if (dict->fortran_order) return error("key 'fortran_order' appears twice");
      if (consume_word("True")) {
        dict->fortran_order = true;
      } else if (consume_word("False")) {
        dict->fortran_order = false;
      } else {
        return error("'fortran_order' must be True or False");
      }
    } else if (key == "shape") {
      if (dict->shape) return error("key 'shape' appears twice");
      POLLEN_ASSIGN_OR_RETURN(dict->shape, parse_shape());
    } else {
      return error("unexpected key '" + printable(key) +
                   "'; a .npy header has exactly 'descr', 'fortran_order' and 'shape'");
    }
    return Status::Ok();
  }

  std::string_view text_;
  size_t pos_ = 0;
};

uint32_t read_le(std::string_view bytes) {
  uint32_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

// Checks magic, version and header length; returns the header dict text and
// sets major_version and data_offset.
Result<std::string_view> read_preamble(std::string_view npy, NpyHeader* header) {
  const std::string size = std::to_string(npy.size());
  if (npy.size() < kPreambleLen) {
    return invalid_argument("npy: file is " + size + " bytes, too short for a .npy file");
  }
  if (npy.substr(0, kMagic.size()) != kMagic) {
    return invalid_argument("npy: not a .npy file: it starts with \"" +
                            printable(npy.substr(0, kMagic.size())) +
                            "\", not the magic \"\\x93NUMPY\"");
  }
  const int major = static_cast<unsigned char>(npy[6]);
  const int minor = static_cast<unsigned char>(npy[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return invalid_argument("npy: unsupported format version " + std::to_string(major) + "." +
                            std::to_string(minor) + " (supported: 1.0, 2.0, 3.0)");
  }
  const size_t len_size = major == 1 ? 2 : 4;  // uint16 in 1.0, uint32 after
  if (npy.size() < kPreambleLen + len_size) {
    return invalid_argument("npy: file is " + size + " bytes, too short for its header length");
  }
  const size_t header_len = read_le(npy.substr(kPreambleLen, len_size));
  if (header_len > kMaxHeaderLen) {
    return invalid_argument("npy: header length " + std::to_string(header_len) + " is over the " +
                            std::to_string(kMaxHeaderLen) + "-byte limit");
  }
  header->major_version = major;
  header->data_offset = kPreambleLen + len_size + header_len;
  if (header->data_offset > npy.size()) {
    return invalid_argument("npy: file is " + size + " bytes, but its header ends at byte " +
                            std::to_string(header->data_offset) + " (truncated file?)");
  }
  return npy.substr(kPreambleLen + len_size, header_len);
}

Status check_dict(const HeaderDict& dict, NpyHeader* header) {
  for (auto [present, key] : {std::pair(dict.descr_text.has_value(), "descr"),
                              std::pair(dict.fortran_order.has_value(), "fortran_order"),
                              std::pair(dict.shape.has_value(), "shape")}) {
    if (!present) return invalid_argument(std::string("npy: header has no '") + key + "' key");
  }
  const std::string descr = printable(*dict.descr_text);
  if (!dict.descr) {
    return invalid_argument("npy: descr " + descr +
                            " is not a dtype string: structured arrays are not supported");
  }
  char order = '=';
  std::optional<DType> dtype = dtype_of_descr(*dict.descr, &order);
  if (!dtype) {
    return invalid_argument("npy: unsupported descr " + descr +
                            " (supported: " + std::string(kSupported) + ")");
  }
  header->dtype = *dtype;
  // '=' is native order, and '|' (byte order not applicable) is read as native too.
  header->big_endian = order == '>' && info(*dtype).itemsize > 1;
  header->fortran_order = *dict.fortran_order;
  header->shape = *dict.shape;
  return Status::Ok();
}

// Copies Fortran-ordered (first axis fastest) elements into C order.
void fortran_to_c(const char* src, const std::vector<int64_t>& shape, size_t count, size_t itemsize,
                  char* dst) {
  if (count == 0) return;  // and so every dimension below is positive
  const size_t ndim = shape.size();
  std::vector<size_t> dims(shape.begin(), shape.end());
  std::vector<size_t> stride(ndim);  // in elements, in the Fortran-ordered source
  std::vector<size_t> index(ndim, 0);
  for (size_t k = 0, s = 1; k < ndim; s *= dims[k], ++k) stride[k] = s;
  size_t from = 0;
  for (size_t i = 0; i < count; ++i) {
    std::memcpy(dst + i * itemsize, src + from * itemsize, itemsize);
    for (size_t k = ndim; k-- > 0;) {  // next C-order index: last axis fastest
      if (++index[k] < dims[k]) {
        from += stride[k];
        break;
      }
      from -= (dims[k] - 1) * stride[k];
      index[k] = 0;
    }
  }
}

// Reverses the bytes of each `unit`-byte number in place.
void swap_bytes(char* data, size_t size, size_t unit) {
  for (size_t i = 0; i + unit <= size; i += unit) std::reverse(data + i, data + i + unit);
}

}  // namespace

std::string_view dtype_name(DType dtype) { return info(dtype).name; }

size_t dtype_itemsize(DType dtype) { return info(dtype).itemsize; }

std::string dtype_descr(DType dtype) {
  const DTypeInfo& d = info(dtype);
  return (d.itemsize == 1 ? "|" : "<") + std::string(d.code);
}

Result<DType> dtype_from_name(std::string_view name) {
  for (const DTypeInfo& d : kDTypes) {
    if (d.name == name) return d.dtype;
  }
  if (name == "bfloat16") {
    return invalid_argument(
        "dtype 'bfloat16' has no .npy form: numpy has no bfloat16 type; convert the tensor to "
        "float32 first");
  }
  // str(dtype) of a non-native array is its descr, e.g. '>i4'.
  char order = '=';
  if (std::optional<DType> dtype = dtype_of_descr(name, &order)) return *dtype;
  return invalid_argument("unknown dtype '" + printable(name) +
                          "' (supported: " + std::string(kSupported) + ")");
}

size_t NpyArray::num_elements() const {
  size_t count = 1;
  for (int64_t dim : shape) count *= static_cast<size_t>(dim);
  return count;
}

Result<size_t> shape_num_elements(const std::vector<int64_t>& shape, size_t itemsize) {
  for (int64_t dim : shape) {
    if (dim < 0) {
      return invalid_argument("shape " + shape_repr(shape) + " has a negative dimension");
    }
  }
  // A zero dimension makes the array empty, however large the others are.
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return size_t{0};
  size_t count = 1;
  const size_t max_count = std::numeric_limits<size_t>::max() / std::max<size_t>(itemsize, 1);
  for (int64_t dim : shape) {
    const auto d = static_cast<size_t>(dim);
    if (count > max_count / d) {
      return invalid_argument("shape " + shape_repr(shape) + " of " + std::to_string(itemsize) +
                              "-byte elements is too large to address");
    }
    count *= d;
  }
  return count;
}

Result<std::string> npy_header(DType dtype, const std::vector<int64_t>& shape) {
  Result<size_t> count = shape_num_elements(shape, dtype_itemsize(dtype));
  if (!count.ok()) return count.status().with_context("npy");
  std::string dict = "{'descr': '" + dtype_descr(dtype) +
                     "', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
  if (!shape.empty()) {
    const size_t digits = std::to_string(shape[0]).size();
    dict.append(kGrowthAxisMaxDigits - std::min(digits, kGrowthAxisMaxDigits), ' ');
  }
  const size_t hlen = dict.size() + 1;  // with the final '\n'
  // numpy pads with 64 - (prefix + hlen) % 64 spaces: 64, never 0, when the
  // header is already aligned.
  auto padding = [hlen](size_t prefix) { return kArrayAlign - (prefix + hlen) % kArrayAlign; };
  // Version 1.0 stores the header length as uint16; 2.0 as uint32.
  const int major = hlen + padding(kPreambleLen + 2) <= 0xFFFF ? 1 : 2;
  const size_t prefix = kPreambleLen + (major == 1 ? 2 : 4);
  const size_t padlen = padding(prefix);
  const size_t total = hlen + padlen;
  std::string out(kMagic);
  out += {static_cast<char>(major), '\0'};
  for (size_t i = 0; i < prefix - kPreambleLen; ++i) out += static_cast<char>(total >> (8 * i));
  out += dict;
  out.append(padlen, ' ');
  out += '\n';
  return out;
}

Result<Bytes> encode_npy(DType dtype, const std::vector<int64_t>& shape, const void* data,
                         size_t size) {
  POLLEN_ASSIGN_OR_RETURN(std::string out, npy_header(dtype, shape));
  POLLEN_ASSIGN_OR_RETURN(size_t count, shape_num_elements(shape, dtype_itemsize(dtype)));
  const size_t needed = count * dtype_itemsize(dtype);
  if (size != needed) {
    return invalid_argument("npy: data is " + std::to_string(size) + " bytes, " +
                            std::string(dtype_name(dtype)) + " with shape " + shape_repr(shape) +
                            " needs " + std::to_string(needed));
  }
  if (size > 0 && data == nullptr) return invalid_argument("npy: data is null");
  out.reserve(out.size() + size);
  out.append(static_cast<const char*>(data), size);
  return Bytes(std::move(out));
}

Result<NpyHeader> parse_npy_header(std::string_view npy) {
  NpyHeader header;
  POLLEN_ASSIGN_OR_RETURN(std::string_view text, read_preamble(npy, &header));
  HeaderDict dict;
  POLLEN_RETURN_IF_ERROR(DictParser(text).parse(&dict));
  POLLEN_RETURN_IF_ERROR(check_dict(dict, &header));
  const size_t itemsize = dtype_itemsize(header.dtype);
  Result<size_t> count = shape_num_elements(header.shape, itemsize);
  if (!count.ok()) return count.status().with_context("npy");
  header.num_elements = *count;
  header.data_size = *count * itemsize;
  const size_t have = npy.size() - header.data_offset;
  if (have != header.data_size) {
    return invalid_argument("npy: data is " + std::to_string(have) + " bytes, header (descr " +
                            printable(*dict.descr_text) + ", shape " + shape_repr(header.shape) +
                            ") needs " + std::to_string(header.data_size));
  }
  return header;
}

Result<NpyArray> decode_npy(const Bytes& npy) {
  POLLEN_ASSIGN_OR_RETURN(NpyHeader header, parse_npy_header(npy.view()));
  NpyArray array;
  array.dtype = header.dtype;
  array.shape = header.shape;
  // Fortran order only differs from C order with two or more axes.
  const bool transpose = header.fortran_order && header.shape.size() > 1;
  if (!transpose && !header.big_endian) {
    array.data = npy.slice(header.data_offset, header.data_size);
    return array;
  }
  const size_t itemsize = dtype_itemsize(header.dtype);
  const char* src = npy.view().data() + header.data_offset;
  std::string data(header.data_size, '\0');
  if (transpose) {
    fortran_to_c(src, header.shape, header.num_elements, itemsize, data.data());
  } else {
    std::memcpy(data.data(), src, data.size());
  }
  if (header.big_endian) {
    const bool complex = header.dtype == DType::kComplex64 || header.dtype == DType::kComplex128;
    swap_bytes(data.data(), data.size(), complex ? itemsize / 2 : itemsize);
  }
  array.data = Bytes(std::move(data));
  return array;
}

}  // namespace pollen
