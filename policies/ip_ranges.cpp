#include "policies/ip_ranges.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace corral {

std::optional<std::array<unsigned char, 16>> ip_ranges::parse(std::string_view address) {
  std::string text(address);
  std::array<unsigned char, 16> out{};
  if (inet_pton(AF_INET, text.c_str(), out.data() + 12) == 1) {
    out[10] = out[11] = 0xff;
    return out;
  }
  if (inet_pton(AF_INET6, text.c_str(), out.data()) == 1) return out;
  return std::nullopt;
}

std::string ip_ranges::add(std::string_view cidr) {
  auto slash = cidr.find('/');
  auto address = cidr.substr(0, slash);
  auto parsed = parse(address);
  if (!parsed) return "'" + std::string(address) + "' is not an IP address";
  bool v4 = address.find(':') == std::string_view::npos;
  int max = v4 ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos) {
    auto p = cidr.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || prefix < 0 || prefix > max)
      return "'" + std::string(cidr) + "': the prefix length must be 0 to " + std::to_string(max);
  }
  ranges_.push_back({*parsed, v4 ? prefix + 96 : prefix});
  return {};
}

bool ip_ranges::contains(std::string_view address) const {
  auto a = parse(address);
  if (!a) return false;
  for (const auto& r : ranges_) {
    int full = r.prefix / 8;
    if (std::memcmp(a->data(), r.net.data(), static_cast<std::size_t>(full)) != 0) continue;
    int rest = r.prefix % 8;
    if (rest == 0) return true;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    if ((((*a)[full]) & mask) == (r.net[full] & mask)) return true;
  }
  return false;
}

}  // namespace corral
