#include "pollen/core/signing.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

namespace pollen {

namespace {

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// The last OpenSSL error as text, clearing the queue.
std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no details from OpenSSL";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

BioPtr memory_bio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::string bio_contents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> public_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return internal_error("cannot write the public key as PEM: " + openssl_error());
  }
  return bio_contents(bio.get());
}

}  // namespace

struct NodeKey::Impl {
  PkeyPtr key;
};

NodeKey::NodeKey(std::unique_ptr<Impl> impl, std::string public_pem)
    : impl_(std::move(impl)), public_key_pem_(std::move(public_pem)) {}
NodeKey::NodeKey(NodeKey&&) noexcept = default;
NodeKey& NodeKey::operator=(NodeKey&&) noexcept = default;
NodeKey::~NodeKey() = default;

Result<NodeKey> NodeKey::generate() {
  PkeyPtr key(EVP_EC_gen("P-384"));
  if (!key) return internal_error("cannot generate a P-384 key: " + openssl_error());
  POLLEN_ASSIGN_OR_RETURN(std::string pem, public_pem(key.get()));
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return NodeKey(std::move(impl), std::move(pem));
}

Result<NodeKey> NodeKey::from_private_pem(std::string_view pem) {
  BioPtr bio = memory_bio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return invalid_argument(
        "not a PEM private key (expected 'BEGIN PRIVATE KEY' or "
        "'BEGIN EC PRIVATE KEY'): " +
        openssl_error());
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC) {
    return invalid_argument(
        "the private key is not an elliptic-curve key; Flower node keys "
        "are EC keys (P-384 by default)");
  }
  POLLEN_ASSIGN_OR_RETURN(std::string pub, public_pem(key.get()));
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return NodeKey(std::move(impl), std::move(pub));
}

Result<NodeKey> NodeKey::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot read private key file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  Result<NodeKey> key = from_private_pem(text.str());
  if (!key.ok()) return key.status().with_context("private key file '" + path + "'");
  return key;
}

Result<std::string> NodeKey::private_key_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return internal_error("cannot write the private key as PEM: " + openssl_error());
  }
  return bio_contents(bio.get());
}

Result<std::string> NodeKey::sign(std::string_view data) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return internal_error("cannot sign: " + openssl_error());
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return internal_error("cannot sign: " + openssl_error());
  }
  signature.resize(len);  // DER length varies (102-104 bytes for P-384)
  return signature;
}

std::string format_flwr_timestamp(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto micros = duration_cast<microseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(micros / 1000000);
  long frac = static_cast<long>(micros % 1000000);
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+00:00", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

Result<std::chrono::system_clock::time_point> parse_flwr_timestamp(std::string_view text) {
  const std::string s(text);
  int year, mon, day, hour, min, sec, consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &mon, &day, &hour, &min, &sec,
                  &consumed) != 6 ||
      consumed != 19) {
    return invalid_argument("timestamp '" + s + "' is not YYYY-MM-DDTHH:MM:SS");
  }
  size_t pos = 19;
  long micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    int digits = 0;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++digits) {
      if (digits < 6) micros = micros * 10 + (s[pos] - '0');
    }
    if (digits == 0) return invalid_argument("timestamp '" + s + "' has an empty fraction");
    for (; digits < 6; ++digits) micros *= 10;
  }
  const std::string zone = s.substr(pos);
  if (zone != "+00:00" && zone != "Z") {
    return invalid_argument("timestamp '" + s + "' is not in UTC (+00:00)");
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  const time_t secs = timegm(&tm);
  return std::chrono::system_clock::time_point(std::chrono::seconds(secs)) +
         std::chrono::microseconds(micros);
}

Result<SignedHeaders> sign_request(const NodeKey& key, std::chrono::system_clock::time_point now) {
  SignedHeaders headers;
  headers.public_key = key.public_key_pem();
  headers.timestamp = format_flwr_timestamp(now);
  POLLEN_ASSIGN_OR_RETURN(headers.signature, key.sign(headers.timestamp));
  return headers;
}

Status verify_signature(std::string_view public_key_pem, std::string_view data,
                        std::string_view signature) {
  BioPtr bio = memory_bio(public_key_pem);
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Status(StatusCode::kUnauthenticated, "public key is not a PEM SubjectPublicKeyInfo");
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return internal_error("cannot verify: " + openssl_error());
  }
  const int ok = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(data.data()), data.size());
  ERR_clear_error();
  if (ok != 1) return Status(StatusCode::kUnauthenticated, "invalid signature");
  return Status::Ok();
}

}  // namespace pollen
