// Writing .npz archives: stored (uncompressed) members without zip64, which
// every ZIP reader and np.load accept. The bytes depend only on the arrays
// (fixed timestamps), so the same model always gives the same file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "pollen/core/durable_file.h"
#include "pollen/core/npz.h"
#include "zip_format.h"

namespace pollen {
namespace zip {
namespace {

// 1980-01-01 00:00, the earliest DOS date: keeps the output reproducible.
constexpr uint16_t kDosTime = 0;
constexpr uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;
constexpr uint16_t kVersion = 20;                // 2.0: what stored members need
constexpr uint16_t kMadeByUnix = (3 << 8) | 20;  // host Unix, so the mode below counts
constexpr uint32_t kRegularFile644 = 0100644u << 16;

struct Member {
  std::string name;
  std::string_view data;
  uint32_t crc = 0;
  uint64_t offset = 0;
  uint16_t flags = 0;
};

// The fields the local header and the central directory entry share.
void put_common(std::string* out, const Member& member) {
  put16(out, kVersion);
  put16(out, member.flags);
  put16(out, kMethodStored);
  put16(out, kDosTime);
  put16(out, kDosDate);
  put32(out, member.crc);
  put32(out, static_cast<uint32_t>(member.data.size()));  // compressed
  put32(out, static_cast<uint32_t>(member.data.size()));  // uncompressed
  put16(out, static_cast<uint16_t>(member.name.size()));
  put16(out, 0);  // extra field length
}

std::string local_header(const Member& member) {
  std::string out;
  put32(&out, kLocalSig);
  put_common(&out, member);
  return out + member.name;
}

std::string directory_and_end(const std::vector<Member>& members, uint64_t offset) {
  std::string out;
  for (const Member& member : members) {
    put32(&out, kCentralSig);
    put16(&out, kMadeByUnix);
    put_common(&out, member);
    put16(&out, 0);  // comment length
    put16(&out, 0);  // disk
    put16(&out, 0);  // internal attributes
    put32(&out, kRegularFile644);
    put32(&out, static_cast<uint32_t>(member.offset));
    out += member.name;
  }
  const uint64_t size = out.size();
  put32(&out, kEndSig);
  put16(&out, 0);  // this disk
  put16(&out, 0);  // the directory's disk
  put16(&out, static_cast<uint16_t>(members.size()));
  put16(&out, static_cast<uint16_t>(members.size()));
  put32(&out, static_cast<uint32_t>(size));
  put32(&out, static_cast<uint32_t>(offset));
  put16(&out, 0);  // comment length
  return out;
}

// Checks everything and lays the members out, before a byte is written.
Result<std::vector<Member>> plan(const std::string& path, const ArrayRecord& arrays,
                                 uint64_t* directory_offset) {
  const std::string too_large = ": a .npz of 4 GiB or more needs zip64, which is not written";
  if (arrays.size() >= 0xFFFF) {
    return invalid_argument(path + ": " + std::to_string(arrays.size()) +
                            " arrays; a .npz without zip64 holds at most 65534");
  }
  std::vector<Member> members;
  uint64_t offset = 0;
  for (const auto& [key, array] : arrays) {
    const std::string what = path + ": array '" + key + "'";
    if (key.find('/') != std::string::npos || key.find('\0') != std::string::npos) {
      return invalid_argument(what + ": a key may not contain '/' or NUL");
    }
    if (array.stype != kNumpyStype) {
      return invalid_argument(what + ": stype '" + array.stype + "' is not numpy.ndarray");
    }
    Result<NpyHeader> header = parse_npy_header(array.data.view());
    if (!header.ok()) return invalid_argument(what + ": " + header.status().message());
    Member member;
    member.name = key + std::string(kSuffix);
    member.data = array.data.view();
    member.crc = crc32_of(member.data);
    member.offset = offset;
    for (char c : member.name) {
      if (static_cast<unsigned char>(c) >= 0x80) member.flags = kFlagUtf8;
    }
    if (member.name.size() > 0xFFFF) return invalid_argument(what + ": the key is too long");
    if (member.data.size() >= kNoSize) {
      return invalid_argument(what + ": " + std::to_string(member.data.size()) +
                              " bytes; members of 4 GiB or more need zip64, which is not written");
    }
    offset += kLocalSize + member.name.size() + member.data.size();
    if (offset >= kNoSize) return invalid_argument(path + too_large);
    members.push_back(std::move(member));
  }
  uint64_t directory_size = 0;
  for (const Member& member : members) directory_size += kCentralSize + member.name.size();
  if (offset + directory_size >= kNoSize) return invalid_argument(path + too_large);
  *directory_offset = offset;
  return members;
}

Status write_file(const std::string& path, const std::vector<Member>& members,
                  uint64_t directory_offset, mode_t mode) {
  return replace_file_durably(path, mode, [&](int fd) {
    for (const Member& member : members) {
      if (!write_all(fd, local_header(member)) || !write_all(fd, member.data)) return false;
    }
    return write_all(fd, directory_and_end(members, directory_offset));
  });
}

}  // namespace
}  // namespace zip

Status write_npz(const std::string& path, const ArrayRecord& arrays, mode_t mode) {
  uint64_t directory_offset = 0;
  POLLEN_ASSIGN_OR_RETURN(std::vector<zip::Member> members,
                          zip::plan(path, arrays, &directory_offset));
  return zip::write_file(path, members, directory_offset, mode);
}

}  // namespace pollen
