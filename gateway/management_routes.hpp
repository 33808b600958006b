#pragma once
// The management API's routes that corral answers itself (/api/v1/presets, status, stats,
// config, monitoring), and the dispatch to the model routes (management_models.hpp). Inference
// and batch routes are served by the session through management_inference.hpp, because they
// run the policy chain on the translated request.
#include "gateway/downstream.hpp"
#include "gateway/gateway_state.hpp"
#include "gateway/route_table.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <string_view>

namespace corral {

// `body` is the parsed JSON body (null when the route takes none); `query` the query string.
boost::asio::awaitable<void> serve_management(worker& w, downstream& client, const route_match& route,
                                              const boost::json::object* body, std::string_view query);

// Whether the operation reads a JSON body.
bool management_takes_body(mgmt_op op);

}  // namespace corral
