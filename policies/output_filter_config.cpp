#include "policies/output_filter_config.hpp"

#include "policies/policy_options.hpp"

#include <boost/json/object.hpp>

namespace corral {
namespace json = boost::json;

namespace {

bool valid_rule_name(std::string_view name) {
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return false;
  return !name.empty();
}

// A mask may be empty (the match is dropped), so options::as_string does not fit.
std::string mask_at(const json::value& v, const std::string& path) {
  if (!v.is_string()) options::fail(path, "expected a string");
  return std::string(v.get_string());
}

void read_builtin(const json::value& v, const std::string& mask, std::vector<text_rule>& rules) {
  std::string sets;
  for (auto s : builtin_rule_sets()) sets.append(sets.empty() ? "" : ", ").append(s);
  for (const auto& kv : options::as_object(v, "builtin")) {
    auto path = options::join("builtin", kv.key());
    std::vector<text_rule> set;
    if (!append_builtin_rules(kv.key(), rule_action::redact, mask, set)) options::fail(path, "unknown rule set (" + sets + ")");
    auto action = options::as_choice(kv.value(), path, {"redact", "block", "off"});
    if (action == "off") continue;
    for (auto& r : set) {
      r.action = action == "block" ? rule_action::block : rule_action::redact;
      rules.push_back(std::move(r));
    }
  }
}

text_rule read_rule(const json::value& v, const std::string& path, const std::string& mask,
                    const std::vector<text_rule>& earlier) {
  const auto& e = options::as_object(v, path);
  options::only_known(e, {"name", "pattern", "action", "mask", "case_insensitive"}, path);
  text_rule r;
  r.mask = mask;
  const auto name_path = options::join(path, "name");
  auto* name = e.if_contains("name");
  if (!name) options::fail(name_path, "required");
  r.name = options::as_string(*name, name_path);
  if (!valid_rule_name(r.name)) options::fail(name_path, "expected letters, digits, '_', '.' or '-', got '" + r.name + "'");
  // Decisions name the rule: a built-in set's name would make them ambiguous.
  for (auto s : builtin_rule_sets())
    if (s == r.name) options::fail(name_path, "'" + r.name + "' names a built-in rule set");
  for (const auto& other : earlier)
    if (other.name == r.name) options::fail(name_path, "duplicate rule name '" + r.name + "'");
  auto* pattern = e.if_contains("pattern");
  if (!pattern) options::fail(options::join(path, "pattern"), "required");
  r.pattern = options::as_string(*pattern, options::join(path, "pattern"));
  if (auto* a = e.if_contains("action"))
    if (options::as_choice(*a, options::join(path, "action"), {"redact", "block"}) == "block") r.action = rule_action::block;
  if (auto* m = e.if_contains("mask")) r.mask = mask_at(*m, options::join(path, "mask"));
  if (auto* c = e.if_contains("case_insensitive")) r.case_insensitive = options::as_bool(*c, options::join(path, "case_insensitive"));
  return r;
}

}  // namespace

output_filter_config read_output_filter_config(const json::object& o) {
  options::only_known(o, {"hold_back", "mask", "builtin", "rules"});
  output_filter_config c;
  if (auto* h = o.if_contains("hold_back")) c.hold_back = static_cast<std::size_t>(options::as_integer(*h, "hold_back", 1, 4096));
  std::string mask = "[redacted]";
  if (auto* m = o.if_contains("mask")) mask = mask_at(*m, "mask");

  std::vector<text_rule> rules;
  if (auto* b = o.if_contains("builtin")) read_builtin(*b, mask, rules);
  const std::size_t first_user_rule = rules.size();
  std::vector<text_rule> user;
  if (auto* list = o.if_contains("rules")) {
    const auto& entries = options::as_array(*list, "rules");
    for (std::size_t i = 0; i < entries.size(); ++i)
      user.push_back(read_rule(entries[i], "rules[" + std::to_string(i) + "]", mask, user));
  }
  const std::size_t user_rules = user.size();
  for (auto& r : user) rules.push_back(std::move(r));

  try {
    c.rules = std::make_unique<const text_rules>(std::move(rules));
  } catch (const text_rules::rule_error& e) {
    // Built-in patterns are known good: an error is a user rule's, or all of them together.
    if (e.index >= first_user_rule && e.index < first_user_rule + user_rules)
      options::fail("rules[" + std::to_string(e.index - first_user_rule) + "].pattern", e.message);
    options::fail("rules", e.message);
  }
  return c;
}

}  // namespace corral
