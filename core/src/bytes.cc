#include "pollen/core/bytes.h"

#include <algorithm>

namespace pollen {

Bytes::Bytes(std::string data)
    : buffer_(std::make_shared<const std::string>(std::move(data))), size_(buffer_->size()) {}

Bytes Bytes::slice(size_t offset, size_t length) const {
  Bytes out;
  offset = std::min(offset, size_);
  out.buffer_ = buffer_;
  out.offset_ = offset_ + offset;
  out.size_ = std::min(length, size_ - offset);
  return out;
}

}  // namespace pollen
