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
        out += json::serialize(json::string_view(kv.key()));
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
    case json::kind::string: out += json::serialize(v.get_string()); return;
    case json::kind::int64: out += std::to_string(v.get_int64()); return;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); return;
    case json::kind::double_: write_number(out, v.get_double()); return;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; return;
    case json::kind::null: out += "null"; return;
  }
}

}  // namespace

std::string json_text(const json::value& v, bool pretty) {
  std::string out;
  write_json(out, v, pretty ? 0 : -1);
  return out;
}

std::string json_text(const json::object& o, bool pretty) {
  std::string out;
  // A value copy would be a deep copy: write the members directly.
  if (o.empty()) return "{}";
  out += '{';
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out += ',';
    first = false;
    if (pretty) out += "\n  ";
    out += json::serialize(json::string_view(kv.key()));
    out += pretty ? ": " : ":";
    write_json(out, kv.value(), pretty ? 2 : -1);
  }
  if (pretty) out += '\n';
  out += '}';
  return out;
}

}  // namespace corral
