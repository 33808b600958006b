#pragma once
// One client connection: a coroutine that reads requests (keep-alive, pipelining) within the
// configured limits, dispatches each through the route table and writes the answers in order.
// Lives on its worker's thread from accept to close.
#include "gateway/gateway_state.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace corral {

boost::asio::awaitable<void> run_session(worker& w, boost::asio::ip::tcp::socket socket);

}  // namespace corral
