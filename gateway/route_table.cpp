#include "gateway/route_table.hpp"

#include <array>

namespace corral {

namespace {

enum : unsigned { GET = 1, HEAD = 2, POST = 4, DELETE = 8, ANY = 15 };

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

unsigned method_bit(std::string_view m) {
  if (m == "GET") return GET;
  if (m == "HEAD") return HEAD;
  if (m == "POST") return POST;
  if (m == "DELETE") return DELETE;
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
    case route_kind::not_found:
    case route_kind::method_not_allowed:
      return route_class::other;
  }
  return route_class::other;
}

bool is_route_label(std::string_view label) {
  for (const auto& e : exact_routes)
    if (e.path == label) return true;
  return label == "/v1/models/{model}" || label == "/api/blobs/{digest}" || label == "/api/experimental";
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
