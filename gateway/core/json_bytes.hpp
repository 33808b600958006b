#pragma once
// Word-at-a-time tests on the bytes of a JSON string: most text has nothing to escape or check,
// and is skipped 8 bytes per step.
#include <bit>
#include <cstdint>

static_assert(std::endian::native == std::endian::little, "json_bytes reads words little-endian");

namespace corral::json_bytes {

inline constexpr std::uint64_t ones = 0x0101010101010101ull;
inline constexpr std::uint64_t highs = 0x8080808080808080ull;

// The bytes of `w` (8 bytes of text, in memory order) that are below 0x20, a quote or a
// backslash — the bytes a JSON string must escape — as a mask with the high bit of each such
// byte set. Bytes past the first flagged one may be flagged falsely (a borrow carries), so the
// mask says whether there is one and where the first is, not more.
inline std::uint64_t special_mask(std::uint64_t w) {
  auto zero_byte = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  std::uint64_t below_space = (w - ones * 0x20) & ~w & highs;  // a byte < 0x20 (bytes >= 0x80 excluded by ~w)
  return below_space | zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\'));
}

// special_mask, with the bytes of multi-byte UTF-8 sequences (>= 0x80) too, which a reader checks.
inline std::uint64_t special_or_high_mask(std::uint64_t w) { return (w & highs) | special_mask(w); }

// Where the first flagged byte of a non-zero mask is (0 to 7), on a little-endian machine.
inline unsigned first_flagged(std::uint64_t mask) { return static_cast<unsigned>(__builtin_ctzll(mask)) / 8; }

}  // namespace corral::json_bytes
