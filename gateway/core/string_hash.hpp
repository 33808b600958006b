#pragma once
// Transparent hashing so maps keyed by std::string can be searched with a std::string_view
// without building a string (no allocation on the hot path).
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace corral {

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <class V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

}  // namespace corral
