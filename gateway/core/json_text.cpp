#include "gateway/core/json_text.hpp"

#include "gateway/core/json_bytes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace corral {

namespace json = boost::json;

namespace {

// A JSON string literal, escaped as RFC 8259 asks (quote, backslash, control characters).
void write_string(std::string& out, std::string_view s) {
  static constexpr auto escaped = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
    t['"'] = t['\\'] = true;
    return t;
  }();
  out += '"';
  std::size_t plain = 0;  // start of the run not yet copied
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.size() - i >= 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      auto mask = json_bytes::special_mask(w);
      if (!mask) {
        i += 8;
        continue;
      }
      i += json_bytes::first_flagged(mask);
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (!escaped[c]) {
      ++i;
      continue;
    }
    out.append(s.data() + plain, i - plain);
    plain = ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        static constexpr char hex[] = "0123456789abcdef";
        char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        out += u;
      }
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out += '"';
}

template <class Int>
void write_integer(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

void write_number(std::string& out, double d) {
  if (!std::isfinite(d)) {  // JSON has no infinities; Boost.JSON's own choice, kept
    out += json::serialize(json::value(d));
    return;
  }
  // Most doubles corral writes have at most three decimals (temperatures, top_p, milliseconds).
  // When d is exactly the double nearest k/1000, the decimal k/1000 reads back as d and is its
  // shortest form (no other decimal of three places or fewer is that close to d below 1e9), so
  // it is written with integer arithmetic: the shortest-form search costs more than a record.
  if (std::abs(d) < 1e9 && d != 0) {
    auto k = std::llround(d * 1000);
    if (static_cast<double>(k) / 1000 == d) {
      if (k < 0) out += '-';
      auto m = static_cast<std::uint64_t>(k < 0 ? -k : k);
      write_integer(out, m / 1000);
      out += '.';
      auto frac = static_cast<unsigned>(m % 1000);
      char digits[3] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                        static_cast<char>('0' + frac % 10)};
      std::size_t n = frac % 100 == 0 ? 1 : frac % 10 == 0 ? 2 : 3;
      out.append(digits, n);
      return;
    }
  }
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  const std::string_view text(buf, static_cast<std::size_t>(end - buf));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void write_json(std::string& out, const json::value& v, int indent);

void newline(std::string& out, int indent) {
  if (indent < 0) return;  // compact
  out += '\n';
  out.append(static_cast<std::size_t>(indent), ' ');
}

// `indent` < 0: compact; otherwise the indentation of the line the value starts on.
void write_object(std::string& out, const json::object& o, int indent) {
  if (o.empty()) {
    out += "{}";
    return;
  }
  const int inner = indent >= 0 ? indent + 2 : -1;
  out += '{';
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out += ',';
    first = false;
    newline(out, inner);
    write_string(out, kv.key());
    out += indent >= 0 ? ": " : ":";
    write_json(out, kv.value(), inner);
  }
  newline(out, indent);
  out += '}';
}

void write_json(std::string& out, const json::value& v, int indent) {
  switch (v.kind()) {
    case json::kind::object: write_object(out, v.get_object(), indent); return;
    case json::kind::array: {
      const json::array& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      const int inner = indent >= 0 ? indent + 2 : -1;
      out += '[';
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        newline(out, inner);
        write_json(out, a[i], inner);
      }
      newline(out, indent);
      out += ']';
      return;
    }
    case json::kind::string: write_string(out, v.get_string()); return;
    case json::kind::int64: write_integer(out, v.get_int64()); return;
    case json::kind::uint64: write_integer(out, v.get_uint64()); return;
    case json::kind::double_: write_number(out, v.get_double()); return;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case json::kind::null: out += "null"; return;
  }
}

}  // namespace

std::string json_text(const json::value& v, bool pretty) {
  std::string out;
  out.reserve(256);
  write_json(out, v, pretty ? 0 : -1);
  return out;
}

std::string json_text(const json::object& o, bool pretty) {
  std::string out;
  out.reserve(256);
  write_object(out, o, pretty ? 0 : -1);
  return out;
}

void append_json_text(std::string& out, const json::object& o) { write_object(out, o, -1); }
void append_json_text(std::string& out, const json::value& v) { write_json(out, v, -1); }
void append_json_string(std::string& out, std::string_view s) { write_string(out, s); }
void append_json_number(std::string& out, double d) { write_number(out, d); }

}  // namespace corral
