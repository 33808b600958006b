#pragma once
// CIDR ranges (IPv4 and IPv6) for allow and deny lists. Immutable once parsed.
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

class ip_ranges {
 public:
  // Adds "10.0.0.0/8", "::1/128" or a bare address. Returns an error message, "" on success.
  std::string add(std::string_view cidr);
  // True when `address` (a textual IPv4/IPv6 address; IPv4-mapped IPv6 counts as IPv4) is in a range.
  bool contains(std::string_view address) const;
  bool empty() const noexcept { return ranges_.empty(); }

 private:
  struct range {
    std::array<unsigned char, 16> net{};  // IPv4 as IPv4-mapped IPv6
    int prefix = 0;                       // of 128
  };
  static std::optional<std::array<unsigned char, 16>> parse(std::string_view address);
  std::vector<range> ranges_;
};

}  // namespace corral
