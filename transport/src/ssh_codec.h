// The byte encoding of OpenSSH key files: big-endian uint32 lengths,
// strings, mpints, base64, and the three ECDSA curves. Readers check every
// length against the bytes that are there.
#ifndef POLLEN_TRANSPORT_SSH_CODEC_H_
#define POLLEN_TRANSPORT_SSH_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pollen/core/status.h"

namespace pollen::fleet {

struct SshCurve {
  std::string_view key_type;      // "ecdsa-sha2-nistp384"
  std::string_view ssh_name;      // "nistp384"
  std::string_view openssl_name;  // "P-384"
  std::string_view openssl_sn;    // "secp384r1", as OpenSSL reports the group
  size_t field_bytes;             // 48
};

inline constexpr SshCurve kSshCurves[] = {
    {"ecdsa-sha2-nistp256", "nistp256", "P-256", "prime256v1", 32},
    {"ecdsa-sha2-nistp384", "nistp384", "P-384", "secp384r1", 48},
    {"ecdsa-sha2-nistp521", "nistp521", "P-521", "secp521r1", 66},
};

// An EC public key as OpenSSH writes it.
struct EcPublicKey {
  SshCurve curve;
  std::string point;  // uncompressed: 0x04 || X || Y
};

// Reads from a view it does not own; every call returns false, consuming
// nothing, when the data is too short.
class SshReader {
 public:
  explicit SshReader(std::string_view data) : data_(data) {}
  bool u32(uint32_t* out);
  bool bytes(size_t n, std::string_view* out);
  bool string(std::string_view* out);  // uint32 length, then the bytes
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

class SshWriter {
 public:
  void u32(uint32_t v);
  void byte(uint8_t v) { data_.push_back(static_cast<char>(v)); }
  void raw(std::string_view bytes) { data_.append(bytes); }
  void string(std::string_view bytes);
  // A non-negative integer from its big-endian magnitude: leading zeros
  // dropped, a zero byte added when the top bit is set.
  void mpint(std::string_view magnitude);
  size_t size() const { return data_.size(); }
  const std::string& data() const { return data_; }
  std::string& mutable_data() { return data_; }

 private:
  std::string data_;
};

// The magnitude of a non-negative mpint, without leading zeros; fails when it
// is negative, zero or longer than `max_bytes`.
Result<std::string_view> mpint_magnitude(std::string_view mpint, size_t max_bytes);

// The public key blob: string key type, string curve name, string point.
std::string ssh_public_blob(const EcPublicKey& key);

std::string base64_encode(std::string_view bytes);
// Decodes standard base64, skipping whitespace; fails on other characters
// or bad padding.
Result<std::string> base64_decode(std::string_view text);

}  // namespace pollen::fleet

#endif  // POLLEN_TRANSPORT_SSH_CODEC_H_
