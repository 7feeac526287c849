// Bytes: an immutable, shared, sliceable byte buffer.
//
// Array data, object bodies and chunks all refer to the same storage, so a
// model's weights are held once whether they sit in an Array, are split into
// 5 MiB chunks for hashing, or arrive from the network. Copies of a Bytes
// share the buffer; slicing never copies. Thread-safe to read.
#ifndef POLLEN_CORE_BYTES_H_
#define POLLEN_CORE_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pollen {

class Bytes {
 public:
  Bytes() = default;
  // Takes ownership of `data` without copying it.
  explicit Bytes(std::string data);
  // Copies `data`.
  static Bytes copy_of(std::string_view data) { return Bytes(std::string(data)); }

  const uint8_t* data() const {
    return buffer_ ? reinterpret_cast<const uint8_t*>(buffer_->data()) + offset_ : nullptr;
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const {
    return buffer_ ? std::string_view(buffer_->data() + offset_, size_) : std::string_view();
  }

  // Returns the bytes [offset, offset + length), clamped to this slice.
  Bytes slice(size_t offset, size_t length) const;

  // Returns a std::string with a copy of the bytes.
  std::string to_string() const { return std::string(view()); }

  friend bool operator==(const Bytes& a, const Bytes& b) { return a.view() == b.view(); }
  friend bool operator!=(const Bytes& a, const Bytes& b) { return !(a == b); }

 private:
  std::shared_ptr<const std::string> buffer_;
  size_t offset_ = 0;
  size_t size_ = 0;
};

}  // namespace pollen

#endif  // POLLEN_CORE_BYTES_H_
