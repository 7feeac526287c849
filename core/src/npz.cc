// Reading .npz archives: the subset of ZIP (APPNOTE 6.3) that Python's
// zipfile writes for np.savez and np.savez_compressed. The whole file is read
// once; every offset and length from it is checked against what is actually
// there before it is used, and a declared size only reaches an allocation
// after that check.
#include "pollen/core/npz.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "zip_format.h"

namespace pollen {
namespace zip {
namespace {

Status archive_error(const std::string& path, const std::string& why) {
  return invalid_argument(path + ": " + why);
}

Status member_error(const std::string& path, const std::string& name, const std::string& why) {
  return invalid_argument(path + ": member '" + name + "': " + why);
}

Result<Bytes> read_whole_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return file_error(path, "cannot open", errno);
  struct stat info;
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return invalid_argument(path + ": not a regular file");
  }
  std::string data(static_cast<size_t>(info.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      return file_error(path, "cannot read", error);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return Bytes(std::move(data));
}

// One member as the central directory describes it.
struct Entry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint64_t local_offset = 0;
};

// Where the central directory lies, from the (zip64) end record.
struct Directory {
  uint64_t offset = 0;
  uint64_t size = 0;
  uint64_t count = 0;
  uint64_t end = 0;  // first byte after the directory: an end record starts here
};

// True when [offset, offset + length) lies within [0, limit).
bool fits(uint64_t offset, uint64_t length, uint64_t limit) {
  return offset <= limit && length <= limit - offset;
}

Result<Directory> find_directory(const std::string& path, std::string_view file) {
  if (file.empty()) return archive_error(path, "the file is empty, not a .npz archive");
  if (file.size() < kEndSize || (read32(file, 0) != kLocalSig && read32(file, 0) != kEndSig)) {
    return archive_error(path, "not a ZIP archive (a .npz file is one)");
  }
  // The end record is last, followed only by a comment of at most 64 KiB
  // whose length it gives.
  auto is_end_record = [file](size_t at) {
    return read32(file, at) == kEndSig && read16(file, at + 20) == file.size() - at - kEndSize;
  };
  size_t end = file.size() - kEndSize;
  const size_t lowest = end > 0xFFFF ? end - 0xFFFF : 0;
  while (!is_end_record(end)) {
    if (end == lowest) {
      return archive_error(path, "no ZIP end record: the file is truncated or not a ZIP archive");
    }
    --end;
  }
  if (read16(file, end + 4) != 0 || read16(file, end + 6) != 0) {
    return archive_error(path, "multi-disk ZIP archives are not supported");
  }
  Directory dir{read32(file, end + 16), read32(file, end + 12), read16(file, end + 10), end};
  if (dir.count == 0xFFFF || dir.size == kNoSize || dir.offset == kNoSize) {
    // zip64: a locator just before the end record points at the zip64 end record.
    if (end < kZip64LocatorSize || read32(file, end - kZip64LocatorSize) != kZip64LocatorSig) {
      return archive_error(path, "the zip64 end record locator is missing");
    }
    const uint64_t at = read64(file, end - kZip64LocatorSize + 8);
    if (!fits(at, kZip64EndSize, end - kZip64LocatorSize) || read32(file, at) != kZip64EndSig) {
      return archive_error(path, "the zip64 end record is missing or out of place");
    }
    if (read32(file, at + 16) != 0 || read32(file, at + 20) != 0) {
      return archive_error(path, "multi-disk ZIP archives are not supported");
    }
    dir = Directory{read64(file, at + 48), read64(file, at + 40), read64(file, at + 32), at};
  }
  if (!fits(dir.offset, dir.size, dir.end) || dir.count > dir.size / kCentralSize) {
    return archive_error(path, "the central directory lies outside the file (truncated?)");
  }
  return dir;
}

// Replaces the 32-bit fields that hold kNoSize by their values from the
// zip64 extra field, which lists exactly those, in this order.
bool apply_zip64(std::string_view extra, uint64_t* size, uint64_t* compressed_size,
                 uint64_t* local_offset) {
  while (extra.size() >= 4) {
    const uint16_t id = read16(extra, 0);
    const uint16_t length = read16(extra, 2);
    if (length > extra.size() - 4) return false;
    if (id == kZip64ExtraId) {
      std::string_view fields = extra.substr(4, length);
      for (uint64_t* field : {size, compressed_size, local_offset}) {
        if (field == nullptr || *field != kNoSize) continue;
        if (fields.size() < 8) return false;
        *field = read64(fields, 0);
        fields.remove_prefix(8);
      }
      return true;
    }
    extra.remove_prefix(4 + length);
  }
  return true;
}

Result<std::vector<Entry>> read_directory(const std::string& path, std::string_view file,
                                          const Directory& dir) {
  std::vector<Entry> entries;
  entries.reserve(static_cast<size_t>(dir.count));
  uint64_t at = dir.offset;
  const uint64_t limit = dir.offset + dir.size;
  for (uint64_t i = 0; i < dir.count; ++i) {
    if (!fits(at, kCentralSize, limit) || read32(file, at) != kCentralSig) {
      return archive_error(path, "central directory entry " + std::to_string(i) + " is damaged");
    }
    const uint64_t name_length = read16(file, at + 28);
    const uint64_t extra_length = read16(file, at + 30);
    const uint64_t comment_length = read16(file, at + 32);
    if (!fits(at, kCentralSize + name_length + extra_length + comment_length, limit)) {
      return archive_error(path, "central directory entry " + std::to_string(i) + " is truncated");
    }
    Entry entry;
    entry.name = std::string(file.substr(at + kCentralSize, name_length));
    entry.flags = read16(file, at + 8);
    entry.method = read16(file, at + 10);
    entry.crc = read32(file, at + 16);
    entry.compressed_size = read32(file, at + 20);
    entry.size = read32(file, at + 24);
    entry.local_offset = read32(file, at + 42);
    if (read16(file, at + 34) != 0 && read16(file, at + 34) != 0xFFFF) {
      return member_error(path, entry.name, "multi-disk ZIP archives are not supported");
    }
    if (!apply_zip64(file.substr(at + kCentralSize + name_length, extra_length), &entry.size,
                     &entry.compressed_size, &entry.local_offset)) {
      return member_error(path, entry.name, "malformed zip64 extra field");
    }
    entries.push_back(std::move(entry));
    at += kCentralSize + name_length + extra_length + comment_length;
  }
  return entries;
}

// Locates the member's data after its local header, which must agree with
// the central directory.
Result<std::string_view> member_data(const std::string& path, std::string_view file,
                                     const Entry& entry, uint64_t data_limit) {
  const uint64_t at = entry.local_offset;
  if (!fits(at, kLocalSize, data_limit) || read32(file, at) != kLocalSig) {
    return member_error(path, entry.name, "local header is missing (truncated or damaged file)");
  }
  const uint64_t name_length = read16(file, at + 26);
  const uint64_t extra_length = read16(file, at + 28);
  const uint64_t start = at + kLocalSize + name_length + extra_length;
  if (!fits(at + kLocalSize, name_length + extra_length, data_limit) ||
      !fits(start, entry.compressed_size, data_limit)) {
    return member_error(path, entry.name, "data runs past its end (truncated file)");
  }
  if (file.substr(at + kLocalSize, name_length) != entry.name) {
    return member_error(path, entry.name, "local header names a different member");
  }
  // Without a data descriptor (flag bit 3) the local header repeats the sizes.
  if ((entry.flags & kFlagDataDescriptor) == 0) {
    uint64_t compressed_size = read32(file, at + 18);
    uint64_t size = read32(file, at + 22);
    if (!apply_zip64(file.substr(at + kLocalSize + name_length, extra_length), &size,
                     &compressed_size, nullptr) ||
        read32(file, at + 14) != entry.crc || size != entry.size ||
        compressed_size != entry.compressed_size) {
      return member_error(path, entry.name, "local header disagrees with the central directory");
    }
  }
  return file.substr(start, entry.compressed_size);
}

Result<std::string> inflate_raw(const std::string& path, const Entry& entry,
                                std::string_view compressed) {
  // Deflate cannot compress by more than 1032:1, so a larger claim is a lie
  // and must not become an allocation.
  if (entry.size / kMaxDeflateRatio > entry.compressed_size + 1) {
    return member_error(path, entry.name,
                        "claims " + std::to_string(entry.size) + " bytes from " +
                            std::to_string(entry.compressed_size) + " compressed bytes");
  }
  if (static_cast<uint64_t>(static_cast<size_t>(entry.size)) != entry.size) {
    return member_error(path, entry.name, "is too large for this machine's address space");
  }
  std::string out(static_cast<size_t>(entry.size), '\0');
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) {
    return internal_error(path + ": cannot start zlib's inflate");
  }
  const char* in = compressed.data();
  size_t in_left = compressed.size();
  char* next_out = out.data();
  size_t out_left = out.size();
  int rc = Z_OK;
  while (rc == Z_OK) {
    // zlib counts in 32 bits: feed members of 4 GiB or more piecewise.
    if (stream.avail_in == 0 && in_left > 0) {
      stream.avail_in = static_cast<uInt>(std::min<size_t>(in_left, UINT_MAX));
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
      in += stream.avail_in;
      in_left -= stream.avail_in;
    }
    if (stream.avail_out == 0 && out_left > 0) {
      stream.avail_out = static_cast<uInt>(std::min<size_t>(out_left, UINT_MAX));
      stream.next_out = reinterpret_cast<Bytef*>(next_out);
      next_out += stream.avail_out;
      out_left -= stream.avail_out;
    }
    rc = inflate(&stream, Z_NO_FLUSH);
  }
  const bool complete = rc == Z_STREAM_END && stream.avail_out == 0 && out_left == 0;
  const std::string why = stream.msg != nullptr ? stream.msg : "";
  inflateEnd(&stream);
  if (!complete) {
    return member_error(path, entry.name,
                        rc == Z_STREAM_END ? "inflates to fewer bytes than its declared size"
                        : why.empty()      ? "deflate data is truncated or larger than declared"
                                           : "deflate data is corrupt: " + why);
  }
  return out;
}

Result<ArrayRecord> read_archive(const std::string& path) {
  POLLEN_ASSIGN_OR_RETURN(Bytes bytes, read_whole_file(path));
  const std::string_view file = bytes.view();
  POLLEN_ASSIGN_OR_RETURN(Directory dir, find_directory(path, file));
  POLLEN_ASSIGN_OR_RETURN(std::vector<Entry> entries, read_directory(path, file, dir));
  ArrayRecord arrays;
  std::unordered_set<std::string> seen;
  for (const Entry& entry : entries) {
    if ((entry.flags & kFlagEncrypted) != 0) {
      return member_error(path, entry.name, "is encrypted; .npz members never are");
    }
    if (entry.method != kMethodStored && entry.method != kMethodDeflate) {
      return member_error(path, entry.name,
                          "compression method " + std::to_string(entry.method) +
                              " is not supported (only stored and deflate, as numpy writes)");
    }
    if (entry.name.size() < kSuffix.size() ||
        entry.name.compare(entry.name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      return member_error(path, entry.name, "is not a .npy file (its name must end in .npy)");
    }
    if (!seen.insert(entry.name).second) {
      return member_error(path, entry.name, "appears twice in the archive");
    }
    POLLEN_ASSIGN_OR_RETURN(std::string_view stored, member_data(path, file, entry, dir.offset));
    Bytes npy;
    if (entry.method == kMethodStored) {
      if (entry.size != entry.compressed_size) {
        return member_error(path, entry.name, "stored member with two different sizes");
      }
      npy = bytes.slice(static_cast<size_t>(stored.data() - file.data()), stored.size());
    } else {
      POLLEN_ASSIGN_OR_RETURN(std::string inflated, inflate_raw(path, entry, stored));
      npy = Bytes(std::move(inflated));
    }
    if (crc32_of(npy.view()) != entry.crc) {
      return member_error(path, entry.name, "CRC-32 mismatch: the file is corrupt");
    }
    Result<Array> array = Array::from_npy(std::move(npy));
    if (!array.ok()) return member_error(path, entry.name, array.status().message());
    arrays.set(entry.name.substr(0, entry.name.size() - kSuffix.size()), std::move(array).value());
  }
  return arrays;
}

}  // namespace
}  // namespace zip

Result<ArrayRecord> read_npz(const std::string& path) { return zip::read_archive(path); }

}  // namespace pollen
