#include "gateway/core/config.hpp"

#include "gateway/core/model_name.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>

namespace corral {

namespace json = boost::json;

namespace {

constexpr std::uint16_t ollama_default_port = 11434;
constexpr long long no_upper_bound = std::numeric_limits<long long>::max();

// The variables apply_env_overrides understands; read_process_env reads exactly these.
constexpr std::array<const char*, 10> env_names{"PORT",
                                                "HOST",
                                                "OLLAMA_BASE_URL",
                                                "OLLAMA_TIMEOUT",
                                                "OLLAMA_MAX_RETRIES",
                                                "OLLAMA_AUTO_PULL",
                                                "OLLAMA_MAX_CONCURRENT",
                                                "OLLAMA_DEFAULT_MODEL",
                                                "OLLAMA_EMBEDDING_MODEL",
                                                "LOG_LEVEL"};

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

[[noreturn]] void fail(std::string_view what, std::string_view problem) {
  throw config_error(std::string(what) + ": " + std::string(problem));
}

std::string_view trim(std::string_view s) {
  constexpr std::string_view space = " \t\r\n";
  const auto first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// --- Values, shared by the file and the environment. `what` names the key or the variable.

std::string integer_expectation(long long lo, long long hi) {
  if (hi == no_upper_bound) return "expected an integer of at least " + std::to_string(lo);
  return "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
}

std::optional<long long> parse_integer(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

long long to_integer(std::string_view text, long long lo, long long hi, std::string_view what) {
  const auto value = parse_integer(text);
  if (!value || *value < lo || *value > hi)
    fail(what, integer_expectation(lo, hi) + ", got " + in_quotes(text));
  return *value;
}

millis to_duration(std::string_view text, std::string_view what) {
  const auto d = parse_duration(text);
  if (!d || d->count() <= 0)
    fail(what,
         "expected a duration above 0 such as '300ms', '60s' or '1m30s', got " + in_quotes(text));
  return *d;
}

constexpr std::string_view model_name_expectation =
    "expected a model name such as 'llama3.2' or 'library/mistral:7b'";

std::string to_model_name(std::string_view text, std::string_view what) {
  if (!is_valid_model_name(text))
    fail(what, std::string(model_name_expectation) + ", got " + in_quotes(text));
  return std::string(text);
}

std::optional<log_level> to_log_level(std::string_view text) {
  if (text == "debug") return log_level::debug;
  if (text == "info") return log_level::info;
  if (text == "warn") return log_level::warn;
  if (text == "error") return log_level::error;
  return std::nullopt;
}

// --- Backend URLs

bool valid_host_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

bool valid_ipv6(std::string_view host) {
  return host.find(':') != std::string_view::npos &&
         std::all_of(host.begin(), host.end(),
                     [](unsigned char c) { return std::isxdigit(c) || c == ':' || c == '.'; });
}

// One backend: http://host[:port][/], or host[:port] without a scheme as Ollama's clients
// accept it (then the port defaults to Ollama's 11434, not HTTP's 80).
backend_config parse_backend_url(std::string_view text, std::string_view what) {
  std::string_view rest = text;
  std::uint16_t default_port = ollama_default_port;
  if (const auto sep = rest.find("://"); sep != std::string_view::npos) {
    const std::string scheme = lower(rest.substr(0, sep));
    if (scheme == "https")
      fail(what, "https backends are not supported yet, got " + in_quotes(text));
    if (scheme != "http") fail(what, "expected an http:// URL, got " + in_quotes(text));
    rest.remove_prefix(sep + 3);
    default_port = 80;
  }
  const auto authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  if (authority_end != std::string_view::npos && rest.substr(authority_end) != "/")
    fail(what, "a backend URL has no path, query or fragment, got " + in_quotes(text));

  std::string_view host = authority;
  std::optional<std::string_view> port_text;
  const bool ipv6 = authority.starts_with('[');
  if (ipv6) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      fail(what, "unterminated IPv6 address in " + in_quotes(text));
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        fail(what, "expected ':port' after the IPv6 address in " + in_quotes(text));
      port_text = after.substr(1);
    }
    if (!valid_ipv6(host)) fail(what, "invalid IPv6 address in " + in_quotes(text));
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos) {
      if (authority.find(':', colon + 1) != std::string_view::npos)
        fail(what,
             "write IPv6 addresses in brackets, like 'http://[::1]:11434', got " + in_quotes(text));
      host = authority.substr(0, colon);
      port_text = authority.substr(colon + 1);
    }
    if (!valid_host_name(host)) fail(what, "invalid host in backend URL " + in_quotes(text));
  }
  std::uint16_t port = default_port;
  if (port_text) {
    const auto value = parse_integer(*port_text);
    if (!value || *value < 1 || *value > 65535 || port_text->starts_with('+'))
      fail(what, "expected a port from 1 to 65535 in " + in_quotes(text));
    port = static_cast<std::uint16_t>(*value);
  }

  backend_config b;
  b.host = lower(host);
  b.port = port;
  b.name = (ipv6 ? "[" + b.host + "]" : b.host) + ":" + std::to_string(port);
  b.url = "http://" + b.name;
  return b;
}

void check_unique_url(const std::vector<backend_config>& seen, const backend_config& b,
                      std::string_view what) {
  for (const backend_config& other : seen)
    if (other.host == b.host && other.port == b.port)
      fail(what, "duplicate backend " + in_quotes(b.url));
}

void check_unique_name(const std::vector<backend_config>& seen, const backend_config& b,
                       std::string_view what) {
  for (const backend_config& other : seen)
    if (other.name == b.name) fail(what, "duplicate backend name " + in_quotes(b.name));
}

// --- YAML

std::string location(std::string_view source, const YAML::Mark& mark) {
  std::string out(source);
  if (!mark.is_null()) out += ":" + std::to_string(mark.line + 1);
  return out + ": ";
}

// A value in the document with the prefix of every error about it: "file:line: key.path".
struct entry {
  YAML::Node value;
  std::string path;
  std::string what;
};

std::string describe(const YAML::Node& n) {
  if (n.IsScalar()) return in_quotes(n.Scalar());
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "nothing";
}

const std::string& scalar(const entry& e, std::string_view expected) {
  if (!e.value.IsScalar()) fail(e.what, std::string(expected) + ", got " + describe(e.value));
  return e.value.Scalar();
}

long long read_integer(const entry& e, long long lo, long long hi) {
  return to_integer(scalar(e, integer_expectation(lo, hi)), lo, hi, e.what);
}

millis read_duration(const entry& e) {
  return to_duration(scalar(e, "expected a duration above 0 such as '300ms', '60s' or '1m30s'"),
                     e.what);
}

bool read_bool(const entry& e) {
  bool value = false;
  scalar(e, "expected true or false");
  if (!YAML::convert<bool>::decode(e.value, value))
    fail(e.what, "expected true or false, got " + in_quotes(e.value.Scalar()));
  return value;
}

std::string read_string(const entry& e) {
  const std::string& s = scalar(e, "expected a non-empty string");
  if (s.empty()) fail(e.what, "expected a non-empty string, got ''");
  return s;
}

// Calls `fn(key, entry)` for each key of the mapping `section`, which returns false for a key
// it does not know. Unknown and repeated keys are errors at the key's line. A null section
// (`server:` with every key commented out) has no keys.
template <class Fn>
void for_each_key(std::string_view source, const entry& section, Fn&& fn) {
  if (section.value.IsNull()) return;
  if (!section.value.IsMap())
    fail(section.what, "expected a mapping, got " + describe(section.value));
  std::vector<std::string> seen;
  for (auto it = section.value.begin(); it != section.value.end(); ++it) {
    const YAML::Node key = it->first;  // copies: the iterator hands out a temporary pair
    const std::string where = location(source, key.Mark());
    if (!key.IsScalar())
      throw config_error(where + (section.path.empty() ? "" : section.path + ": ") +
                         "keys must be plain names");
    const std::string path =
        section.path.empty() ? key.Scalar() : section.path + "." + key.Scalar();
    if (std::find(seen.begin(), seen.end(), key.Scalar()) != seen.end())
      throw config_error(where + "duplicate key " + in_quotes(path));
    seen.push_back(key.Scalar());
    // A null value's mark points past it, so errors about it name the key's line.
    const YAML::Node value = it->second;
    const YAML::Mark mark = value.IsNull() ? key.Mark() : value.Mark();
    if (!fn(key.Scalar(), entry{value, path, location(source, mark) + path}))
      throw config_error(where + "unknown key " + in_quotes(path));
  }
}

entry element(std::string_view source, const entry& list, std::size_t i) {
  const YAML::Node value = list.value[i];
  const std::string path = list.path + "[" + std::to_string(i) + "]";
  return entry{value, path,
               location(source, value.IsNull() ? list.value.Mark() : value.Mark()) + path};
}

std::vector<backend_config> read_base_url(std::string_view source, const entry& e) {
  if (e.value.IsScalar()) return parse_backend_list(e.value.Scalar(), e.what);
  if (!e.value.IsSequence())
    fail(e.what, "expected a URL, a comma-separated list of URLs or a list of URLs, got " +
                     describe(e.value));
  if (e.value.size() == 0) fail(e.what, "at least one backend is required");
  std::vector<backend_config> backends;
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const entry item = element(source, e, i);
    backend_config b = parse_backend_url(trim(scalar(item, "expected a URL")), item.what);
    check_unique_url(backends, b, item.what);
    check_unique_name(backends, b, item.what);
    backends.push_back(std::move(b));
  }
  return backends;
}

std::vector<backend_config> read_backends(std::string_view source, const entry& e) {
  if (!e.value.IsSequence())
    fail(e.what, "expected a list of backends ({url, name, weight}), got " + describe(e.value));
  if (e.value.size() == 0) fail(e.what, "at least one backend is required");
  std::vector<backend_config> backends;
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const entry item = element(source, e, i);
    if (!item.value.IsMap())
      fail(item.what, "expected a mapping with url, name and weight, got " + describe(item.value));
    std::optional<backend_config> b;
    std::optional<std::string> name;
    std::optional<int> weight;
    std::string url_what;
    std::string name_what;
    for_each_key(source, item, [&](std::string_view key, const entry& v) {
      if (key == "url") {
        b = parse_backend_url(trim(scalar(v, "expected a URL")), v.what);
        url_what = v.what;
      } else if (key == "name") {
        name = read_string(v);
        name_what = v.what;
      } else if (key == "weight") {
        weight = static_cast<int>(read_integer(v, 1, 1000));
      } else {
        return false;
      }
      return true;
    });
    if (!b) fail(item.what, "url is required");
    if (name) b->name = *name;
    if (weight) b->weight = *weight;
    check_unique_url(backends, *b, url_what);
    check_unique_name(backends, *b, name ? name_what : url_what);
    backends.push_back(std::move(*b));
  }
  return backends;
}

void read_server(std::string_view source, const entry& section, server_config& s) {
  for_each_key(source, section, [&](std::string_view key, const entry& v) {
    if (key == "host")
      s.host = read_string(v);
    else if (key == "port")
      s.port = static_cast<std::uint16_t>(read_integer(v, 1, 65535));
    else if (key == "threads")
      s.threads = static_cast<int>(read_integer(v, 0, 256));
    else if (key == "max_header_bytes")
      s.max_header_bytes = static_cast<std::size_t>(read_integer(v, 1024, 1 << 20));
    else if (key == "max_body_bytes")
      s.max_body_bytes = static_cast<std::size_t>(read_integer(v, 1024, no_upper_bound));
    else if (key == "header_timeout")
      s.header_timeout = read_duration(v);
    else if (key == "body_timeout")
      s.body_timeout = read_duration(v);
    else if (key == "keepalive_timeout")
      s.keepalive_timeout = read_duration(v);
    else if (key == "send_timeout")
      s.send_timeout = read_duration(v);
    else
      return false;
    return true;
  });
}

// A list whose items are all commented out reads as empty, as `policies:` does.
std::vector<std::string> read_models(std::string_view source, const entry& e) {
  std::vector<std::string> models;
  if (e.value.IsNull()) return models;
  if (!e.value.IsSequence())
    fail(e.what, "expected a list of model names, got " + describe(e.value));
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const entry item = element(source, e, i);
    std::string name = to_model_name(scalar(item, model_name_expectation), item.what);
    // Ollama resolves "Llama2" and "llama2:latest" to one model: listing both is a slip.
    for (const std::string& other : models)
      if (normalize_model_name(other) == normalize_model_name(name))
        fail(item.what, "duplicate model " + in_quotes(name) + ", the same as " + in_quotes(other));
    models.push_back(std::move(name));
  }
  return models;
}

// default_model and embedding_model: '' says "none" explicitly; an empty value (null) is an
// error like any other key left without a value.
std::string read_optional_model_name(const entry& e) {
  const std::string& text = scalar(e, std::string(model_name_expectation) + ", or '' for none");
  return text.empty() ? std::string() : to_model_name(text, e.what);
}

void read_ollama(std::string_view source, const entry& section, ollama_config& o) {
  bool have_backends = false;  // from base_url or backends, never both
  for_each_key(source, section, [&](std::string_view key, const entry& v) {
    if (key == "base_url" || key == "backends") {
      if (have_backends)
        fail(v.what,
             "ollama.base_url and ollama.backends are mutually exclusive; list the "
             "backends in one of them");
      have_backends = true;
      o.backends = key == "base_url" ? read_base_url(source, v) : read_backends(source, v);
    } else if (key == "timeout") {
      o.timeout = read_duration(v);
    } else if (key == "connect_timeout") {
      o.connect_timeout = read_duration(v);
    } else if (key == "health_check_period") {
      o.health_check_period = read_duration(v);
    } else if (key == "max_retries") {
      o.max_retries = static_cast<int>(read_integer(v, 0, 10));
    } else if (key == "auto_pull") {
      o.auto_pull = read_bool(v);
    } else if (key == "max_concurrent") {
      o.max_concurrent = static_cast<int>(read_integer(v, 0, 100'000));
    } else if (key == "models") {
      o.models = read_models(source, v);
    } else if (key == "default_model") {
      o.default_model = read_optional_model_name(v);
    } else if (key == "embedding_model") {
      o.embedding_model = read_optional_model_name(v);
    } else {
      return false;
    }
    return true;
  });
}

void read_upstream(std::string_view source, const entry& section, upstream_config& u) {
  std::optional<entry> base;
  std::optional<entry> max;
  for_each_key(source, section, [&](std::string_view key, const entry& v) {
    if (key == "max_idle_per_backend") {
      u.max_idle_per_backend = static_cast<int>(read_integer(v, 0, 10'000));
    } else if (key == "eject_after_failures") {
      u.eject_after_failures = static_cast<int>(read_integer(v, 1, 1000));
    } else if (key == "eject_base") {
      u.eject_base = read_duration(v);
      base = v;
    } else if (key == "eject_max") {
      u.eject_max = read_duration(v);
      max = v;
    } else {
      return false;
    }
    return true;
  });
  if (u.eject_max >= u.eject_base) return;
  if (max)
    fail(max->what, "must be at least upstream.eject_base (" + format_duration(u.eject_base) +
                        "), got " + in_quotes(max->value.Scalar()));
  fail(base->what, "must not exceed upstream.eject_max (" + format_duration(u.eject_max) +
                       "), got " + in_quotes(base->value.Scalar()));
}

void read_log(std::string_view source, const entry& section, log_config& l) {
  for_each_key(source, section, [&](std::string_view key, const entry& v) {
    if (key == "level") {
      const std::string& text = scalar(v, "expected debug, info, warn or error");
      const auto level = to_log_level(text);
      if (!level) fail(v.what, "expected debug, info, warn or error, got " + in_quotes(text));
      l.level = *level;
    } else if (key == "access_log") {
      l.access_log = read_bool(v);
    } else {
      return false;
    }
    return true;
  });
}

void read_management(std::string_view source, const entry& section, management_config& m) {
  for_each_key(source, section, [&](std::string_view key, const entry& v) {
    if (key == "state_dir")
      m.state_dir = scalar(v, "expected a directory, or '' for the default location");
    else if (key == "batch_max_items")
      m.batch_max_items = static_cast<int>(read_integer(v, 1, 100'000));
    else
      return false;
    return true;
  });
}

// A YAML value as JSON, for policy options and presets: quoted scalars stay strings; plain ones become
// null, booleans or numbers when they read as such.
boost::json::value to_json(std::string_view source, const YAML::Node& n, const std::string& path) {
  if (n.IsNull()) return nullptr;
  if (n.IsSequence()) {
    boost::json::array out;
    for (std::size_t i = 0; i < n.size(); ++i) out.push_back(to_json(source, n[i], path + "[" + std::to_string(i) + "]"));
    return out;
  }
  if (n.IsMap()) {
    boost::json::object out;
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) throw config_error(location(source, key.Mark()) + path + ": keys must be plain names");
      if (out.contains(key.Scalar()))
        throw config_error(location(source, key.Mark()) + "duplicate key " + in_quotes(path + "." + key.Scalar()));
      out[key.Scalar()] = to_json(source, it->second, path + "." + key.Scalar());
    }
    return out;
  }
  const std::string& text = n.Scalar();
  if (n.Tag() == "!") return boost::json::string(text);  // quoted
  if (text == "~" || text == "null") return nullptr;
  if (text == "true") return true;
  if (text == "false") return false;
  if (auto i = parse_integer(text)) return *i;
  double d = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
  if (!text.empty() && ec == std::errc{} && end == text.data() + text.size()) {
    if (!std::isfinite(d)) throw config_error(location(source, n.Mark()) + path + ": expected a finite number, got " + in_quotes(text));
    return d;
  }
  return boost::json::string(text);
}

bool valid_policy_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

void read_policies(std::string_view source, const entry& e, std::vector<policy_spec>& out) {
  out.clear();
  if (e.value.IsNull()) return;
  if (!e.value.IsSequence())
    fail(e.what, "expected a list of policies ({type: ..., ...}), got " + describe(e.value));
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const entry item = element(source, e, i);
    if (!item.value.IsMap()) fail(item.what, "expected a mapping with at least 'type', got " + describe(item.value));
    policy_spec spec;
    spec.where = item.what;
    boost::json::object options;
    for_each_key(source, item, [&](std::string_view key, const entry& v) {
      if (key == "type") {
        spec.type = read_string(v);
      } else if (key == "name") {
        spec.name = read_string(v);
        if (!valid_policy_name(spec.name)) fail(v.what, "expected a name of letters, digits, '_', '-' or '.'");
      } else if (key == "routes") {
        if (!v.value.IsSequence()) fail(v.what, "expected a list of route classes or routes, got " + describe(v.value));
        for (std::size_t j = 0; j < v.value.size(); ++j) spec.routes.push_back(read_string(element(source, v, j)));
      } else {
        options[key] = to_json(source, v.value, v.path);
      }
      return true;
    });
    if (spec.type.empty()) fail(item.what, "missing 'type' (validation, auth, prompt_guard or output_filter)");
    if (spec.name.empty()) spec.name = spec.type;
    for (const auto& other : out)
      if (other.name == spec.name)
        fail(item.what, "duplicate policy name " + in_quotes(spec.name) + " (give one of them a 'name')");
    spec.options = std::make_shared<const boost::json::object>(std::move(options));
    out.push_back(std::move(spec));
  }
}

// Presets are kept as written; the presets module checks their fields (and names `where`).
void read_presets(std::string_view source, const entry& e, std::vector<preset_spec>& out) {
  out.clear();
  if (e.value.IsNull()) return;
  if (!e.value.IsSequence())
    fail(e.what, "expected a list of presets ({name: ..., model: ..., ...}), got " + describe(e.value));
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const entry item = element(source, e, i);
    if (!item.value.IsMap()) fail(item.what, "expected a mapping, got " + describe(item.value));
    out.push_back(preset_spec{
        item.what, std::make_shared<const json::object>(
                       std::move(to_json(source, item.value, item.path).as_object()))});
  }
}

void read_document(const YAML::Node& root, config& cfg) {
  const std::string_view source = cfg.source;
  if (root.IsNull()) return;  // an empty file: the defaults
  if (!root.IsMap())
    throw config_error(location(source, root.Mark()) +
                       "expected a mapping of sections (server, ollama, upstream, log, management, "
                       "policies, presets) at the top level, got " +
                       describe(root));
  for_each_key(source, entry{root, "", std::string(source)},
               [&](std::string_view key, const entry& v) {
                 if (key == "server")
                   read_server(source, v, cfg.server);
                 else if (key == "ollama")
                   read_ollama(source, v, cfg.ollama);
                 else if (key == "upstream")
                   read_upstream(source, v, cfg.upstream);
                 else if (key == "log")
                   read_log(source, v, cfg.log);
                 else if (key == "management")
                   read_management(source, v, cfg.management);
                 else if (key == "policies")
                   read_policies(source, v, cfg.policies);
                 else if (key == "presets")
                   read_presets(source, v, cfg.presets);
                 else
                   return false;
                 return true;
               });
}

}  // namespace

config default_config() {
  config cfg;
  cfg.ollama.backends.push_back(parse_backend_url("http://localhost:11434", "embedded defaults"));
  cfg.source = "embedded defaults";
  return cfg;
}

config parse_config(std::string_view yaml_text, std::string source_name) {
  config cfg = default_config();
  cfg.source = std::move(source_name);
  try {
    read_document(YAML::Load(std::string(yaml_text)), cfg);
  } catch (const YAML::ParserException& e) {
    throw config_error(location(cfg.source, e.mark) + "invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {  // not expected: every value is read as a checked scalar
    throw config_error(location(cfg.source, e.mark) + e.msg);
  }
  return cfg;
}

config load_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw config_error(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error(path + ": cannot open: " + std::strerror(errno));
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw config_error(path + ": cannot read: " + std::strerror(errno));
  return parse_config(text, path);
}

void apply_env_overrides(config& cfg, const std::map<std::string, std::string>& env) {
  const auto value = [&](const std::string& name) -> std::optional<std::string_view> {
    const auto it = env.find(name);
    if (it == env.end() || trim(it->second).empty()) return std::nullopt;
    return trim(it->second);
  };
  const auto what = [](std::string_view name) {
    return "environment variable " + std::string(name);
  };

  if (const auto v = value("HOST")) cfg.server.host = std::string(*v);
  if (const auto v = value("PORT"))
    cfg.server.port = static_cast<std::uint16_t>(to_integer(*v, 1, 65535, what("PORT")));
  if (const auto v = value("OLLAMA_BASE_URL"))
    cfg.ollama.backends = parse_backend_list(*v, what("OLLAMA_BASE_URL"));
  if (const auto v = value("OLLAMA_TIMEOUT"))
    cfg.ollama.timeout = to_duration(*v, what("OLLAMA_TIMEOUT"));
  if (const auto v = value("OLLAMA_MAX_RETRIES"))
    cfg.ollama.max_retries = static_cast<int>(to_integer(*v, 0, 10, what("OLLAMA_MAX_RETRIES")));
  if (const auto v = value("OLLAMA_AUTO_PULL")) {
    const std::string text = lower(*v);
    if (text != "true" && text != "false" && text != "1" && text != "0")
      fail(what("OLLAMA_AUTO_PULL"), "expected true, false, 1 or 0, got " + in_quotes(*v));
    cfg.ollama.auto_pull = text == "true" || text == "1";
  }
  if (const auto v = value("OLLAMA_MAX_CONCURRENT"))
    cfg.ollama.max_concurrent =
        static_cast<int>(to_integer(*v, 0, 100'000, what("OLLAMA_MAX_CONCURRENT")));
  if (const auto v = value("OLLAMA_DEFAULT_MODEL"))
    cfg.ollama.default_model = to_model_name(*v, what("OLLAMA_DEFAULT_MODEL"));
  if (const auto v = value("OLLAMA_EMBEDDING_MODEL"))
    cfg.ollama.embedding_model = to_model_name(*v, what("OLLAMA_EMBEDDING_MODEL"));
  if (const auto v = value("LOG_LEVEL")) {
    const std::string text = lower(*v);
    const auto level = to_log_level(text == "warning" ? "warn" : text);
    if (!level)
      fail(what("LOG_LEVEL"), "expected debug, info, warn or error, got " + in_quotes(*v));
    cfg.log.level = *level;
  }
}

std::map<std::string, std::string> read_process_env() {
  std::map<std::string, std::string> env;
  for (const char* name : env_names)
    if (const char* v = std::getenv(name)) env.emplace(name, v);
  return env;
}

std::vector<backend_config> parse_backend_list(std::string_view text, std::string_view what) {
  if (trim(text).empty()) fail(what, "at least one backend is required");
  std::vector<backend_config> backends;
  for (std::size_t start = 0;;) {
    const auto comma = text.find(',', start);
    const std::string_view item = trim(text.substr(start, comma - start));
    if (item.empty()) fail(what, "empty entry in the backend list " + in_quotes(text));
    backend_config b = parse_backend_url(item, what);
    check_unique_url(backends, b, what);
    check_unique_name(backends, b, what);
    backends.push_back(std::move(b));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return backends;
}

std::string_view to_string(log_level l) {
  switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "unknown";
}

}  // namespace corral
