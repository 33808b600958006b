#include "gateway/route_table.hpp"

#include <array>
#include <string>

namespace corral {

namespace {

enum : unsigned { GET = 1, HEAD = 2, POST = 4, DELETE = 8, PUT = 16, ANY = 31 };

struct entry {
  std::string_view path;
  unsigned methods;
  route_kind kind;
  api_flavor flavor;
};

constexpr std::array<entry, 27> exact_routes{{
    {"/", GET | HEAD, route_kind::root, api_flavor::ollama},
    {"/health", GET | HEAD, route_kind::health, api_flavor::ollama},
    {"/ready", GET | HEAD, route_kind::ready, api_flavor::ollama},
    {"/metrics", GET, route_kind::metrics, api_flavor::ollama},
    {"/api/version", GET | HEAD, route_kind::version, api_flavor::ollama},
    {"/api/tags", GET | HEAD, route_kind::tags, api_flavor::ollama},
    {"/api/ps", GET, route_kind::ps, api_flavor::ollama},
    {"/api/generate", POST, route_kind::inference, api_flavor::ollama},
    {"/api/chat", POST, route_kind::inference, api_flavor::ollama},
    {"/api/embed", POST, route_kind::inference, api_flavor::ollama},
    {"/api/embeddings", POST, route_kind::inference, api_flavor::ollama},
    {"/api/show", POST, route_kind::show, api_flavor::ollama},
    {"/api/pull", POST, route_kind::pull, api_flavor::ollama},
    {"/api/push", POST, route_kind::primary, api_flavor::ollama},
    {"/api/create", POST, route_kind::primary, api_flavor::ollama},
    {"/api/copy", POST, route_kind::copy, api_flavor::ollama},
    {"/api/delete", DELETE, route_kind::delete_model, api_flavor::ollama},
    {"/v1/chat/completions", POST, route_kind::inference, api_flavor::openai},
    {"/v1/completions", POST, route_kind::inference, api_flavor::openai},
    {"/v1/embeddings", POST, route_kind::inference, api_flavor::openai},
    {"/v1/models", GET, route_kind::v1_models, api_flavor::openai},
    {"/api/status", GET, route_kind::passthrough, api_flavor::ollama},
    {"/v1/responses", POST, route_kind::passthrough, api_flavor::openai},
    {"/v1/messages", POST, route_kind::passthrough, api_flavor::ollama},
    {"/v1/audio/transcriptions", POST, route_kind::passthrough, api_flavor::openai},
    {"/api/me", ANY, route_kind::passthrough, api_flavor::ollama},
    {"/api/signout", ANY, route_kind::passthrough, api_flavor::ollama},
}};

// /api/v1/*: one path may carry several operations, one per method.
struct mgmt_entry {
  std::string_view path;  // a trailing "{}" matches one path parameter (which may hold '/')
  std::string_view label;
  unsigned method;
  mgmt_op op;
  route_class cls;
};

constexpr std::array<mgmt_entry, 27> mgmt_routes{{
    {"/api/v1/models", "/api/v1/models", GET, mgmt_op::models_list, route_class::fleet_read},
    {"/api/v1/models/pull", "/api/v1/models/pull", POST, mgmt_op::models_pull, route_class::fleet_change},
    {"/api/v1/models/copy", "/api/v1/models/copy", POST, mgmt_op::models_copy, route_class::fleet_change},
    {"/api/v1/models/create", "/api/v1/models/create", POST, mgmt_op::models_create, route_class::fleet_change},
    {"/api/v1/models/push", "/api/v1/models/push", POST, mgmt_op::models_push, route_class::fleet_change},
    {"/api/v1/models/{}/info", "/api/v1/models/{model}/info", GET, mgmt_op::model_info, route_class::fleet_read},
    {"/api/v1/models/{}", "/api/v1/models/{model}", GET, mgmt_op::model_get, route_class::fleet_read},
    {"/api/v1/models/{}", "/api/v1/models/{model}", DELETE, mgmt_op::model_delete, route_class::fleet_change},
    {"/api/v1/generate", "/api/v1/generate", POST, mgmt_op::generate, route_class::inference},
    {"/api/v1/chat", "/api/v1/chat", POST, mgmt_op::chat, route_class::inference},
    {"/api/v1/embeddings", "/api/v1/embeddings", POST, mgmt_op::embeddings, route_class::inference},
    {"/api/v1/generate/stream", "/api/v1/generate/stream", POST, mgmt_op::generate_stream, route_class::inference},
    {"/api/v1/chat/stream", "/api/v1/chat/stream", POST, mgmt_op::chat_stream, route_class::inference},
    {"/api/v1/batch/generate", "/api/v1/batch/generate", POST, mgmt_op::batch_generate, route_class::inference},
    {"/api/v1/batch/embeddings", "/api/v1/batch/embeddings", POST, mgmt_op::batch_embeddings, route_class::inference},
    {"/api/v1/presets", "/api/v1/presets", GET, mgmt_op::presets_list, route_class::management},
    {"/api/v1/presets", "/api/v1/presets", POST, mgmt_op::preset_create, route_class::management},
    {"/api/v1/presets/{}", "/api/v1/presets/{preset}", GET, mgmt_op::preset_get, route_class::management},
    {"/api/v1/presets/{}", "/api/v1/presets/{preset}", PUT, mgmt_op::preset_replace, route_class::management},
    {"/api/v1/presets/{}", "/api/v1/presets/{preset}", DELETE, mgmt_op::preset_delete, route_class::management},
    {"/api/v1/status", "/api/v1/status", GET, mgmt_op::status, route_class::management},
    {"/api/v1/stats", "/api/v1/stats", GET, mgmt_op::stats, route_class::management},
    {"/api/v1/config", "/api/v1/config", GET, mgmt_op::config_get, route_class::management},
    {"/api/v1/config", "/api/v1/config", PUT, mgmt_op::config_put, route_class::management},
    {"/api/v1/monitoring/performance", "/api/v1/monitoring/performance", GET, mgmt_op::performance,
     route_class::management},
    {"/api/v1/monitoring/usage", "/api/v1/monitoring/usage", GET, mgmt_op::usage, route_class::management},
    {"", "", 0, mgmt_op::none, route_class::other},
}};

// Matches `path` against a pattern; `param` gets what "{}" matched.
bool path_matches(std::string_view pattern, std::string_view path, std::string_view& param) {
  auto brace = pattern.find("{}");
  if (brace == std::string_view::npos) return pattern == path;
  auto prefix = pattern.substr(0, brace);
  auto suffix = pattern.substr(brace + 2);
  if (path.size() <= prefix.size() + suffix.size() || !path.starts_with(prefix) || !path.ends_with(suffix)) return false;
  param = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  return true;
}

unsigned method_bit(std::string_view m);

route_match match_management(std::string_view method, std::string_view path) {
  unsigned bit = method_bit(method);
  route_match m;
  bool path_known = false;
  // The first entry whose path and method match; paths are listed most specific first, so
  // "/api/v1/models/x/info" is the info route, while DELETE /api/v1/models/pull deletes a model
  // named "pull". A path that matches only with other methods is a 405 under its first label.
  for (const auto& e : mgmt_routes) {
    if (e.path.empty()) break;
    std::string_view param;
    if (!path_matches(e.path, path, param)) continue;
    if (e.method & bit) {
      m.label = e.label;
      m.path_param = param;
      m.kind = route_kind::management;
      m.op = e.op;
      return m;
    }
    if (!path_known) {
      m.label = e.label;
      m.path_param = param;
      m.kind = route_kind::method_not_allowed;
      path_known = true;
    }
  }
  return m;
}

route_class management_class(mgmt_op op) {
  for (const auto& e : mgmt_routes)
    if (e.op == op) return e.cls;
  return route_class::management;
}

}  // namespace

namespace {

unsigned method_bit(std::string_view m) {
  if (m == "GET") return GET;
  if (m == "HEAD") return HEAD;
  if (m == "POST") return POST;
  if (m == "DELETE") return DELETE;
  if (m == "PUT") return PUT;
  return 0;
}

route_match checked(std::string_view label, unsigned allowed, unsigned bit, route_kind kind,
                    api_flavor flavor, std::string_view param = {}) {
  route_match m;
  m.label = label;
  m.flavor = flavor;
  m.path_param = param;
  m.kind = (allowed & bit) ? kind : route_kind::method_not_allowed;
  return m;
}

}  // namespace

route_class class_of(const route_match& m) {
  switch (m.kind) {
    case route_kind::root:
    case route_kind::health:
    case route_kind::ready:
    case route_kind::metrics:
      return route_class::probe;
    case route_kind::inference:
      return route_class::inference;
    case route_kind::version:
    case route_kind::tags:
    case route_kind::ps:
    case route_kind::v1_models:
    case route_kind::v1_model:
    case route_kind::show:
      return route_class::fleet_read;
    case route_kind::pull:
    case route_kind::delete_model:
    case route_kind::copy:
    case route_kind::primary:
      return route_class::fleet_change;
    case route_kind::passthrough:
      // Inference under other names (OpenAI Responses, Anthropic Messages).
      if (m.label == "/v1/responses" || m.label == "/v1/messages" || m.label == "/v1/audio/transcriptions")
        return route_class::inference;
      // Browsers send CORS preflights without credentials: they are answered like probes.
      if (m.label == "OPTIONS") return route_class::probe;
      if (m.label == "/api/me" || m.label == "/api/status") return route_class::fleet_read;
      // Signing the backends out of ollama.com, and whatever experimental routes do: an admin's.
      return route_class::fleet_change;
    case route_kind::management:
      return management_class(m.op);
    case route_kind::not_found:
    case route_kind::method_not_allowed:
      return m.label.starts_with("/api/v1/") ? route_class::management : route_class::other;
  }
  return route_class::other;
}

bool is_route_label(std::string_view label) {
  for (const auto& e : exact_routes)
    if (e.path == label) return true;
  for (const auto& e : mgmt_routes)
    if (!e.label.empty() && e.label == label) return true;
  return label == "/v1/models/{model}" || label == "/api/blobs/{digest}" || label == "/api/experimental";
}

std::string percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
      continue;
    }
    out += s[i];
  }
  return out;
}

std::string_view path_of(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

route_match match_route(std::string_view method, std::string_view path) {
  // CORS preflights go to a backend, which answers them with its own OLLAMA_ORIGINS policy.
  if (method == "OPTIONS") {
    route_match m;
    m.kind = route_kind::passthrough;
    m.label = "OPTIONS";
    m.flavor = path.starts_with("/v1/") ? api_flavor::openai : api_flavor::ollama;
    return m;
  }
  if (path.starts_with("/api/v1/")) {
    auto m = match_management(method, path);
    if (m.kind != route_kind::not_found) return m;
  }
  unsigned bit = method_bit(method);
  for (const auto& e : exact_routes)
    if (e.path == path) return checked(e.path, e.methods, bit, e.kind, e.flavor);

  constexpr std::string_view v1_models = "/v1/models/";
  if (path.starts_with(v1_models) && path.size() > v1_models.size() &&
      path.find('/', v1_models.size()) == std::string_view::npos)
    return checked("/v1/models/{model}", GET, bit, route_kind::v1_model, api_flavor::openai,
                   path.substr(v1_models.size()));
  constexpr std::string_view blobs = "/api/blobs/";
  if (path.starts_with(blobs) && path.size() > blobs.size() &&
      path.find('/', blobs.size()) == std::string_view::npos)
    return checked("/api/blobs/{digest}", HEAD | POST, bit, route_kind::primary, api_flavor::ollama,
                   path.substr(blobs.size()));
  if (path.starts_with("/api/experimental/"))
    return checked("/api/experimental", ANY, bit, route_kind::passthrough, api_flavor::ollama);
  return route_match{};
}

}  // namespace corral
