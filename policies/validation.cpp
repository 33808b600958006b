#include "policies/validation.hpp"

#include "gateway/core/config.hpp"
#include "gateway/core/model_name.hpp"
#include "policies/request_schema.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace corral {

namespace json = boost::json;

namespace {

constexpr std::string_view decision_names[] = {"pass", "reject"};
enum : std::size_t { decide_pass, decide_reject };

constexpr std::string_view limit_keys = "max_json_depth, max_body_bytes, max_prompt_bytes, max_prompt_tokens, "
                                        "max_messages, options, models";

struct model_limits {
  std::string name;  // normalized
  request_limits limits;
};

// --- options ----------------------------------------------------------------------------------

std::string key_path(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
}

[[noreturn]] void bad_option(const std::string& path, const std::string& problem) {
  throw config_error(path + ": " + problem);
}

[[noreturn]] void unknown_option(const std::string& path, std::string_view known) {
  throw config_error("unknown option \"" + path + "\" (" + std::string(known) + ")");
}

const json::object& read_mapping(const json::value& v, const std::string& path) {
  if (!v.is_object()) bad_option(path, "must be a mapping");
  return v.get_object();
}

bool is_whole(double d) { return std::isfinite(d) && std::trunc(d) == d; }

// A whole number from 1 to `max`, however YAML typed it ("1e6" reads as a double).
std::uint64_t read_count(const json::value& v, const std::string& path, std::uint64_t max) {
  constexpr double exact = 9007199254740992.0;  // 2^53: doubles are whole numbers exactly up to here
  std::uint64_t n = 0;
  if (v.is_int64() && v.get_int64() >= 1) n = static_cast<std::uint64_t>(v.get_int64());
  else if (v.is_uint64() && v.get_uint64() >= 1) n = v.get_uint64();
  else if (v.is_double() && is_whole(v.get_double()) && v.get_double() >= 1 && v.get_double() <= exact)
    n = static_cast<std::uint64_t>(v.get_double());
  else bad_option(path, "must be a whole number >= 1");
  if (n > max) bad_option(path, "must be at most " + std::to_string(max));
  return n;
}

// A bound; null lifts it (an infinite bound).
double read_bound(const json::value& v, const std::string& path, bool whole, double none) {
  if (v.is_null()) return none;
  if (!v.is_number()) bad_option(path, "must be a number");
  double d = v.to_number<double>();
  if (whole && !is_whole(d)) bad_option(path, "must be an integer");
  return d;
}

std::string bound_text(double d) {
  if (is_whole(d) && std::abs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  return std::to_string(d);
}

void read_range(const json::value& v, const std::string& path, option_id id, value_range& range) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  const bool whole = is_integer_option(id);
  for (const auto& m : read_mapping(v, path)) {
    const std::string at = key_path(path, m.key());
    if (m.key() == "min") range.min = read_bound(m.value(), at, whole, -inf);
    else if (m.key() == "max") range.max = read_bound(m.value(), at, whole, inf);
    else unknown_option(at, "min, max");
  }
  if (range.min > range.max)
    bad_option(path, "min " + bound_text(range.min) + " is above max " + bound_text(range.max));
}

void read_option_ranges(const json::value& v, const std::string& path, request_limits& into) {
  for (const auto& m : read_mapping(v, path)) {
    const std::string at = key_path(path, m.key());
    auto id = option_named(m.key());
    if (!id) {
      std::string known;
      for (std::size_t i = 0; i < option_count; ++i)
        known.append(i ? ", " : "").append(to_string(static_cast<option_id>(i)));
      unknown_option(at, known);
    }
    read_range(m.value(), at, *id, into.options[static_cast<std::size_t>(*id)]);
  }
}

// Every key of `o` but `models` (read by the caller, once the policy's own limits are known).
void read_limits(const json::object& o, const std::string& prefix, request_limits& into, bool models_allowed) {
  constexpr auto any = std::numeric_limits<std::uint64_t>::max();
  for (const auto& m : o) {
    const std::string at = key_path(prefix, m.key());
    const json::value& v = m.value();
    if (m.key() == "max_json_depth") into.max_json_depth = read_count(v, at, 1024);
    else if (m.key() == "max_body_bytes") into.max_body_bytes = read_count(v, at, any);
    else if (m.key() == "max_prompt_bytes") into.max_prompt_bytes = read_count(v, at, any);
    else if (m.key() == "max_prompt_tokens") into.max_prompt_tokens = read_count(v, at, any);
    else if (m.key() == "max_messages") into.max_messages = read_count(v, at, any);
    else if (m.key() == "options") read_option_ranges(v, at, into);
    else if (m.key() != "models" || !models_allowed) unknown_option(at, limit_keys);
  }
}

std::vector<model_limits> read_models(const json::value& v, const request_limits& base) {
  std::vector<model_limits> out;
  for (const auto& m : read_mapping(v, "models")) {
    const std::string at = key_path("models", m.key());
    if (!is_valid_model_name(m.key())) bad_option(at, "not a valid model name");
    model_limits entry{normalize_model_name(m.key()), base};
    for (const auto& other : out)
      if (other.name == entry.name) bad_option(at, "the same model as another entry (" + other.name + ")");
    read_limits(read_mapping(m.value(), at), at, entry.limits, false);
    out.push_back(std::move(entry));
  }
  return out;
}

// --- the policy -------------------------------------------------------------------------------

// True when `raw` (a client's spelling) normalizes to `normalized`, without building the
// normalized string: the match runs for every request.
bool names_model(std::string_view raw, std::string_view normalized) {
  constexpr std::string_view default_tag = ":latest";
  auto slash = raw.rfind('/');
  bool tagged = raw.find(':', slash == std::string_view::npos ? 0 : slash + 1) != std::string_view::npos;
  if (normalized.size() != raw.size() + (tagged ? 0 : default_tag.size())) return false;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != normalized[i]) return false;
  }
  return tagged || normalized.substr(raw.size()) == default_tag;
}

// The field path as one word of the access log's decisions: client keys may hold anything.
std::string log_detail(std::string_view field) {
  constexpr std::size_t max = 64;
  std::string out(field.substr(0, max));
  for (char& c : out)
    if (c <= ' ' || c > '~' || c == '"') c = '_';
  return out;
}

class validation final : public policy {
 public:
  validation(request_limits limits, std::vector<model_limits> models)
      : limits_(std::move(limits)), models_(std::move(models)) {}

  unsigned hooks() const noexcept override { return hook_request; }
  std::span<const std::string_view> decisions() const noexcept override { return decision_names; }

  boost::asio::awaitable<verdict> on_request(policy_request& req) const override { co_return check(req); }

 private:
  verdict check(policy_request& req) const {
    if (!req.body || !has_request_schema(req.ctx.api_route)) return verdict::next();
    const request_limits& limits = limits_for(*req.body);
    if (req.ctx.bytes_in > limits.max_body_bytes) {
      decide(req.ctx, decide_reject, "body");
      return verdict::reject(413, "request body: " + std::to_string(req.ctx.bytes_in) +
                                      " bytes is over the limit of " + std::to_string(limits.max_body_bytes));
    }
    auto violation = check_request(req.ctx.api_route, *req.body, limits);
    if (!violation) {
      decide(req.ctx, decide_pass);
      return verdict::next();
    }
    decide(req.ctx, decide_reject, log_detail(violation->field));
    return verdict::reject(400, violation->message());
  }

  // The limits of the model the body names (`model`, else `name`, as the router reads it).
  const request_limits& limits_for(const json::object& body) const {
    if (models_.empty()) return limits_;
    const json::value* name = body.if_contains("model");
    if (!name || !name->is_string() || name->get_string().empty()) name = body.if_contains("name");
    if (!name || !name->is_string()) return limits_;
    for (const auto& m : models_)
      if (names_model(name->get_string(), m.name)) return m.limits;
    return limits_;
  }

  request_limits limits_;
  std::vector<model_limits> models_;
};

}  // namespace

std::unique_ptr<policy> make_validation(const json::object& options) {
  request_limits limits;
  read_limits(options, "", limits, true);
  std::vector<model_limits> models;
  if (const json::value* m = options.if_contains("models"); m && !m->is_null()) models = read_models(*m, limits);
  return std::make_unique<validation>(std::move(limits), std::move(models));
}

}  // namespace corral
