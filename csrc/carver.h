/* One scratch allocation cut into aligned arrays: the layout both builds agree on. */
#ifndef GPUMEM_CARVER_H
#define GPUMEM_CARVER_H

#include <stdint.h>

/* Carves consecutive 256-byte-aligned arrays out of one range. */
class GmCarver {
 public:
  explicit GmCarver(uint64_t base) : base_(base), offset_(0) {}
  template <typename E>
  E *take(uint64_t count) {
    offset_ = (offset_ + 255) & ~uint64_t(255);
    E *p = reinterpret_cast<E *>(base_ + offset_);
    offset_ += count * sizeof(E);
    return p;
  }
  uint64_t used() const { return offset_; }

 private:
  uint64_t base_, offset_;
};

#endif
