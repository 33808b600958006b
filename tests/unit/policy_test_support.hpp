#pragma once
// Running a policy's on_request coroutine to completion in a unit test (it never waits on I/O).
#include "policies/policy.hpp"
#include "policies/policy_chain.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace corral::test {

template <class Hooks>
verdict run_on_request(const Hooks& hooks, policy_request& req) {
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(io, hooks.on_request(req), boost::asio::use_future);
  io.run();
  return result.get();
}

}  // namespace corral::test
