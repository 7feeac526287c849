// The parts of the ZIP format (PKWARE APPNOTE 6.3) that .npz files use,
// shared by the .npz reader and writer. All fields are little-endian.
#ifndef POLLEN_CORE_SRC_ZIP_FORMAT_H_
#define POLLEN_CORE_SRC_ZIP_FORMAT_H_

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "pollen/core/durable_file.h"
#include "pollen/core/status.h"

namespace pollen::zip {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;

// Fixed sizes of the records, before their variable-length fields.
constexpr uint64_t kLocalSize = 30;
constexpr uint64_t kCentralSize = 46;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kZip64EndSize = 56;
constexpr uint64_t kZip64LocatorSize = 20;

// A 32-bit size or offset of this value lives in the zip64 extra field.
constexpr uint64_t kNoSize = 0xFFFFFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;

constexpr uint16_t kFlagEncrypted = 1 << 0;
constexpr uint16_t kFlagDataDescriptor = 1 << 3;
constexpr uint16_t kFlagUtf8 = 1 << 11;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflate = 8;
// Deflate's best case: one 258-byte match per 2 bits, about 1032:1.
constexpr uint64_t kMaxDeflateRatio = 1032;

constexpr std::string_view kSuffix = ".npy";

// Callers check that [at, at + width) lies within `data` first.
inline uint64_t read_le(std::string_view data, uint64_t at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<uint8_t>(data[static_cast<size_t>(at) + i]);
  }
  return value;
}
inline uint16_t read16(std::string_view data, uint64_t at) {
  return static_cast<uint16_t>(read_le(data, at, 2));
}
inline uint32_t read32(std::string_view data, uint64_t at) {
  return static_cast<uint32_t>(read_le(data, at, 4));
}
inline uint64_t read64(std::string_view data, uint64_t at) { return read_le(data, at, 8); }

inline void put16(std::string* out, uint16_t value) {
  out->push_back(static_cast<char>(value & 0xFF));
  out->push_back(static_cast<char>(value >> 8));
}
inline void put32(std::string* out, uint32_t value) {
  put16(out, static_cast<uint16_t>(value & 0xFFFF));
  put16(out, static_cast<uint16_t>(value >> 16));
}

// zlib's crc32 counts in 32 bits; members may be larger.
inline uint32_t crc32_of(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (!data.empty()) {
    const size_t n = std::min<size_t>(data.size(), UINT_MAX);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n));
    data.remove_prefix(n);
  }
  return static_cast<uint32_t>(crc);
}

// A failed system call on `path`: the shared file_error (durable_file.h).
using ::pollen::file_error;

}  // namespace pollen::zip

#endif  // POLLEN_CORE_SRC_ZIP_FORMAT_H_
