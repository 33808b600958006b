#pragma once
// Routes that speak to several backends at once, or pick one by rule rather than by load:
//   /api/tags, /api/ps, /v1/models   merged across healthy backends, no duplicates
//   /api/pull                        on every healthy backend, one merged progress stream
//   /api/delete, /api/copy           on every backend that has the model; per-backend report
//   /api/create, /api/push, blobs    on the primary backend (below)
//   /api/version                     the oldest version among healthy backends
//
// The primary backend: blobs must be uploaded to the backend that later runs /api/create, and
// clients send HEAD/POST /api/blobs then /api/create as separate requests, so all three go to
// one deterministic backend: the first healthy backend in config order. /api/create with `from`
// and no `files` goes to the first healthy backend that has the `from` model; /api/push to the
// first healthy backend that has the model.
#include "gateway/downstream.hpp"
#include "gateway/gateway_state.hpp"
#include "gateway/proxy.hpp"
#include "gateway/upstream_client.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

namespace corral {

boost::asio::awaitable<void> serve_tags(worker& w, downstream& client, bool openai);
boost::asio::awaitable<void> serve_ps(worker& w, downstream& client);
boost::asio::awaitable<void> serve_version(worker& w, downstream& client);

// `body` is the parsed request; `model` its normalized routing name.
boost::asio::awaitable<void> serve_pull(worker& w, downstream& client, const boost::json::object& body,
                                        const std::string& model);
boost::asio::awaitable<void> serve_delete_or_copy(worker& w, downstream& client, const proxy_request& req,
                                                  const std::string& model);

// The same request to every backend in `mask` at once; replies in backend order.
boost::asio::awaitable<std::vector<upstream_reply>> fan_out(worker& w, backend_mask mask, std::string_view method,
                                                            std::string_view target, std::string_view body,
                                                            std::string_view request_id);
// The backends in `mask`, in config order.
std::vector<backend*> members(worker& w, backend_mask mask);
// A backend's answer as a message for a person: its {"error"}, else its body or status.
std::string message_of(const upstream_reply& r);

// Pulls on each of `targets` at once (`body` is /api/pull's, streamed). With `progress_to`, the
// backends' progress lines, each tagged with "backend", go to it as chunks of a stream it has
// begun. Returns each target's error ("" when it succeeded); pulled models enter the catalog.
boost::asio::awaitable<std::vector<std::string>> pull_on(worker& w, std::vector<backend*> targets, std::string body,
                                                         std::string request_id, downstream* progress_to);

// The backend mask for the primary rule (see above); 0 when no healthy backend qualifies.
backend_mask primary_backend(const gateway_state& s, backend_mask must_have);

}  // namespace corral
