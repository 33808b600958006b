#include "gateway/core/model_name.hpp"

#include <algorithm>
#include <cctype>

namespace corral {

std::string normalize_model_name(std::string_view name) {
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto last_segment = out.rfind('/');
  auto colon = out.find(':', last_segment == std::string::npos ? 0 : last_segment + 1);
  if (colon == std::string::npos) out += ":latest";
  return out;
}

namespace {
bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}
bool is_valid_part(std::string_view part) {
  if (part.empty() || part.front() == '-' || part.front() == '.') return false;
  return std::all_of(part.begin(), part.end(), is_name_char);
}
}  // namespace

bool is_valid_model_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  auto last_slash = name.rfind('/');
  std::string_view path = name;
  std::string_view tag;
  auto colon = name.find(':', last_slash == std::string_view::npos ? 0 : last_slash + 1);
  if (colon != std::string_view::npos) {
    path = name.substr(0, colon);
    tag = name.substr(colon + 1);
    if (!is_valid_part(tag)) return false;
  }
  if (path.empty()) return false;
  bool first = true;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto segment = path.substr(0, slash);
    // The first of several segments may be a registry host with a port.
    if (first && slash != std::string_view::npos) {
      auto port = segment.find(':');
      if (port != std::string_view::npos) {
        auto digits = segment.substr(port + 1);
        if (digits.empty() || !std::all_of(digits.begin(), digits.end(),
                                           [](char c) { return c >= '0' && c <= '9'; }))
          return false;
        segment = segment.substr(0, port);
      }
    }
    if (!is_valid_part(segment)) return false;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
    if (path.empty()) return false;
    first = false;
  }
  return true;
}

}  // namespace corral
