#pragma once
// Proxying one request to one backend chosen by the balancer, with failover before the first
// byte and a streaming relay after it.
//
// Cancellation: while a request is proxied, the client connection is watched; when the client
// goes away the upstream connection is closed at once (that is what stops Ollama generating).
#include "gateway/downstream.hpp"
#include "gateway/gateway_state.hpp"
#include "gateway/route_table.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>

namespace corral {

struct proxy_request {
  std::string_view method;
  std::string_view target;
  std::string_view forwarded_headers;  // client headers to send upstream, "Name: value\r\n" each
  std::string_view body;
  route_match route;
  std::string model;                   // normalized; "" = any healthy backend
  backend_mask only = 0;               // when non-zero: restrict to these backends
};

// Serves `req` from the fleet; answers the client in every case (unless it is gone).
boost::asio::awaitable<void> proxy(worker& w, downstream& client, const proxy_request& req);

// Backends that have `model` per the catalog, refreshing the catalog from the healthy backends
// once when none has it (a model pulled behind corral's back), and pulling it first when
// ollama.auto_pull is on. 0 when no backend has it.
boost::asio::awaitable<backend_mask> backends_with_model(worker& w, const std::string& model,
                                                         bool allow_auto_pull);

// Extracts token counts from the tail of a response body (Ollama's prompt_eval_count /
// eval_count, or OpenAI's usage).
void count_tokens(std::string_view tail, request_context& ctx);

}  // namespace corral
