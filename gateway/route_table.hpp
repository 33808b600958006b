#pragma once
// The route table: (method, path) → what corral does with the request. Pure and allocation-free.
#include "gateway/core/error_reply.hpp"
#include "gateway/core/request_context.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace corral {

enum class route_kind {
  root,            // GET/HEAD /  → "Ollama is running"
  health,          // /health
  ready,           // /ready
  metrics,         // /metrics
  version,         // /api/version
  tags,            // /api/tags        merged
  ps,              // /api/ps          merged
  v1_models,       // /v1/models       merged
  v1_model,        // /v1/models/{m}   one backend that has it
  inference,       // generate, chat, embed(dings), /v1 completions/embeddings: by body model
  show,            // /api/show: a backend that has the model
  pull,            // every healthy backend, merged progress
  delete_model,    // every backend that has it
  copy,            // every backend that has the source
  primary,         // create, push, blobs: the primary backend (see fleet_routes.hpp)
  passthrough,     // other Ollama routes: by body model when present, else any healthy backend
  management,      // /api/v1/*: route_match::op says which (management_routes.hpp)
  not_found,       // 404 page not found
  method_not_allowed,
};

// The management API's operations (/api/v1/*).
enum class mgmt_op : std::uint8_t {
  none,
  models_list, model_get, model_info, model_delete, models_pull, models_copy, models_create, models_push,
  generate, chat, embeddings, generate_stream, chat_stream, batch_generate, batch_embeddings,
  presets_list, preset_create, preset_get, preset_replace, preset_delete,
  status, stats, config_get, config_put, performance, usage,
};

struct route_match {
  route_kind kind = route_kind::not_found;
  std::string_view label = "other";  // for metrics and logs; static storage
  api_flavor flavor = api_flavor::ollama;
  std::string_view path_param;       // /v1/models/{model}, /api/blobs/{digest}, /api/v1/.../{name}
  mgmt_op op = mgmt_op::none;        // route_kind::management only
};

// `path` excludes the query string.
route_match match_route(std::string_view method, std::string_view path);

// What the route does, for policies (who may call it, which policies apply).
route_class class_of(const route_match& m);

// True when `label` is a route's label (what match_route returns, e.g. "/api/chat").
bool is_route_label(std::string_view label);

// Decodes %XX escapes (a path parameter such as a model name with '/' or ':').
std::string percent_decode(std::string_view s);

// Splits "path?query" → path.
std::string_view path_of(std::string_view target);

}  // namespace corral
