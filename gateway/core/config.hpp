#pragma once
// corral's configuration: plain structs with the embedded defaults, parsed and validated in one
// place (config.cpp). Unknown keys, wrong types and out-of-range values are errors naming the key
// path and the line; nothing is silently defaulted. The running gateway holds one immutable
// snapshot (`std::shared_ptr<const config>`).
#include "gateway/core/duration.hpp"

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

enum class log_level { debug, info, warn, error };

struct backend_config {
  std::string name;       // unique; defaults to host:port of the url
  std::string url;        // http://host[:port]  (https is refused: not supported yet)
  std::string host;       // parsed from url
  std::uint16_t port = 11434;
  int weight = 1;         // 1..1000, tie-breaker after "loaded" and "in flight"
  bool operator==(const backend_config&) const = default;
};

struct server_config {
  std::string host = "0.0.0.0";
  std::uint16_t port = 9089;
  int threads = 0;                          // 0 = one per core
  std::size_t max_header_bytes = 16 * 1024; // 431 above
  std::size_t max_body_bytes = 64u << 20;   // 413 above (not applied to /api/blobs/*)
  millis header_timeout{10'000};            // 408 when the head takes longer
  millis body_timeout{60'000};              // 408 when the body takes longer
  millis keepalive_timeout{75'000};         // idle keep-alive connections closed after this
  millis send_timeout{60'000};              // a client that takes longer to accept bytes is dropped
  bool operator==(const server_config&) const = default;
};

struct ollama_config {
  std::vector<backend_config> backends;     // from base_url (string or list) or backends:
  millis timeout{300'000};                  // each wait for a backend: first byte, then gaps
  millis connect_timeout{5'000};
  int max_retries = 2;                      // extra backends tried before the first byte
  bool auto_pull = false;
  int max_concurrent = 0;                   // per backend in-flight cap; 0 = unlimited
  millis health_check_period{5'000};
  std::vector<std::string> models;          // valid model names, no two alike once normalized
  std::string default_model;                // /api/v1 inference naming no model or preset; "" = none
  std::string embedding_model;              // the same for /api/v1/embeddings; "" = none
  bool operator==(const ollama_config&) const = default;
};

struct upstream_config {
  int max_idle_per_backend = 64;            // idle keep-alive connections kept per thread
  int eject_after_failures = 3;             // consecutive passive failures that eject
  millis eject_base{1'000};                 // first ejection; doubles per repeat
  millis eject_max{30'000};
  bool operator==(const upstream_config&) const = default;
};

struct log_config {
  log_level level = log_level::info;
  bool access_log = true;
};

struct management_config {
  std::string state_dir;                    // "" = the default location chosen by main
  int batch_max_items = 100;                // 1..100000 items in one /api/v1/batch/* call
  bool operator==(const management_config&) const = default;
};

// One entry of the `policies:` list. Its own options are checked by the policy's factory when
// the chain is built (policies/policy_chain.hpp), whose errors start with `where`.
struct policy_spec {
  std::string type;                  // validation, auth, prompt_guard, output_filter
  std::string name;                  // unique in the chain; defaults to the type
  std::vector<std::string> routes;   // route classes or route labels; empty: the policy's default
  std::string where;                 // "file:line: policies[i]"
  std::shared_ptr<const boost::json::object> options;  // every other key, YAML read as JSON
};

// One entry of the `presets:` list, kept as written: the presets module checks the fields and
// prefixes its errors with `where`.
struct preset_spec {
  std::string where;                                  // "file:line: presets[i]"
  std::shared_ptr<const boost::json::object> fields;  // the mapping, YAML read as JSON
};

struct config {
  server_config server;
  ollama_config ollama;
  upstream_config upstream;
  log_config log;
  management_config management;
  std::vector<policy_spec> policies;  // the policy chain, in order
  std::vector<preset_spec> presets;   // custom presets from the file, in order
  std::string source;  // file name, or "embedded defaults"
};

// A config error: what is wrong, naming the key path (and the line when known).
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The embedded defaults: one backend at http://localhost:11434.
config default_config();

// Parses YAML text over the defaults. Throws config_error naming key and line.
config parse_config(std::string_view yaml_text, std::string source_name);

// Reads and parses a file. Throws config_error.
config load_config_file(const std::string& path);

// Applies PORT, HOST, OLLAMA_BASE_URL, OLLAMA_TIMEOUT, OLLAMA_MAX_RETRIES, OLLAMA_AUTO_PULL,
// OLLAMA_MAX_CONCURRENT, OLLAMA_DEFAULT_MODEL, OLLAMA_EMBEDDING_MODEL, LOG_LEVEL from `env`
// (name → value). Throws config_error naming the variable on a bad value.
void apply_env_overrides(config& cfg, const std::map<std::string, std::string>& env);

// The process environment's relevant variables, for apply_env_overrides.
std::map<std::string, std::string> read_process_env();

// Parses one backend URL or a comma-separated list (OLLAMA_BASE_URL's shape). Throws
// config_error with `what` as the key name.
std::vector<backend_config> parse_backend_list(std::string_view text, std::string_view what);

std::string_view to_string(log_level l);

// --- The configuration as a JSON document (GET and PUT /api/v1/config)

// What config_to_json writes in place of a secret.
inline constexpr std::string_view masked_value = "********";

// The effective configuration as a document that parse_config_document reads back to an equal
// config (`source` and the `where` of policies and presets aside): sections server, ollama
// (backends as a list of {name, url, weight}), upstream, log, management, policies, presets;
// durations as format_duration writes them. With `mask_secrets`, every string under policies
// and presets whose key is hash, key, keys, api_key, dsn or contains secret, password or token
// (any case; a list's strings count under the list's key) reads masked_value instead.
boost::json::object config_to_json(const config& cfg, bool mask_secrets);

// Parses a JSON document over the defaults, validated exactly as the YAML file is, with the
// same messages. Their line numbers count lines of the document as `jq .` prints it (two-space
// indent, one key or item per line). Throws config_error.
config parse_config_document(const boost::json::object& doc, std::string source_name);

// Merges a partial document into `base` (PUT /api/v1/config): objects key by key; arrays and
// scalars replace. A key mapped to null is removed from `base`, which returns it to its default.
// A string equal to masked_value keeps what `base` holds at the same path (list items matched
// by index), so a masked GET document can be PUT back; where `base` holds nothing it throws
// config_error naming the path. Setting one of ollama.base_url and ollama.backends drops the
// other from `base`: they spell the same setting.
void merge_config_document(boost::json::object& base, const boost::json::object& patch);

// The key paths that differ between `running` and `next` and cannot change while corral runs:
// server.host, server.port, server.threads, ollama.backends (however written),
// upstream.max_idle_per_backend, upstream.eject_after_failures, upstream.eject_base,
// upstream.eject_max, management.state_dir. Everything else applies live.
std::vector<std::string> live_only_changes(const config& running, const config& next);

}  // namespace corral
