#pragma once
// Inference through the management API: /api/v1/generate, /chat, /embeddings, their /stream
// variants, and /api/v1/batch/*.
//
// Not a second proxy: a request here is translated into Ollama's own request (model, preset,
// template, sampling fields → /api/generate, /api/chat or /api/embed) and then served exactly
// like one — the same policy chain, balancer, failover, relay, metrics and access log. Only the
// answer differs: a response_shaper turns Ollama's records into the management API's shape
// (docs/api.md), after the output filter has seen them.
#include "gateway/downstream.hpp"
#include "gateway/gateway_state.hpp"
#include "gateway/route_table.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace corral {

struct preset_set;

enum class inference_kind { generate, chat, embeddings };

// The kind, and whether the answer streams, of a management inference operation.
inference_kind kind_of(mgmt_op op);
bool streams(mgmt_op op);

struct inference_plan {
  unsigned status = 0;        // non-zero: refuse the request with this status and `error`
  std::string error;
  std::string body;           // Ollama's request, as JSON text
  std::string_view api_route; // "/api/generate", "/api/chat" or "/api/embed"
  std::string model;          // normalized
  std::string preset;         // "" when none
};

// Translates a management request body. The model is the request's `model`, else its
// preset's, else ollama.default_model (ollama.embedding_model for embeddings).
inference_plan plan_inference(inference_kind kind, bool stream, const boost::json::object& request,
                              const preset_set& presets, const ollama_config& cfg);

// Ollama's request text read back into `tree` for the policy chain (which reads and may change
// a body); nullptr when it cannot be read, which would be corral's own mistake.
boost::json::object* parse_planned(std::string_view text, boost::json::value& tree, boost::json::storage_ptr sp = {});

// The shaper for one request's answer: NDJSON records, or Server-Sent Events when `sse`.
std::unique_ptr<response_shaper> make_inference_shaper(inference_kind kind, bool stream, bool sse,
                                                       const request_context& ctx);

// What a batch needs from the session: the request's headers and address (each item meets
// the policy chain as a request of its own) and how to finish an item (metrics, usage, log).
struct batch_env {
  const boost::beast::http::fields& headers;
  std::string client_ip;
  std::shared_ptr<const policy_chain> chain;
  std::function<void(request_context&)> finish;
};

// /api/v1/batch/generate and /api/v1/batch/embeddings.
boost::asio::awaitable<void> serve_batch(worker& w, downstream& client, const boost::json::object& body,
                                         inference_kind kind, const route_match& route, batch_env env);

}  // namespace corral
