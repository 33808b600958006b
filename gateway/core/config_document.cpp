// The configuration as a JSON document: what GET /api/v1/config shows (secrets masked), what
// PUT /api/v1/config merges a partial document into, and which changes need a restart. Parsing
// a document goes through the YAML reader (config.cpp), so it is validated exactly like the file.
#include "gateway/core/config.hpp"
#include "gateway/core/json_text.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

namespace corral {

namespace json = boost::json;

// --- The configuration as a JSON document

namespace {

json::array string_array(const std::vector<std::string>& items) {
  json::array out;
  for (const std::string& s : items) out.emplace_back(s);
  return out;
}

json::string duration_json(millis d) { return json::string(format_duration(d)); }

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Keys whose values are credentials. Exact names and suffixes, not substrings: "max_tokens" and
// the prompt guard's built-in set "secrets" are settings, not secrets.
bool is_secret_key(std::string_view key) {
  const std::string k = lower(key);
  for (std::string_view name : {"hash", "key", "keys", "api_key", "dsn", "secret", "password", "token", "tokens"})
    if (k == name) return true;
  for (std::string_view suffix : {"_secret", "_password", "_token", "_key", "_hash", "_dsn"})
    if (k.ends_with(suffix)) return true;
  return false;
}

// Strings directly in a list take the list's key: `tokens: [a, b]` is masked, while the
// mappings in `keys: [{name, hash}]` are looked into key by key, so names and roles stay.
void mask_secrets_in(json::value& v, bool under_secret_key) {
  if (v.is_string()) {
    if (under_secret_key) v = masked_value;
  } else if (v.is_array()) {
    for (json::value& item : v.get_array()) mask_secrets_in(item, under_secret_key);
  } else if (v.is_object()) {
    for (auto& kv : v.get_object()) mask_secrets_in(kv.value(), is_secret_key(kv.key()));
  }
}

std::string member_path(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + "." + std::string(key);
}

// A value that replaces what `base` held (nullptr: nothing), its masked strings taken from
// `base` at the same path.
json::value unmask(const json::value& patch, const json::value* base, const std::string& path) {
  if (patch.is_string() && patch.get_string() == masked_value) {
    if (!base)
      throw config_error(path + ": masked value " + in_quotes(masked_value) +
                         " given where no value is configured (a masked value is kept from the running entry with the "
                         "same name; send the value itself)");
    return *base;
  }
  if (patch.is_array()) {
    // A list may have been edited (an entry removed, the order changed): a masked value is
    // taken from the running entry with the same "name" (policies, keys), never from whatever
    // now stands at the same position, which could hand one key's hash to another. Entries
    // without a name are matched by position only when the list kept its length.
    const json::array* base_items = base ? base->if_array() : nullptr;
    json::array out;
    const json::array& items = patch.get_array();
    auto name_of = [](const json::value& v) -> const json::string* {
      if (!v.is_object()) return nullptr;
      auto* n = v.get_object().if_contains("name");
      return n && n->is_string() ? &n->get_string() : nullptr;
    };
    for (std::size_t i = 0; i < items.size(); ++i) {
      const json::value* base_item = nullptr;
      if (base_items) {
        if (const json::string* name = name_of(items[i])) {
          for (const auto& b : *base_items)
            if (const json::string* other = name_of(b); other && *other == *name) base_item = &b;
        } else if (base_items->size() == items.size()) {
          base_item = &(*base_items)[i];
        }
      }
      out.push_back(unmask(items[i], base_item, path + "[" + std::to_string(i) + "]"));
    }
    return out;
  }
  if (patch.is_object()) {
    const json::object* base_members = base ? base->if_object() : nullptr;
    json::object out;
    for (const auto& kv : patch.get_object()) {
      const json::value* base_member = base_members ? base_members->if_contains(kv.key()) : nullptr;
      out[kv.key()] = unmask(kv.value(), base_member, member_path(path, kv.key()));
    }
    return out;
  }
  return patch;
}

// Keys that spell one setting two ways within a section.
struct alternative_keys {
  std::string_view section, one, other;
};
constexpr std::array<alternative_keys, 1> alternatives{{{"ollama", "base_url", "backends"}}};

void merge_into(json::object& base, const json::object& patch, const std::string& path) {
  for (const alternative_keys& alt : alternatives) {
    if (alt.section != path) continue;
    const json::value* one = patch.if_contains(alt.one);
    const json::value* other = patch.if_contains(alt.other);
    // Setting one spelling drops the other, or the GET document's `backends` would make a PUT
    // of `base_url` "mutually exclusive"; a patch that sets both is refused by the parser.
    if (one && !one->is_null() && !other) base.erase(alt.other);
    if (other && !other->is_null() && !one) base.erase(alt.one);
  }
  for (const auto& kv : patch) {
    const std::string key_path = member_path(path, kv.key());
    if (kv.value().is_null()) {
      base.erase(kv.key());
    } else if (kv.value().is_object()) {
      json::value& target = base[kv.key()];
      if (!target.is_object()) target = json::object();
      merge_into(target.get_object(), kv.value().get_object(), key_path);
    } else {
      json::value replaced = unmask(kv.value(), base.if_contains(kv.key()), key_path);
      base[kv.key()] = std::move(replaced);
    }
  }
}

}  // namespace

json::object config_to_json(const config& cfg, bool mask_secrets) {
  const server_config& s = cfg.server;
  const ollama_config& o = cfg.ollama;
  const upstream_config& u = cfg.upstream;

  json::array backends;
  for (const backend_config& b : o.backends)
    backends.push_back(json::object{{"name", b.name}, {"url", b.url}, {"weight", b.weight}});

  json::array policies;
  for (const policy_spec& p : cfg.policies) {
    json::object entry{{"type", p.type}, {"name", p.name}};
    if (!p.routes.empty()) entry["routes"] = string_array(p.routes);
    if (p.options)
      for (const auto& kv : *p.options) entry[kv.key()] = kv.value();
    policies.push_back(std::move(entry));
  }

  json::array presets;
  for (const preset_spec& p : cfg.presets) presets.push_back(p.fields ? *p.fields : json::object());

  json::object doc{
      {"server",
       {{"host", s.host},
        {"port", s.port},
        {"threads", s.threads},
        {"max_header_bytes", s.max_header_bytes},
        {"max_body_bytes", s.max_body_bytes},
        {"header_timeout", duration_json(s.header_timeout)},
        {"body_timeout", duration_json(s.body_timeout)},
        {"keepalive_timeout", duration_json(s.keepalive_timeout)},
        {"send_timeout", duration_json(s.send_timeout)}}},
      {"ollama",
       {{"backends", std::move(backends)},
        {"timeout", duration_json(o.timeout)},
        {"connect_timeout", duration_json(o.connect_timeout)},
        {"health_check_period", duration_json(o.health_check_period)},
        {"max_retries", o.max_retries},
        {"auto_pull", o.auto_pull},
        {"max_concurrent", o.max_concurrent},
        {"models", string_array(o.models)},
        {"default_model", o.default_model},
        {"embedding_model", o.embedding_model}}},
      {"upstream",
       {{"max_idle_per_backend", u.max_idle_per_backend},
        {"eject_after_failures", u.eject_after_failures},
        {"eject_base", duration_json(u.eject_base)},
        {"eject_max", duration_json(u.eject_max)}}},
      {"log", {{"level", to_string(cfg.log.level)}, {"access_log", cfg.log.access_log}}},
      {"management",
       {{"state_dir", cfg.management.state_dir},
        {"batch_max_items", cfg.management.batch_max_items}}},
      {"policies", std::move(policies)},
      {"presets", std::move(presets)},
  };
  if (mask_secrets) {
    mask_secrets_in(doc["policies"], false);
    mask_secrets_in(doc["presets"], false);
  }
  return doc;
}

config parse_config_document(const json::object& doc, std::string source_name) {
  std::string text;
  text = json_text(doc, true);
  text += '\n';
  return parse_config(text, std::move(source_name));
}

void merge_config_document(json::object& base, const json::object& patch) {
  merge_into(base, patch, "");
}

std::vector<std::string> live_only_changes(const config& running, const config& next) {
  std::vector<std::string> changed;
  const auto check = [&](bool same, const char* path) {
    if (!same) changed.emplace_back(path);
  };
  // Fixed by the listening sockets and the thread count...
  check(running.server.host == next.server.host, "server.host");
  check(running.server.port == next.server.port, "server.port");
  check(running.server.threads == next.server.threads, "server.threads");
  // ... by the backend set that the health monitor, pools and metrics are built over ...
  check(running.ollama.backends == next.ollama.backends, "ollama.backends");
  // ... by each thread's connection pools and ejection state ...
  check(running.upstream.max_idle_per_backend == next.upstream.max_idle_per_backend,
        "upstream.max_idle_per_backend");
  check(running.upstream.eject_after_failures == next.upstream.eject_after_failures,
        "upstream.eject_after_failures");
  check(running.upstream.eject_base == next.upstream.eject_base, "upstream.eject_base");
  check(running.upstream.eject_max == next.upstream.eject_max, "upstream.eject_max");
  // ... and by the store opened at start.
  check(running.management.state_dir == next.management.state_dir, "management.state_dir");
  return changed;
}

}  // namespace corral
