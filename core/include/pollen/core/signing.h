// Request signing for Flower's Fleet API: every call carries the node's
// public key, a timestamp and an ECDSA-SHA256 signature of that timestamp.
#ifndef POLLEN_CORE_SIGNING_H_
#define POLLEN_CORE_SIGNING_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "pollen/core/status.h"

namespace pollen {

// gRPC metadata keys (the "-bin" values are raw bytes; gRPC base64s them).
inline constexpr char kPublicKeyMetadata[] = "flwr-public-key-bin";
inline constexpr char kTimestampMetadata[] = "flwr-timestamp";
inline constexpr char kSignatureMetadata[] = "flwr-signature-bin";

// An EC key pair that identifies a node. Move-only; thread-safe for signing.
class NodeKey {
 public:
  // A fresh SECP384R1 (P-384) key, as the Python SuperNode generates.
  static Result<NodeKey> generate();
  // A private key in PEM (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE KEY").
  static Result<NodeKey> from_private_pem(std::string_view pem);
  // Reads a PEM private key file.
  static Result<NodeKey> load(const std::string& path);

  NodeKey(NodeKey&&) noexcept;
  NodeKey& operator=(NodeKey&&) noexcept;
  ~NodeKey();

  // PEM SubjectPublicKeyInfo, byte-identical to Python's cryptography output.
  const std::string& public_key_pem() const { return public_key_pem_; }
  // PKCS#8 PEM of the private key (for saving a key to reuse).
  Result<std::string> private_key_pem() const;
  // DER-encoded ECDSA-SHA256 signature of `data`.
  Result<std::string> sign(std::string_view data) const;

 private:
  struct Impl;
  explicit NodeKey(std::unique_ptr<Impl> impl, std::string public_pem);
  std::unique_ptr<Impl> impl_;
  std::string public_key_pem_;
};

// The three metadata values of one signed call.
struct SignedHeaders {
  std::string public_key;  // PEM bytes
  std::string timestamp;   // "YYYY-MM-DDTHH:MM:SS.ffffff+00:00"
  std::string signature;   // DER bytes
};

// Formats `t` as Python's datetime.now(timezone.utc).isoformat() does:
// always six fraction digits and "+00:00".
std::string format_flwr_timestamp(std::chrono::system_clock::time_point t);

// Parses an ISO-8601 UTC timestamp ("+00:00" or "Z", 0-6 fraction digits).
Result<std::chrono::system_clock::time_point> parse_flwr_timestamp(std::string_view text);

// Signs the timestamp of `now` with `key`.
Result<SignedHeaders> sign_request(const NodeKey& key, std::chrono::system_clock::time_point now);

// OK when `signature` (DER) is a valid ECDSA-SHA256 signature of `data` by
// the PEM public key; UNAUTHENTICATED otherwise.
Status verify_signature(std::string_view public_key_pem, std::string_view data,
                        std::string_view signature);

}  // namespace pollen

#endif  // POLLEN_CORE_SIGNING_H_
