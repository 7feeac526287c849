#include "ssh_codec.h"

namespace pollen::fleet {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool SshReader::u32(uint32_t* out) {
  if (remaining() < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
  *out = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
  pos_ += 4;
  return true;
}

bool SshReader::bytes(size_t n, std::string_view* out) {
  if (remaining() < n) return false;
  *out = data_.substr(pos_, n);
  pos_ += n;
  return true;
}

bool SshReader::string(std::string_view* out) {
  const size_t start = pos_;
  uint32_t n = 0;
  if (!u32(&n)) return false;
  if (!bytes(n, out)) {
    pos_ = start;
    return false;
  }
  return true;
}

void SshWriter::u32(uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) byte(static_cast<uint8_t>(v >> shift));
}

void SshWriter::string(std::string_view bytes) {
  u32(static_cast<uint32_t>(bytes.size()));
  raw(bytes);
}

void SshWriter::mpint(std::string_view magnitude) {
  while (!magnitude.empty() && magnitude[0] == '\0') magnitude.remove_prefix(1);
  const bool top_bit = !magnitude.empty() && (static_cast<uint8_t>(magnitude[0]) & 0x80) != 0;
  u32(static_cast<uint32_t>(magnitude.size() + (top_bit ? 1 : 0)));
  if (top_bit) byte(0);
  raw(magnitude);
}

Result<std::string_view> mpint_magnitude(std::string_view mpint, size_t max_bytes) {
  if (!mpint.empty() && (static_cast<uint8_t>(mpint[0]) & 0x80) != 0) {
    return invalid_argument("OpenSSH private key: the private scalar is negative");
  }
  while (!mpint.empty() && mpint[0] == '\0') mpint.remove_prefix(1);
  if (mpint.empty()) return invalid_argument("OpenSSH private key: the private scalar is zero");
  if (mpint.size() > max_bytes) {
    return invalid_argument("OpenSSH private key: the private scalar is too long for its curve");
  }
  return mpint;
}

std::string ssh_public_blob(const EcPublicKey& key) {
  SshWriter out;
  out.string(key.curve.key_type);
  out.string(key.curve.ssh_name);
  out.string(key.point);
  return out.data();
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{p[i]} << 16;
    if (rest == 2) v |= uint32_t{p[i + 1]} << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t padding = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int v = base64_value(c);
    if (v < 0 || padding > 0) return invalid_argument("OpenSSH private key: bad base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be the zero fill of a final partial group.
  if (padding > 2 || bits >= 6 || (acc & ((1u << bits) - 1)) != 0) {
    return invalid_argument("OpenSSH private key: bad base64");
  }
  return out;
}

}  // namespace pollen::fleet
