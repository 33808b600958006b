#include "policies/string_formats.hpp"

#include <array>
#include <cstddef>

namespace corral {

namespace {

constexpr std::array<bool, 256> base64_alphabet = [] {
  std::array<bool, 256> table{};
  for (char c = 'A'; c <= 'Z'; ++c) table[static_cast<unsigned char>(c)] = true;
  for (char c = 'a'; c <= 'z'; ++c) table[static_cast<unsigned char>(c)] = true;
  for (char c = '0'; c <= '9'; ++c) table[static_cast<unsigned char>(c)] = true;
  table['+'] = table['/'] = true;
  return table;
}();

// Removes the leading decimal digits of `text`; true when there were any.
bool take_digits(std::string_view& text) {
  std::size_t n = 0;
  while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
  text.remove_prefix(n);
  return n > 0;
}

// The unit at the front of `text`, removed; false when there is none.
bool take_duration_unit(std::string_view& text) {
  // Longest first: "ms" before "m", and the two spellings of the micro sign Go accepts.
  static constexpr std::string_view units[] = {"ns", "us", "\xC2\xB5s", "\xCE\xBCs", "ms", "s", "m", "h"};
  for (std::string_view unit : units) {
    if (text.starts_with(unit)) {
      text.remove_prefix(unit.size());
      return true;
    }
  }
  return false;
}

}  // namespace

bool is_base64(std::string_view text) noexcept {
  // Images run to megabytes of alphabet characters: one tight loop takes those, the general one
  // the rare rest (line breaks, padding).
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size() && base64_alphabet[bytes[i]]) ++i;
  std::size_t counted = i;
  std::size_t padding = 0;
  for (; i < text.size(); ++i) {
    const unsigned char c = bytes[i];
    if (base64_alphabet[c] && padding == 0) {
      ++counted;
    } else if (c == '=') {
      if (++padding > 2) return false;
      ++counted;
    } else if (c != '\r' && c != '\n') {
      return false;
    }
  }
  return counted % 4 == 0;
}

bool is_go_duration(std::string_view text) noexcept {
  if (text == "0") return true;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  if (text.empty()) return false;
  while (!text.empty()) {
    // Go wants digits before or after the decimal point: "1s", "1.s" and ".5s", not ".s".
    bool digits = take_digits(text);
    if (!text.empty() && text.front() == '.') {
      text.remove_prefix(1);
      digits = take_digits(text) || digits;
    }
    if (!digits || !take_duration_unit(text)) return false;
  }
  return true;
}

image_url_form classify_image_url(std::string_view url) noexcept {
  if (url.starts_with("http://") || url.starts_with("https://")) return image_url_form::web;
  constexpr std::string_view scheme = "data:";
  constexpr std::string_view marker = ";base64,";
  if (!url.starts_with(scheme)) return image_url_form::unsupported;
  auto at = url.find(marker);
  if (at == std::string_view::npos) return image_url_form::unsupported;
  auto media_type = url.substr(scheme.size(), at - scheme.size());
  if (!media_type.empty() && !media_type.starts_with("image/")) return image_url_form::unsupported;
  return is_base64(url.substr(at + marker.size())) ? image_url_form::data_base64 : image_url_form::bad_base64;
}

}  // namespace corral
