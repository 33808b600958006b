#include "gateway/core/json_scan.hpp"

#include "gateway/core/json_bytes.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace corral {

namespace {

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

inline const char* skip_space(const char* p, const char* end) {
  if (p < end && static_cast<unsigned char>(*p) > ' ') return p;  // compact JSON: no space at all
  while (p < end && is_space(*p)) ++p;
  return p;
}

// One UTF-8 sequence starting at p (a byte >= 0x80), RFC 3629: the end of it, or nullptr.
const char* skip_utf8(const char* p, const char* end) {
  auto b = [&](std::ptrdiff_t i) { return static_cast<unsigned char>(p[i]); };
  auto cont = [&](std::ptrdiff_t i, unsigned char lo = 0x80, unsigned char hi = 0xbf) {
    return p + i < end && b(i) >= lo && b(i) <= hi;
  };
  unsigned char c = b(0);
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? p + 2 : nullptr;
  if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? p + 3 : nullptr;
  if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? p + 3 : nullptr;
  if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? p + 3 : nullptr;  // no UTF-16 surrogates
  if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? p + 4 : nullptr;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? p + 4 : nullptr;
  if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? p + 4 : nullptr;
  return nullptr;
}

// The code unit of a \uXXXX escape starting at p, or -1 when p does not start one.
int utf16_escape(const char* p, const char* end) {
  if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return -1;
  int unit = 0;
  for (int i = 2; i < 6; ++i) {
    char c = p[i];
    int digit = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
    if (digit < 0) return -1;
    unit = unit * 16 + digit;
  }
  return unit;
}

// A string starting at p (its opening quote): the end of it, past the closing quote, or nullptr.
const char* skip_string(const char* p, const char* end) {
  ++p;
  while (p < end) {
    if (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      auto mask = json_bytes::special_or_high_mask(w);
      if (!mask) {
        p += 8;
        continue;
      }
      p += json_bytes::first_flagged(mask);
    }
    auto c = static_cast<unsigned char>(*p);
    if (c == '"') return p + 1;
    if (c == '\\') {
      if (end - p < 2) return nullptr;
      switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          p += 2;
          continue;
        case 'u': {
          // A UTF-16 code unit; a surrogate must come as a pair, high then low.
          auto unit = utf16_escape(p, end);
          if (unit < 0 || (unit >= 0xdc00 && unit <= 0xdfff)) return nullptr;
          p += 6;
          if (unit >= 0xd800 && unit <= 0xdbff) {
            auto low = utf16_escape(p, end);
            if (low < 0xdc00 || low > 0xdfff) return nullptr;
            p += 6;
          }
          continue;
        }
        default:
          return nullptr;
      }
    }
    if (c < 0x20) return nullptr;
    if (c >= 0x80) {
      p = skip_utf8(p, end);
      if (!p) return nullptr;
      continue;
    }
    ++p;
  }
  return nullptr;
}

// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
inline const char* skip_number(const char* p, const char* end) {
  if (p < end && *p == '-') ++p;
  if (p == end || !is_digit(*p)) return nullptr;
  if (*p == '0') ++p;
  else
    while (p < end && is_digit(*p)) ++p;
  if (p < end && *p == '.') {
    ++p;
    if (p == end || !is_digit(*p)) return nullptr;
    while (p < end && is_digit(*p)) ++p;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p < end && (*p == '+' || *p == '-')) ++p;
    if (p == end || !is_digit(*p)) return nullptr;
    while (p < end && is_digit(*p)) ++p;
  }
  return p;
}

const char* skip_literal(const char* p, const char* end, std::string_view word) {
  if (static_cast<std::size_t>(end - p) < word.size() || std::memcmp(p, word.data(), word.size()) != 0) return nullptr;
  return p + word.size();
}

// Any value starting at p (no whitespace before it): the end of it, or nullptr.
const char* skip_value(const char* p, const char* end, int depth) {
  if (p == end) return nullptr;
  switch (*p) {
    case '"': return skip_string(p, end);
    case 't': return skip_literal(p, end, "true");
    case 'f': return skip_literal(p, end, "false");
    case 'n': return skip_literal(p, end, "null");
    case '{':
    case '[': {
      if (depth >= json_max_depth) return nullptr;
      const bool object = *p == '{';
      const char close = object ? '}' : ']';
      p = skip_space(p + 1, end);
      if (p < end && *p == close) return p + 1;
      while (true) {
        if (object) {
          if (p == end || *p != '"') return nullptr;
          p = skip_string(p, end);
          if (!p) return nullptr;
          p = skip_space(p, end);
          if (p == end || *p != ':') return nullptr;
          p = skip_space(p + 1, end);
        }
        // Numbers (an answer's token ids, an embedding) are most elements: skipped in line.
        p = p < end && (is_digit(*p) || *p == '-') ? skip_number(p, end) : skip_value(p, end, depth + 1);
        if (!p) return nullptr;
        p = skip_space(p, end);
        if (p == end) return nullptr;
        if (*p == close) return p + 1;
        if (*p != ',') return nullptr;
        p = skip_space(p + 1, end);
      }
    }
    default: return skip_number(p, end);
  }
}

}  // namespace

json_cursor::json_cursor(std::string_view text) : pos_(text.data()), end_(text.data() + text.size()) {
  pos_ = skip_space(pos_, end_);
  if (pos_ < end_ && (*pos_ == '{' || *pos_ == '[')) close_ = *pos_ == '{' ? '}' : ']';
  else state_ = state::error;
}

bool json_cursor::fail() {
  state_ = state::error;
  return false;
}

// Steps past the opening bracket (first call) or the comma before the next item; false at the
// closing bracket (which must end the text) or at malformed text.
bool json_cursor::open(char opening) {
  if (state_ == state::done || state_ == state::error) return false;
  if (state_ == state::first) {
    if (*pos_ != opening) return fail();
    pos_ = skip_space(pos_ + 1, end_);
    if (pos_ < end_ && *pos_ == close_) {
      ++pos_;
    } else {
      state_ = state::more;
      return true;
    }
  } else {
    pos_ = skip_space(pos_, end_);
    if (pos_ == end_) return fail();
    if (*pos_ == ',') {
      pos_ = skip_space(pos_ + 1, end_);
      return true;
    }
    if (*pos_ != close_) return fail();
    ++pos_;
  }
  if (skip_space(pos_, end_) != end_) return fail();
  state_ = state::done;
  return false;
}

bool json_cursor::value(std::string_view& out) {
  const char* start = pos_;
  const char* stop = skip_value(pos_, end_, 1);
  if (!stop) return fail();
  out = std::string_view(start, static_cast<std::size_t>(stop - start));
  pos_ = stop;
  return true;
}

bool json_cursor::next_member(std::string_view& key, std::string_view& value_text) {
  if (!open('{')) return false;
  if (pos_ == end_ || *pos_ != '"') return fail();
  const char* key_end = skip_string(pos_, end_);
  if (!key_end) return fail();
  key = std::string_view(pos_ + 1, static_cast<std::size_t>(key_end - pos_ - 2));
  pos_ = skip_space(key_end, end_);
  if (pos_ == end_ || *pos_ != ':') return fail();
  pos_ = skip_space(pos_ + 1, end_);
  return value(value_text);
}

bool json_cursor::next_element(std::string_view& value_text) {
  if (!open('[')) return false;
  return value(value_text);
}

std::optional<double> json_number(std::string_view v) {
  if (v.empty() || !(v.front() == '-' || is_digit(v.front()))) return std::nullopt;
  double d = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc{} || end != v.data() + v.size()) return std::nullopt;
  return d;
}

std::optional<std::uint64_t> json_count(std::string_view v) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc{} && end == v.data() + v.size()) return n;
  // 12.0 or 1e3: a count written as a double.
  auto d = json_number(v);
  if (!d || *d < 0 || *d >= 18446744073709551616.0 || std::floor(*d) != *d) return std::nullopt;
  return static_cast<std::uint64_t>(*d);
}

std::size_t json_array_size(std::string_view v) {
  if (!json_is_array(v)) return 0;
  json_cursor c(v);
  std::string_view element;
  std::size_t n = 0;
  while (c.next_element(element)) ++n;
  return n;
}

}  // namespace corral
