#include "gateway/core/json_text.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <string_view>

namespace corral {

namespace json = boost::json;

namespace {

// A JSON string literal, escaped as RFC 8259 asks (quote, backslash, control characters).
void write_string(std::string& out, std::string_view s) {
  out += '"';
  std::size_t plain = 0;  // start of the run not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
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
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  const std::string_view text(buf, static_cast<std::size_t>(end - buf));
  out += text;
  if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
}

// `indent` < 0: compact.
void write_json(std::string& out, const json::value& v, int indent) {
  const bool pretty = indent >= 0;
  const auto newline = [&](int n) {
    if (!pretty) return;
    out += '\n';
    out.append(static_cast<std::size_t>(n), ' ');
  };
  const int inner = pretty ? indent + 2 : -1;
  switch (v.kind()) {
    case json::kind::object: {
      const json::object& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& kv : o) {
        if (!first) out += ',';
        first = false;
        newline(inner);
        write_string(out, kv.key());
        out += pretty ? ": " : ":";
        write_json(out, kv.value(), inner);
      }
      newline(indent);
      out += '}';
      return;
    }
    case json::kind::array: {
      const json::array& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        newline(inner);
        write_json(out, a[i], inner);
      }
      newline(indent);
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

namespace {

void write_object(std::string& out, const json::object& o, bool pretty) {
  // A value copy would be a deep copy: write the members directly.
  if (o.empty()) {
    out += "{}";
    return;
  }
  out += '{';
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out += ',';
    first = false;
    if (pretty) out += "\n  ";
    write_string(out, kv.key());
    out += pretty ? ": " : ":";
    write_json(out, kv.value(), pretty ? 2 : -1);
  }
  if (pretty) out += '\n';
  out += '}';
}

}  // namespace

std::string json_text(const json::object& o, bool pretty) {
  std::string out;
  out.reserve(256);
  write_object(out, o, pretty);
  return out;
}

void append_json_text(std::string& out, const json::object& o) { write_object(out, o, false); }
void append_json_text(std::string& out, const json::value& v) { write_json(out, v, -1); }
void append_json_string(std::string& out, std::string_view s) { write_string(out, s); }
void append_json_number(std::string& out, double d) { write_number(out, d); }

}  // namespace corral
