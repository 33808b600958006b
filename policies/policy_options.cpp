#include "policies/policy_options.hpp"

#include "gateway/core/config.hpp"

#include <boost/json/serialize.hpp>

namespace corral::options {

void fail(std::string_view path, std::string_view problem) {
  if (path.empty()) throw config_error(std::string(problem));
  throw config_error(std::string(path) + ": " + std::string(problem));
}

std::string join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return std::string(path) + "." + std::string(key);
}

void only_known(const boost::json::object& obj, std::initializer_list<std::string_view> known, std::string_view path) {
  for (const auto& kv : obj) {
    bool ok = false;
    for (auto k : known) ok = ok || k == kv.key();
    if (ok) continue;
    std::string list;
    for (auto k : known) list.append(list.empty() ? "" : ", ").append(k);
    fail(path, "unknown option '" + join(path, kv.key()) + "' (known: " + list + ")");
  }
}

namespace {
std::string shown(const boost::json::value& v) {
  if (v.is_null()) return "nothing";
  if (v.is_object()) return "a mapping";
  if (v.is_array()) return "a list";
  return "'" + (v.is_string() ? std::string(v.get_string()) : boost::json::serialize(v)) + "'";
}
}  // namespace

const boost::json::object& as_object(const boost::json::value& v, std::string_view path) {
  if (!v.is_object()) fail(path, "expected a mapping, got " + shown(v));
  return v.get_object();
}

const boost::json::array& as_array(const boost::json::value& v, std::string_view path) {
  if (!v.is_array()) fail(path, "expected a list, got " + shown(v));
  return v.get_array();
}

std::string as_string(const boost::json::value& v, std::string_view path) {
  if (v.is_string() && !v.get_string().empty()) return std::string(v.get_string());
  if (v.is_int64() || v.is_uint64() || v.is_double() || v.is_bool()) return boost::json::serialize(v);
  fail(path, "expected a non-empty string, got " + shown(v));
}

bool as_bool(const boost::json::value& v, std::string_view path) {
  if (!v.is_bool()) fail(path, "expected true or false, got " + shown(v));
  return v.get_bool();
}

long long as_integer(const boost::json::value& v, std::string_view path, long long lo, long long hi) {
  long long n = 0;
  if (v.is_int64()) n = v.get_int64();
  else if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(hi)) n = static_cast<long long>(v.get_uint64());
  else fail(path, "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + shown(v));
  if (n < lo || n > hi)
    fail(path, "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + shown(v));
  return n;
}

std::string as_choice(const boost::json::value& v, std::string_view path, std::initializer_list<std::string_view> choices) {
  std::string list;
  for (auto c : choices) list.append(list.empty() ? "" : ", ").append(c);
  if (v.is_string())
    for (auto c : choices)
      if (c == v.get_string()) return std::string(c);
  fail(path, "expected one of " + list + ", got " + shown(v));
}

}  // namespace corral::options
