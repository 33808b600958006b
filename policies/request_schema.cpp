#include "policies/request_schema.hpp"

#include "gateway/core/model_name.hpp"
#include "policies/api_fields.hpp"
#include "policies/string_formats.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace corral {

namespace json = boost::json;

namespace {

std::optional<double> number_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64: return static_cast<double>(v.get_int64());
    case json::kind::uint64: return static_cast<double>(v.get_uint64());
    case json::kind::double_: return v.get_double();
    default: return std::nullopt;
  }
}

// Whole numbers are integers whichever way the parser stored them: Python sends 4096.0.
bool is_integer(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  return v.is_double() && std::isfinite(v.get_double()) && std::trunc(v.get_double()) == v.get_double();
}

std::string number_text(double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc{} ? std::string(buf, end) : std::string("?");
}

std::string value_text(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  return number_text(v.get_double());
}

// The client's text cut short (at a character boundary) for a message: a value or a key may
// be megabytes long.
std::string shortened(std::string_view s) {
  constexpr std::size_t max = 40;
  if (s.size() <= max) return std::string(s);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

std::string excerpt(std::string_view s) { return "\"" + shortened(s) + "\""; }

std::string expected(std::string_view what, const json::value& got) {
  std::string out = "must be ";
  out.append(what).append(", got ");
  switch (got.kind()) {
    case json::kind::string: return out + "a string";
    case json::kind::bool_: return out + "a boolean";
    case json::kind::array: return out + "an array";
    case json::kind::object: return out + "an object";
    case json::kind::null: return out + "null";
    default: return out + value_text(got);
  }
}

std::string listed(std::span<const std::string_view> values) {
  std::string out;
  for (auto v : values) out.append(out.empty() ? "" : ", ").append(v);
  return out;
}

bool equal_any_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

// Where a value sits, as a chain of stack frames: rendered only when a message needs it.
struct path {
  const path* parent = nullptr;
  std::string_view key;
  std::size_t index = 0;
  bool is_index = false;
  std::size_t depth = 1;  // containers around the value; a top-level field's value has 1

  path member(std::string_view k) const { return {this, k, 0, false, depth + 1}; }
  path element(std::size_t i) const { return {this, {}, i, true, depth + 1}; }

  std::string str() const {
    std::vector<const path*> chain;
    for (const path* p = this; p; p = p->parent) chain.push_back(p);
    std::string out;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      if ((*it)->is_index) {
        out.append("[").append(std::to_string((*it)->index)).append("]");
      } else {
        if (!out.empty()) out += '.';
        out.append(shortened((*it)->key));
      }
    }
    return out;
  }
};

// "40213 bytes is over the limit of 32768" for a field alone; a field that tips the total
// over says so instead.
std::string over_limit(bool alone, const std::string& amount, std::uint64_t limit) {
  return (alone ? amount + " is over" : "brings the prompt to " + amount + ", over") + " the limit of " +
         std::to_string(limit);
}

// The index of the field named `key`, or fields.size(). Runs for every member of every object
// walked: sizes and first letters rule out most fields before a memcmp.
std::size_t find_field(std::span<const field_spec> fields, std::string_view key) {
  std::size_t i = 0;
  for (; i < fields.size(); ++i) {
    std::string_view name = fields[i].name;
    if (name.size() == key.size() && name[0] == key[0] && std::memcmp(name.data(), key.data(), key.size()) == 0)
      break;
  }
  return i;
}

bool is_container(const json::value& v) { return v.is_object() || v.is_array(); }

// True when `v` nests at most `budget` more levels of arrays and objects.
bool nests_within(const json::value& v, std::size_t budget) {
  if (!is_container(v)) return true;
  if (budget == 0) return false;
  if (v.is_array()) {
    for (const auto& e : v.get_array())
      if (!nests_within(e, budget - 1)) return false;
  } else {
    for (const auto& m : v.get_object())
      if (!nests_within(m.value(), budget - 1)) return false;
  }
  return true;
}

class walker {
 public:
  walker(const route_schema& schema, const request_limits& limits) : schema_(schema), limits_(limits) {}

  std::optional<schema_violation> run(const json::object& body) {
    members(body, nullptr, 1, schema_.fields);
    return std::move(fault_);
  }

 private:
  // Checks each member of `obj` (its members at `depth`) against `fields`; undocumented members
  // only for nesting. Answers the bit mask of the fields present, or nothing after a violation.
  std::optional<std::uint64_t> members(const json::object& obj, const path* parent, std::size_t depth,
                                       std::span<const field_spec> fields) {
    std::uint64_t seen = 0;
    for (const auto& m : obj) {
      const path at{parent, m.key(), 0, false, depth};
      const std::size_t i = find_field(fields, m.key());
      bool ok = i < fields.size() ? check(fields[i], m.value(), at) : opaque(m.value(), at);
      if (!ok) return std::nullopt;
      if (i < fields.size() && !m.value().is_null()) seen |= std::uint64_t{1} << i;
    }
    for (std::size_t i = 0; i < fields.size() && fields[i].required; ++i) {
      if (!(seen & (std::uint64_t{1} << i))) {
        fail(path{parent, fields[i].name, 0, false, depth}, "missing");
        return std::nullopt;
      }
    }
    return seen;
  }

  bool check(const field_spec& f, const json::value& v, const path& at) {
    if (v.is_null()) return true;
    switch (f.kind) {
      case field_kind::string: return want(v.is_string(), "a string", v, at);
      case field_kind::boolean: return want(v.is_bool(), "a boolean", v, at);
      case field_kind::number: return want(v.is_number(), "a number", v, at);
      case field_kind::integer: return want(is_integer(v), "an integer", v, at);
      case field_kind::count: return want(is_integer(v) && *number_of(v) >= 0, "a non-negative integer", v, at);
      case field_kind::positive: return want(is_integer(v) && *number_of(v) >= 1, "a positive integer", v, at);
      case field_kind::integers: return integers(v, at);
      case field_kind::string_or_strings:
        return v.is_string() || strings(v, at, "a string or an array of strings", false);
      case field_kind::string_or_object:
        return v.is_string() || (want(v.is_object(), "a string or an object", v, at) && opaque(v, at));
      case field_kind::string_map: return string_map(v, at);
      case field_kind::any_object: return want(v.is_object(), "an object", v, at) && opaque(v, at);
      case field_kind::one_of: return one_of(f, v, at, false);
      case field_kind::role: return one_of(f, v, at, true);
      case field_kind::model: return model_name(v, at);
      case field_kind::prompt: return want(v.is_string(), "a string", v, at) && count_prompt(v.get_string().size(), at);
      case field_kind::input: return input(v, at);
      case field_kind::base64: return want(v.is_string(), "a string", v, at) && base64(v.get_string(), at);
      case field_kind::images: return images(v, at);
      case field_kind::image_url: return image_url(f, v, at);
      case field_kind::image_link: return want(v.is_string(), "a string", v, at) && image_link(v.get_string(), at);
      case field_kind::format: return format(v, at);
      case field_kind::think: return think(f, v, at);
      case field_kind::keep_alive: return keep_alive(v, at);
      case field_kind::ranged: return ranged(f.option, v, at);
      case field_kind::stop: return stop(v, at);
      case field_kind::top_logprobs: return top_logprobs(v, at);
      case field_kind::record: return record(f.nested, v, at).has_value();
      case field_kind::records: return records(f.nested, v, at);
      case field_kind::messages: return messages(f.nested, v, at);
      case field_kind::content: return content(f.nested, v, at);
    }
    return true;
  }

  bool fail(const path& at, std::string problem) {
    fault_ = schema_violation{at.str(), std::move(problem)};
    return false;
  }
  // `ok`, or a violation saying what `v` should have been (built only then).
  bool want(bool ok, std::string_view what, const json::value& v, const path& at) {
    return ok || fail(at, expected(what, v));
  }

  // A container at `at` adds a level of nesting.
  bool enter(const path& at) {
    return at.depth < limits_.max_json_depth || fail(at, too_deep());
  }
  bool opaque(const json::value& v, const path& at) {
    return nests_within(v, limits_.max_json_depth - at.depth) || fail(at, too_deep());
  }
  std::string too_deep() const {
    return "JSON nested deeper than " + std::to_string(limits_.max_json_depth) + " levels";
  }

  std::optional<std::uint64_t> record(std::span<const field_spec> fields, const json::value& v, const path& at) {
    if (!want(v.is_object(), "an object", v, at) || !enter(at)) return std::nullopt;
    return members(v.get_object(), &at, at.depth + 1, fields);
  }

  bool records(std::span<const field_spec> fields, const json::value& v, const path& at) {
    if (!want(v.is_array(), "an array of objects", v, at) || !enter(at)) return false;
    const auto& items = v.get_array();
    for (std::size_t i = 0; i < items.size(); ++i)
      if (!record(fields, items[i], at.element(i))) return false;
    return true;
  }

  bool strings(const json::value& v, const path& at, std::string_view what, bool counted) {
    if (!want(v.is_array(), what, v, at) || !enter(at)) return false;
    const auto& items = v.get_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) return fail(at.element(i), expected("a string", items[i]));
      if (counted && !count_prompt(items[i].get_string().size(), at.element(i))) return false;
    }
    return true;
  }

  bool integers(const json::value& v, const path& at) {
    if (!want(v.is_array(), "an array of integers", v, at) || !enter(at)) return false;
    const auto& items = v.get_array();
    for (std::size_t i = 0; i < items.size(); ++i)
      if (!is_integer(items[i])) return fail(at.element(i), expected("an integer", items[i]));
    return true;
  }

  bool string_map(const json::value& v, const path& at) {
    if (!want(v.is_object(), "an object of strings", v, at) || !enter(at)) return false;
    for (const auto& m : v.get_object())
      if (!m.value().is_string()) return fail(at.member(m.key()), expected("a string", m.value()));
    return true;
  }

  bool one_of(const field_spec& f, const json::value& v, const path& at, bool any_case) {
    if (!want(v.is_string(), "a string", v, at)) return false;
    std::string_view s = v.get_string();
    for (auto allowed : f.values)
      if (any_case ? equal_any_case(s, allowed) : s == allowed) return true;
    return fail(at, "unknown " + std::string(f.name) + " " + excerpt(s) + " (" + listed(f.values) + ")");
  }

  bool model_name(const json::value& v, const path& at) {
    if (!want(v.is_string(), "a string", v, at)) return false;
    std::string_view s = v.get_string();
    return is_valid_model_name(s) || fail(at, excerpt(s) + " is not a valid model name");
  }

  bool input(const json::value& v, const path& at) {
    if (v.is_string()) return count_prompt(v.get_string().size(), at);
    if (!strings(v, at, "a string or an array of strings", true)) return false;
    // Ollama's OpenAI layer answers "invalid input" to an empty list; its native route loads the model.
    return schema_.dialect != api_dialect::openai || !v.get_array().empty() || fail(at, "must not be empty");
  }

  bool base64(std::string_view s, const path& at) { return is_base64(s) || fail(at, "not valid base64"); }

  bool images(const json::value& v, const path& at) {
    if (!want(v.is_array(), "an array of base64 strings", v, at) || !enter(at)) return false;
    const auto& items = v.get_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      const path item = at.element(i);
      if (!want(items[i].is_string(), "a base64 string", items[i], item) || !base64(items[i].get_string(), item))
        return false;
    }
    return true;
  }

  bool image_url(const field_spec& f, const json::value& v, const path& at) {
    if (v.is_string()) return image_link(v.get_string(), at);
    if (!want(v.is_object(), "a URL string or an object with \"url\"", v, at)) return false;
    return record(f.nested, v, at).has_value();
  }

  bool image_link(std::string_view url, const path& at) {
    switch (classify_image_url(url)) {
      case image_url_form::data_base64:
      case image_url_form::web: return true;
      case image_url_form::bad_base64: return fail(at, "not valid base64");
      case image_url_form::unsupported: break;
    }
    return fail(at, "must be a data:image/...;base64,... URL or an http(s) URL");
  }

  bool format(const json::value& v, const path& at) {
    if (v.is_object()) return opaque(v, at);
    if (v.is_string() && (v.get_string() == "json" || v.get_string().empty())) return true;
    return fail(at, v.is_string() ? excerpt(v.get_string()) + " is not \"json\" or a JSON schema object"
                                  : expected("\"json\" or a JSON schema object", v));
  }

  bool think(const field_spec& f, const json::value& v, const path& at) {
    if (v.is_bool()) return true;
    if (!want(v.is_string(), "a boolean or a string", v, at)) return false;
    return one_of(f, v, at, false);
  }

  bool keep_alive(const json::value& v, const path& at) {
    if (v.is_number()) return true;
    if (!want(v.is_string(), "a duration string or a number of seconds", v, at)) return false;
    return is_go_duration(v.get_string()) ||
           fail(at, excerpt(v.get_string()) + " is not a duration (such as \"5m\", \"1h30m\" or seconds as a number)");
  }

  bool ranged(option_id id, const json::value& v, const path& at) {
    bool whole = is_integer_option(id);
    if (!want(whole ? is_integer(v) : v.is_number(), whole ? "an integer" : "a number", v, at)) return false;
    return within(id, *number_of(v), at, "");
  }

  bool within(option_id id, double x, const path& at, std::string_view unit) {
    const auto& range = limits_.options[static_cast<std::size_t>(id)];
    if (x < range.min) return fail(at, number_text(x) + std::string(unit) + " is below the minimum " + number_text(range.min));
    if (x > range.max) return fail(at, number_text(x) + std::string(unit) + " is above the maximum " + number_text(range.max));
    return true;
  }

  bool stop(const json::value& v, const path& at) {
    // Ollama's own `options.stop` must be a list; OpenAI's may be one string.
    if (v.is_string() && schema_.dialect == api_dialect::openai) return within(option_id::stop, 1, at, " stop sequences");
    const bool openai = schema_.dialect == api_dialect::openai;
    if (!strings(v, at, openai ? "a string or an array of strings" : "an array of strings", false)) return false;
    return within(option_id::stop, static_cast<double>(v.get_array().size()), at, " stop sequences");
  }

  bool top_logprobs(const json::value& v, const path& at) {
    if (!want(is_integer(v), "an integer", v, at)) return false;
    double x = *number_of(v);
    return (x >= 0 && x <= 20) || fail(at, value_text(v) + " is not between 0 and 20");
  }

  bool messages(std::span<const field_spec> fields, const json::value& v, const path& at) {
    if (!want(v.is_array(), "an array of messages", v, at) || !enter(at)) return false;
    const auto& items = v.get_array();
    if (items.size() > limits_.max_messages)
      return fail(at, std::to_string(items.size()) + " messages is over the limit of " +
                          std::to_string(limits_.max_messages));
    // Ollama's native chat takes an empty list to mean "load the model"; its OpenAI layer refuses it.
    if (items.empty() && schema_.dialect == api_dialect::openai) return fail(at, "must not be empty");
    for (std::size_t i = 0; i < items.size(); ++i) {
      const path item = at.element(i);
      auto seen = record(fields, items[i], item);
      if (!seen) return false;
      if (schema_.dialect == api_dialect::openai && !openai_content_present(fields, *seen))
        return fail(item.member("content"), "missing (only an assistant message with tool_calls may omit it)");
    }
    return true;
  }

  // Ollama's OpenAI layer takes a message without content only when it carries tool calls.
  static bool openai_content_present(std::span<const field_spec> fields, std::uint64_t seen) {
    std::uint64_t wanted = 0;
    for (std::size_t i = 0; i < fields.size(); ++i)
      if (fields[i].name == "content" || fields[i].name == "tool_calls") wanted |= std::uint64_t{1} << i;
    return (seen & wanted) != 0;
  }

  bool content(std::span<const field_spec> parts, const json::value& v, const path& at) {
    if (v.is_string()) return count_prompt(v.get_string().size(), at);
    if (!want(v.is_array(), "a string or an array of content parts", v, at) || !enter(at)) return false;
    const auto& items = v.get_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
      const path part = at.element(i);
      auto seen = record(parts, items[i], part);
      if (!seen) return false;
      // The member named by the part's type carries it: {"type":"text","text":"..."}.
      std::string_view type = items[i].get_object().at("type").get_string();
      const std::size_t j = find_field(parts, type);
      if (j < parts.size() && !(*seen & (std::uint64_t{1} << j))) return fail(part.member(type), "missing");
    }
    return true;
  }

  bool count_prompt(std::size_t bytes, const path& at) {
    if (!schema_.counts_prompt) return true;
    prompt_bytes_ += bytes;
    const bool alone = prompt_bytes_ == bytes;
    if (prompt_bytes_ > limits_.max_prompt_bytes)
      return fail(at, over_limit(alone, std::to_string(prompt_bytes_) + " bytes", limits_.max_prompt_bytes));
    const std::uint64_t tokens = (prompt_bytes_ + 3) / 4;
    if (tokens > limits_.max_prompt_tokens)
      return fail(at, over_limit(alone, "about " + std::to_string(tokens) + " tokens", limits_.max_prompt_tokens) +
                          " (estimated as bytes / 4)");
    return true;
  }

  const route_schema& schema_;
  const request_limits& limits_;
  std::uint64_t prompt_bytes_ = 0;
  std::optional<schema_violation> fault_;
};

}  // namespace

std::string schema_violation::message() const { return "field \"" + field + "\": " + problem; }

bool has_request_schema(std::string_view route) noexcept { return find_route_schema(route) != nullptr; }

std::optional<schema_violation> check_request(std::string_view route, const json::object& body,
                                              const request_limits& limits) {
  const route_schema* schema = find_route_schema(route);
  if (!schema) return std::nullopt;
  return walker(*schema, limits).run(body);
}

}  // namespace corral
