#pragma once
// POST /api/blobs/{digest}: the body is a model file (often GBs), streamed to the primary
// backend (fleet_routes.hpp) piece by piece, never held whole. Content-Length bodies go up with
// their length; chunked bodies go up chunked. Each wait for the client's next piece is bounded
// by server.body_timeout; each wait for the backend by ollama.timeout.
#include "gateway/downstream.hpp"
#include "gateway/gateway_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <string_view>

namespace corral {

boost::asio::awaitable<void> proxy_blob_upload(worker& w, downstream& client,
                                               boost::beast::http::request_parser<boost::beast::http::buffer_body>& body,
                                               std::string_view forwarded_headers);

}  // namespace corral
