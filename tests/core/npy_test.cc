#include "pollen/core/npy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_data.h"

namespace pollen {
namespace {

using nlohmann::ordered_json;

using testing::contains;

const ordered_json& vectors() {
  static const ordered_json* json = new ordered_json(testing::load_json("npy_vectors.json"));
  return (*json)["vectors"];
}

std::string npy_bytes(const ordered_json& vector) {
  return testing::base64_decode(vector["npy_b64"].get<std::string>());
}

const ordered_json& vector_named(const std::string& name) {
  for (const auto& v : vectors()) {
    if (v["name"] == name) return v;
  }
  ADD_FAILURE() << "no vector named " << name;
  static const ordered_json kNull;
  return kNull;
}

// A .npy file written by hand around `dict`, padded the way numpy pads.
std::string make_npy(const std::string& dict, std::string_view data, int major = 1) {
  const size_t len_size = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((8 + len_size + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < len_size; ++i) out += static_cast<char>(header.size() >> (8 * i));
  return out + header + std::string(data);
}

template <typename T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

template <typename T>
T element(const NpyArray& array, size_t index) {
  T value;
  std::memcpy(&value, array.data.data() + index * sizeof(T), sizeof(T));
  return value;
}

double half_to_double(uint16_t half) {
  const int exponent = (half >> 10) & 0x1f;
  const int fraction = half & 0x3ff;
  double magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(fraction, -24);  // subnormal
  } else if (exponent == 31) {
    magnitude = fraction != 0 ? std::numeric_limits<double>::quiet_NaN()
                              : std::numeric_limits<double>::infinity();
  } else {
    magnitude = std::ldexp(fraction + 1024, exponent - 25);
  }
  return (half & 0x8000) != 0 ? -magnitude : magnitude;
}

double json_float(const ordered_json& value) {
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (text == "Infinity") return std::numeric_limits<double>::infinity();
    if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
    ADD_FAILURE() << "unexpected float string " << text;
  }
  return value.get<double>();
}

void expect_same_float(double actual, const ordered_json& expected_json) {
  const double expected = json_float(expected_json);
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << actual;
    return;
  }
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(std::signbit(actual), std::signbit(expected)) << expected_json;
}

// Element `i` of `array` against its fixture value.
void expect_element(const NpyArray& array, size_t i, const ordered_json& expected) {
  SCOPED_TRACE("element " + std::to_string(i));
  switch (array.dtype) {
    case DType::kBool: {
      const uint8_t byte = element<uint8_t>(array, i);
      EXPECT_EQ(byte, expected.get<bool>() ? 1 : 0);
      break;
    }
    case DType::kInt8:
      EXPECT_EQ(int64_t{element<int8_t>(array, i)}, expected.get<int64_t>());
      break;
    case DType::kInt16:
      EXPECT_EQ(int64_t{element<int16_t>(array, i)}, expected.get<int64_t>());
      break;
    case DType::kInt32:
      EXPECT_EQ(int64_t{element<int32_t>(array, i)}, expected.get<int64_t>());
      break;
    case DType::kInt64:
      EXPECT_EQ(int64_t{element<int64_t>(array, i)}, expected.get<int64_t>());
      break;
    case DType::kUInt8:
      EXPECT_EQ(uint64_t{element<uint8_t>(array, i)}, expected.get<uint64_t>());
      break;
    case DType::kUInt16:
      EXPECT_EQ(uint64_t{element<uint16_t>(array, i)}, expected.get<uint64_t>());
      break;
    case DType::kUInt32:
      EXPECT_EQ(uint64_t{element<uint32_t>(array, i)}, expected.get<uint64_t>());
      break;
    case DType::kUInt64:
      EXPECT_EQ(uint64_t{element<uint64_t>(array, i)}, expected.get<uint64_t>());
      break;
    case DType::kFloat16:
      expect_same_float(half_to_double(element<uint16_t>(array, i)), expected);
      break;
    case DType::kFloat32:
      expect_same_float(element<float>(array, i), expected);
      break;
    case DType::kFloat64:
      expect_same_float(element<double>(array, i), expected);
      break;
    case DType::kComplex64:
      ASSERT_EQ(expected.size(), 2u);
      expect_same_float(element<float>(array, 2 * i), expected[0]);
      expect_same_float(element<float>(array, 2 * i + 1), expected[1]);
      break;
    case DType::kComplex128:
      ASSERT_EQ(expected.size(), 2u);
      expect_same_float(element<double>(array, 2 * i), expected[0]);
      expect_same_float(element<double>(array, 2 * i + 1), expected[1]);
      break;
  }
}

// What numpy writes needs no conversion: little-endian (or 1-byte), C order.
bool is_canonical(const ordered_json& vector) {
  return !vector["fortran_order"].get<bool>() && vector["descr"].get<std::string>()[0] != '>';
}

Status decode_status(std::string_view npy) { return decode_npy(Bytes::copy_of(npy)).status(); }

// ---------------------------------------------------------------------------
// The numpy 1.24 fixtures.

TEST(NpyVectorsTest, FixtureHasAllVectors) { EXPECT_EQ(vectors().size(), 66u); }

TEST(NpyVectorsTest, EveryVectorDecodes) {
  for (const auto& v : vectors()) {
    SCOPED_TRACE(v["name"].get<std::string>());
    Result<NpyArray> array = decode_npy(Bytes(npy_bytes(v)));
    ASSERT_TRUE(array.ok()) << array.status();
    // A big-endian array decodes to its little-endian twin.
    std::string descr = v["descr"].get<std::string>();
    if (descr[0] == '>') descr[0] = '<';
    EXPECT_EQ(dtype_descr(array->dtype), descr);
    if (v["dtype"].get<std::string>()[0] != '>') {
      EXPECT_EQ(dtype_name(array->dtype), v["dtype"].get<std::string>());
    }
    EXPECT_EQ(array->shape, v["shape"].get<std::vector<int64_t>>());
    const auto& values = v["values"];
    ASSERT_EQ(array->num_elements(), values.size());
    ASSERT_EQ(array->data.size(), values.size() * dtype_itemsize(array->dtype));
    for (size_t i = 0; i < values.size(); ++i) expect_element(*array, i, values[i]);
  }
}

TEST(NpyVectorsTest, HeaderFieldsMatchFixture) {
  for (const auto& v : vectors()) {
    SCOPED_TRACE(v["name"].get<std::string>());
    const std::string npy = npy_bytes(v);
    ASSERT_EQ(npy.size(), v["npy_len"].get<size_t>());
    Result<NpyHeader> header = parse_npy_header(npy);
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_EQ(header->major_version, v["npy_version"][0].get<int>());
    EXPECT_EQ(header->data_offset, v["data_offset"].get<size_t>());
    EXPECT_EQ(header->fortran_order, v["fortran_order"].get<bool>());
    EXPECT_EQ(header->big_endian, v["descr"].get<std::string>()[0] == '>');
    EXPECT_EQ(header->num_elements, v["values"].size());
    EXPECT_EQ(header->data_size, npy.size() - header->data_offset);
  }
}

TEST(NpyVectorsTest, CanonicalVectorsReencodeByteForByte) {
  int checked = 0;
  for (const auto& v : vectors()) {
    if (!is_canonical(v)) continue;
    SCOPED_TRACE(v["name"].get<std::string>());
    const std::string npy = npy_bytes(v);
    Result<NpyArray> array = decode_npy(Bytes(npy));
    ASSERT_TRUE(array.ok()) << array.status();
    Result<std::string> header = npy_header(array->dtype, array->shape);
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_EQ(header->size(), v["data_offset"].get<size_t>());
    EXPECT_EQ(header->substr(10), v["header"].get<std::string>());
    Result<Bytes> encoded =
        encode_npy(array->dtype, array->shape, array->data.data(), array->data.size());
    ASSERT_TRUE(encoded.ok()) << encoded.status();
    EXPECT_EQ(encoded->view(), npy);
    ++checked;
  }
  EXPECT_EQ(checked, 61);
}

TEST(NpyVectorsTest, ConvertedVectorsReencodeAsNumpyWouldSaveTheConvertedArray) {
  // fortran_float32_2x3 holds 0..5 in C order: the same array as a C-order save.
  Result<NpyArray> array = decode_npy(Bytes(npy_bytes(vector_named("fortran_float32_2x3"))));
  ASSERT_TRUE(array.ok()) << array.status();
  const std::vector<float> expected = {0, 1, 2, 3, 4, 5};
  EXPECT_EQ(array->data.view(), raw(expected));
  Result<Bytes> encoded =
      encode_npy(array->dtype, array->shape, array->data.data(), array->data.size());
  ASSERT_TRUE(encoded.ok());
  Result<NpyArray> again = decode_npy(*encoded);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->data, array->data);
}

TEST(NpyVectorsTest, CanonicalDecodeIsZeroCopy) {
  for (const auto& v : vectors()) {
    SCOPED_TRACE(v["name"].get<std::string>());
    const Bytes npy(npy_bytes(v));
    Result<NpyArray> array = decode_npy(npy);
    ASSERT_TRUE(array.ok());
    const bool shared = array->data.data() == npy.data() + v["data_offset"].get<size_t>();
    EXPECT_EQ(shared, is_canonical(v));
  }
}

// ---------------------------------------------------------------------------
// dtypes.

TEST(NpyDTypeTest, NamesItemsizesAndDescrs) {
  struct Case {
    DType dtype;
    const char* name;
    size_t itemsize;
    const char* descr;
  };
  const Case cases[] = {
      {DType::kBool, "bool", 1, "|b1"},           {DType::kInt8, "int8", 1, "|i1"},
      {DType::kInt16, "int16", 2, "<i2"},         {DType::kInt32, "int32", 4, "<i4"},
      {DType::kInt64, "int64", 8, "<i8"},         {DType::kUInt8, "uint8", 1, "|u1"},
      {DType::kUInt16, "uint16", 2, "<u2"},       {DType::kUInt32, "uint32", 4, "<u4"},
      {DType::kUInt64, "uint64", 8, "<u8"},       {DType::kFloat16, "float16", 2, "<f2"},
      {DType::kFloat32, "float32", 4, "<f4"},     {DType::kFloat64, "float64", 8, "<f8"},
      {DType::kComplex64, "complex64", 8, "<c8"}, {DType::kComplex128, "complex128", 16, "<c16"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(dtype_name(c.dtype), c.name);
    EXPECT_EQ(dtype_itemsize(c.dtype), c.itemsize);
    EXPECT_EQ(dtype_descr(c.dtype), c.descr);
    Result<DType> parsed = dtype_from_name(c.name);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, c.dtype);
  }
}

TEST(NpyDTypeTest, FromNameAcceptsNonNativeDescrs) {
  // Flower stores str(ndarray.dtype), which is the descr for big-endian arrays.
  Result<DType> dtype = dtype_from_name(">i4");
  ASSERT_TRUE(dtype.ok());
  EXPECT_EQ(*dtype, DType::kInt32);
  dtype = dtype_from_name(">f8");
  ASSERT_TRUE(dtype.ok());
  EXPECT_EQ(*dtype, DType::kFloat64);
}

TEST(NpyDTypeTest, FromNameRejectsBfloat16WithAdvice) {
  Result<DType> dtype = dtype_from_name("bfloat16");
  ASSERT_FALSE(dtype.ok());
  EXPECT_EQ(dtype.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(dtype.status().message(), "numpy has no bfloat16"));
  EXPECT_TRUE(contains(dtype.status().message(), "float32"));
}

TEST(NpyDTypeTest, FromNameRejectsUnknownNames) {
  for (const char* name : {"", "float128", "object", "Float32", "<", "str", "|O"}) {
    SCOPED_TRACE(name);
    Result<DType> dtype = dtype_from_name(name);
    ASSERT_FALSE(dtype.ok());
    EXPECT_TRUE(contains(dtype.status().message(), "unknown dtype"));
  }
}

// ---------------------------------------------------------------------------
// The writer.

TEST(NpyWriterTest, PadsWithSixtyFourSpacesWhenAlreadyAligned) {
  // numpy's padlen = 64 - ((10 + len(header) + 1) % 64) is 64, never 0.
  const std::vector<int64_t> shape = {1, 1, 1, 1, 1, 1, 1, 1, 10000000000000000};
  Result<std::string> header = npy_header(DType::kComplex128, shape);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->size(), 192u);
  const std::string dict =
      "{'descr': '<c16', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, "
      "10000000000000000), }";
  EXPECT_EQ(header->substr(10), dict + std::string(20, ' ') + std::string(64, ' ') + "\n");
}

TEST(NpyWriterTest, PadsWithOneSpaceWhenOneShort) {
  const std::vector<int64_t> shape = {1, 1, 1, 1, 1, 1, 1, 1, 1000000000000000};
  Result<std::string> header = npy_header(DType::kComplex128, shape);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->size(), 128u);
  EXPECT_EQ(header->substr(8, 2), std::string("\x76\x00", 2));  // 118
  const std::string dict =
      "{'descr': '<c16', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, "
      "1000000000000000), }";
  // 20 growth spaces for the 1 of axis 0, then a single space of padding.
  EXPECT_EQ(header->substr(10), dict + std::string(20, ' ') + " \n");
}

TEST(NpyWriterTest, GrowthSpacesDependOnTheFirstAxis) {
  Result<std::string> header = npy_header(DType::kFloat32, {123456, 2});
  ASSERT_TRUE(header.ok());
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (123456, 2), }";
  EXPECT_EQ(header->substr(10, dict.size()), dict);
  EXPECT_EQ(header->size() % 64, 0u);
  EXPECT_EQ(header->find_first_not_of(' ', 10 + dict.size()), header->size() - 1);
}

TEST(NpyWriterTest, UsesVersion2WhenTheHeaderOutgrowsUint16) {
  const std::vector<int64_t> shape(22000, 1);  // "1, " each: over 64 KiB of header
  Result<std::string> header = npy_header(DType::kUInt8, shape);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->substr(0, 8), std::string("\x93NUMPY\x02\x00", 8));
  EXPECT_EQ(header->size() % 64, 0u);
  uint32_t len = 0;
  std::memcpy(&len, header->data() + 8, 4);
  EXPECT_EQ(len + 12, header->size());
  EXPECT_EQ(header->back(), '\n');
  // The reader caps headers at 64 KiB, so it refuses such a file with a reason.
  Result<Bytes> npy = encode_npy(DType::kUInt8, shape, "x", 1);
  ASSERT_TRUE(npy.ok());
  Status status = decode_npy(*npy).status();
  EXPECT_TRUE(contains(status.message(), "65536-byte limit"));
}

TEST(NpyWriterTest, RoundTripsEveryDType) {
  for (int d = 0; d <= static_cast<int>(DType::kComplex128); ++d) {
    const auto dtype = static_cast<DType>(d);
    SCOPED_TRACE(std::string(dtype_name(dtype)));
    std::string data(6 * dtype_itemsize(dtype), '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 1);
    Result<Bytes> npy = encode_npy(dtype, {3, 2}, data.data(), data.size());
    ASSERT_TRUE(npy.ok()) << npy.status();
    Result<NpyArray> array = decode_npy(*npy);
    ASSERT_TRUE(array.ok()) << array.status();
    EXPECT_EQ(array->dtype, dtype);
    EXPECT_EQ(array->shape, (std::vector<int64_t>{3, 2}));
    EXPECT_EQ(array->data.view(), data);
  }
}

TEST(NpyWriterTest, RejectsWrongSizesAndShapes) {
  const std::vector<float> data(4);
  Status status = encode_npy(DType::kFloat32, {2, 3}, data.data(), 16).status();
  EXPECT_EQ(status.message(), "npy: data is 16 bytes, float32 with shape (2, 3) needs 24");
  status = encode_npy(DType::kFloat32, {2, -2}, data.data(), 16).status();
  EXPECT_TRUE(contains(status.message(), "negative dimension"));
  status = encode_npy(DType::kFloat32, {int64_t{1} << 62, 8}, data.data(), 16).status();
  EXPECT_TRUE(contains(status.message(), "too large"));
  status = encode_npy(DType::kFloat32, {4}, nullptr, 16).status();
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(encode_npy(DType::kFloat32, {0, 3}, nullptr, 0).ok());
}

TEST(NpyShapeTest, NumElements) {
  EXPECT_EQ(*shape_num_elements({}, 4), 1u);
  EXPECT_EQ(*shape_num_elements({2, 3, 4}, 8), 24u);
  // Empty, however large the other axes.
  EXPECT_EQ(*shape_num_elements({int64_t{1} << 62, 0, int64_t{1} << 62}, 4), 0u);
  EXPECT_FALSE(shape_num_elements({int64_t{1} << 62, 8}, 1).ok());
  EXPECT_FALSE(shape_num_elements({int64_t{1} << 61}, 8).ok());
  EXPECT_TRUE(shape_num_elements({int64_t{1} << 60}, 8).ok());
  EXPECT_FALSE(shape_num_elements({3, -1}, 4).ok());
  NpyArray array;
  array.shape = {2, 5};
  EXPECT_EQ(array.num_elements(), 10u);
  array.shape = {};
  EXPECT_EQ(array.num_elements(), 1u);
}

// ---------------------------------------------------------------------------
// The reader beyond what numpy 1.24 writes.

struct FlexibleHeaderCase {
  const char* dict;
  int major;
  std::vector<int64_t> shape;
  bool fortran_order;
};

TEST(NpyReaderTest, AcceptsAnyValidDictLiteral) {
  const FlexibleHeaderCase cases[] = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, {2, 3}, false},
      {"{\"shape\": (2, 3), \"descr\": \"<f4\", \"fortran_order\": False}", 1, {2, 3}, false},
      {"{'fortran_order':False,'shape':(2,3,),'descr':'=f4'}", 1, {2, 3}, false},
      {" {\n\t'descr' : '|f4' ,\n 'fortran_order' : False ,\n 'shape' : ( 6L , ) ,\n}",
       1,
       {6},
       false},
      {"{'descr': 'f4', 'fortran_order': False, 'shape': (1L, 2L, 3l)}", 2, {1, 2, 3}, false},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (6,), }", 3, {6}, true},
  };
  const std::vector<float> data = {0, 1, 2, 3, 4, 5};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.dict);
    const std::string npy = make_npy(c.dict, raw(data), c.major);
    Result<NpyHeader> header = parse_npy_header(npy);
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_EQ(header->major_version, c.major);
    EXPECT_EQ(header->shape, c.shape);
    EXPECT_EQ(header->fortran_order, c.fortran_order);
    EXPECT_FALSE(header->big_endian);
    Result<NpyArray> array = decode_npy(Bytes(npy));
    ASSERT_TRUE(array.ok()) << array.status();
    EXPECT_EQ(array->dtype, DType::kFloat32);
    EXPECT_EQ(array->data.view(), raw(data));
  }
}

TEST(NpyReaderTest, AcceptsUnpaddedHeaders) {
  std::string npy("\x93NUMPY\x01\x00", 8);
  const std::string dict = "{'descr':'|u1','fortran_order':False,'shape':(2,)}";
  npy += static_cast<char>(dict.size());
  npy += '\0';
  npy += dict + "ab";
  Result<NpyArray> array = decode_npy(Bytes(npy));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->data.view(), "ab");
}

TEST(NpyReaderTest, SwapsEachHalfOfBigEndianComplex) {
  // complex64 (1.5 + -2j) and (0.25 + 8j), big-endian.
  const std::vector<float> values = {1.5f, -2.0f, 0.25f, 8.0f};
  std::string data = raw(values);
  for (size_t i = 0; i < data.size(); i += 4) std::reverse(&data[i], &data[i] + 4);
  const std::string npy =
      make_npy("{'descr': '>c8', 'fortran_order': False, 'shape': (2,), }", data);
  Result<NpyArray> array = decode_npy(Bytes(npy));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->dtype, DType::kComplex64);
  EXPECT_EQ(array->data.view(), raw(values));
}

TEST(NpyReaderTest, ConvertsBigEndianFortranOrder) {
  // C order [[1, 2, 3], [4, 5, 6]] stored column-major, big-endian int16.
  const std::string data("\0\1\0\4\0\2\0\5\0\3\0\6", 12);
  const std::string npy =
      make_npy("{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }", data);
  Result<NpyArray> array = decode_npy(Bytes(npy));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->data.view(), raw(std::vector<int16_t>{1, 2, 3, 4, 5, 6}));
}

TEST(NpyReaderTest, OneByteTypesIgnoreByteOrder) {
  const std::string npy =
      make_npy("{'descr': '>u1', 'fortran_order': False, 'shape': (3,), }", "\1\2\3");
  Result<NpyHeader> header = parse_npy_header(npy);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_FALSE(header->big_endian);
}

TEST(NpyReaderTest, EmptyFortranArray) {
  const std::string npy =
      make_npy("{'descr': '>f8', 'fortran_order': True, 'shape': (0, 3), }", "");
  Result<NpyArray> array = decode_npy(Bytes(npy));
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->num_elements(), 0u);
  EXPECT_TRUE(array->data.empty());
}

// ---------------------------------------------------------------------------
// Bad input: every case is refused with a message a user can act on.

struct BadCase {
  const char* what;
  std::string npy;
  const char* message;  // a part of the expected message
};

std::string with_dict(const std::string& dict, std::string_view data = std::string(16, '\0')) {
  return make_npy(dict, data);
}

std::vector<BadCase> bad_cases() {
  const std::string good = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                                    std::string(16, '\0'));
  const std::string huge_len =
      std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12) + good.substr(10);
  std::string past_end = good;
  past_end[8] = '\xf0';
  past_end[9] = '\x00';
  return {
      {"empty", "", "too short"},
      {"truncated magic", "\x93NUM", "too short"},
      {"wrong magic", "PK\x03\x04" + good.substr(4), "not a .npy file"},
      {"unknown major version", good.substr(0, 6) + '\x04' + good.substr(7),
       "unsupported format version 4.0"},
      {"unknown minor version", good.substr(0, 7) + '\x01' + good.substr(8),
       "unsupported format version 1.1"},
      {"no header length", good.substr(0, 9), "too short for its header length"},
      {"header length past the end", past_end, "header ends at byte 250"},
      {"huge header length", huge_len, "over the 65536-byte limit"},
      {"truncated header", good.substr(0, 60), "truncated"},
      {"no closing brace", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), "),
       "malformed header"},
      {"not a dict", with_dict("['<f4', False, (2, 2)]"), "expected '{'"},
      {"unterminated string", with_dict("{'descr: '<f4'}"), "malformed header"},
      {"missing descr", with_dict("{'fortran_order': False, 'shape': (2, 2), }"), "no 'descr' key"},
      {"missing shape", with_dict("{'descr': '<f4', 'fortran_order': False, }"), "no 'shape' key"},
      {"missing fortran_order", with_dict("{'descr': '<f4', 'shape': (2, 2), }"),
       "no 'fortran_order' key"},
      {"extra key", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}"),
       "unexpected key 'x'"},
      {"duplicate key",
       with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'shape': (4,)}"),
       "'shape' appears twice"},
      {"fortran_order not a bool",
       with_dict("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 2), }"), "True or False"},
      {"shape not a tuple", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': [4]}"),
       "must be a tuple"},
      {"shape (4) is an int", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4)}"),
       "(n,)"},
      {"shape of floats", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2.0, 2)}"),
       "expected ',' or ')'"},
      {"dimension over int64",
       with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
       "dimension too large"},
      {"text after the dict",
       with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), } x"),
       "after the closing '}'"},
      {"bad descr", with_dict("{'descr': '<f3', 'fortran_order': False, 'shape': (2, 2), }"),
       "unsupported descr '<f3'"},
      {"object descr", with_dict("{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }"),
       "unsupported descr '|O'"},
      {"unicode descr", with_dict("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }"),
       "unsupported descr '<U4'"},
      {"void (bfloat16-like) descr",
       with_dict("{'descr': '|V2', 'fortran_order': False, 'shape': (8,), }"),
       "unsupported descr '|V2'"},
      {"structured descr",
       with_dict("{'descr': [('x', '<f4'), ('y', '<i4')], 'fortran_order': False, "
                 "'shape': (2,), }"),
       "descr [('x', '<f4'), ('y', '<i4')] is not a dtype string"},
      {"negative dim", with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, -2), }"),
       "npy: shape (-2, -2) has a negative dimension"},
      {"shape overflow",
       with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 8), }"),
       "too large"},
      {"data too short", good.substr(0, good.size() - 4),
       "npy: data is 12 bytes, header (descr '<f4', shape (2, 2)) needs 16"},
      {"data too long", good + "tail",
       "npy: data is 20 bytes, header (descr '<f4', shape (2, 2)) "
       "needs 16"},
  };
}

TEST(NpyReaderTest, RefusesBadInputWithAHelpfulMessage) {
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.what);
    Status status = decode_status(c.npy);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(contains(status.message(), c.message));
    EXPECT_EQ(status.message().rfind("npy: ", 0), 0u) << status.message();
  }
}

TEST(NpyReaderTest, ErrorMessagesQuoteHeaderTextPrintably) {
  std::string dict = "{'descr': '<f4\x01\xff', 'fortran_order': False, 'shape': (2, 2), }";
  Status status = decode_status(with_dict(dict));
  EXPECT_TRUE(contains(status.message(), "'<f4\\x01\\xff'"));
}

// ---------------------------------------------------------------------------
// Fuzz-style: mangled files are refused or decoded, never a crash (run under
// ASan and UBSan to catch out-of-bounds reads).

void decode_anything(const std::string& npy) {
  Result<NpyArray> array = decode_npy(Bytes::copy_of(npy));
  if (!array.ok()) {
    EXPECT_FALSE(array.status().message().empty());
    return;
  }
  EXPECT_EQ(array->data.size(), array->num_elements() * dtype_itemsize(array->dtype));
}

std::vector<std::string> fuzz_seeds() {
  return {npy_bytes(vector_named("float32_2x3")), npy_bytes(vector_named("fortran_int16_2x3x4")),
          npy_bytes(vector_named("bigendian_float64_3")),
          npy_bytes(vector_named("complex64_scalar"))};
}

TEST(NpyFuzzTest, EveryTruncationIsHandled) {
  for (const std::string& seed : fuzz_seeds()) {
    for (size_t n = 0; n < seed.size(); ++n) {
      Status status = decode_status(seed.substr(0, n));
      EXPECT_FALSE(status.ok()) << n;
    }
  }
}

TEST(NpyFuzzTest, EveryHeaderByteFlipIsHandled) {
  for (const std::string& seed : fuzz_seeds()) {
    for (size_t i = 0; i < 128; ++i) {
      for (int mask : {0x01, 0x20, 0x80, 0xff}) {
        std::string npy = seed;
        npy[i] = static_cast<char>(npy[i] ^ mask);
        decode_anything(npy);
      }
    }
  }
}

TEST(NpyFuzzTest, RandomSyntaxMutationsAreHandled) {
  const std::string alphabet = "{}()[],:'\" 0123456789-LTrueFalse<>|=fic\n\\";
  std::mt19937 rng(1234);
  for (const std::string& seed : fuzz_seeds()) {
    for (int round = 0; round < 3000; ++round) {
      std::string npy = seed;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        const size_t at = 10 + rng() % 118;
        npy[at] = alphabet[rng() % alphabet.size()];
      }
      decode_anything(npy);
    }
  }
}

TEST(NpyFuzzTest, DeepNestingDoesNotOverflowTheStack) {
  decode_anything(make_npy("{'descr': " + std::string(30000, '[') + ", 'shape': (1,)}", ""));
  decode_anything(make_npy("{'shape': " + std::string(30000, '(') + "}", ""));
}

}  // namespace
}  // namespace pollen
