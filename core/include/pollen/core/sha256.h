// SHA-256 (OpenSSL), as Flower uses it for object ids.
#ifndef POLLEN_CORE_SHA256_H_
#define POLLEN_CORE_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

namespace pollen {

// Incremental SHA-256, so an object can be hashed from its head and a slice
// of array data without concatenating them. Not thread-safe; move-only.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view data);
  // Returns the digest as 64 lowercase hex characters; the hasher is spent.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Lowercase hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// True when `id` is 64 lowercase hex characters (a Flower object id).
bool is_object_id(std::string_view id);

}  // namespace pollen

#endif  // POLLEN_CORE_SHA256_H_
