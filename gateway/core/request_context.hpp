#pragma once
// What corral knows about one request while it is served: carried from the session through the
// policy chain, the balancer and the relay to the access log and the metrics. Owned by the
// session coroutine; lives exactly as long as the request.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral {

// Who is calling, once the auth policy has found the caller's API key. Shared, immutable: one
// per configured key, pointed to by every request made with it.
struct identity {
  std::string key_name;                  // the key's configured name (never the key itself)
  std::string role;                      // "admin" or "user"
  std::vector<std::string> models;       // allowed models, normalized; empty: all
  std::vector<std::pair<std::string, std::string>> labels;  // for rate limits, quotas, audit
  bool may_use(std::string_view normalized_model) const {
    if (models.empty()) return true;
    for (const auto& m : models)
      if (m == normalized_model) return true;
    return false;
  }
};

// What a route does, as policies see it (route_table.cpp maps every route to one).
enum class route_class : std::uint8_t {
  probe,         // /, /health, /ready, /metrics
  inference,     // generate, chat, embed(dings), /v1 completions, chat completions, embeddings
  fleet_read,    // tags, ps, show, version, /v1/models
  fleet_change,  // pull, delete, copy, create, push, blobs: the admin role's
  management,    // /api/v1/*
  other,         // other passed-through routes, unknown routes
};
std::string_view to_string(route_class c);

// One policy's per-request state (see policies/policy.hpp).
struct policy_state {
  virtual ~policy_state() = default;
};

struct request_context {
  using clock = std::chrono::steady_clock;

  std::string id;              // X-Request-Id: the client's, or one we made
  std::string client;          // peer address "ip:port"
  std::string_view method;
  std::string target;
  std::string_view route;      // route label for metrics and logs ("/api/chat", "other")
  // The Ollama or OpenAI route whose body shape the request has, for policies that read bodies:
  // the route itself, except for /api/v1 inference, which is translated to Ollama's.
  std::string_view api_route;
  route_class cls = route_class::other;
  std::string model;           // normalized, when the request names one
  std::string preset;          // the preset it ran with ("" when none)
  std::string backend;         // name of the backend that served it ("" if none)
  unsigned status = 0;
  std::uint64_t bytes_in = 0;  // request body
  std::uint64_t bytes_out = 0; // response body
  int attempts = 0;            // backends tried
  std::uint64_t prompt_tokens = 0;
  std::uint64_t completion_tokens = 0;
  std::uint64_t load_ns = 0;   // Ollama's load_duration (a model loaded for this request)
  std::string error;           // what went wrong, for the log ("" when nothing did)
  unsigned worker = 0;         // the worker thread serving it (metric shards)
  std::shared_ptr<const identity> who;  // set by the auth policy; null when auth is off
  std::string decisions;       // policy decisions, "policy:decision[:detail] ..." for the log
  std::vector<std::unique_ptr<policy_state>> policy_states;  // indexed by policy slot
  std::uint64_t chunk_policies = 0;  // policies whose chunk hook applies to this response (bits)

  clock::time_point accepted{};    // the request's head was read
  clock::time_point first_byte{};  // first body byte to the client (epoch when none)
  clock::time_point done{};
};

}  // namespace corral
