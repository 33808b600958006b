#pragma once
// Running a policy's on_request coroutine to completion in a unit test (it never waits on I/O).
#include "policies/policy.hpp"
#include "policies/policy_chain.hpp"

#include "gateway/core/config.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>

namespace corral::test {

template <class Hooks>
verdict run_on_request(const Hooks& hooks, policy_request& req) {
  boost::asio::io_context io;
  auto result = boost::asio::co_spawn(io, hooks.on_request(req), boost::asio::use_future);
  io.run();
  return result.get();
}

// Expects `make(options)` to throw a config_error whose message contains `needle`.
template <class Make>
void expect_config_error(Make make, const std::string& options_json, const std::string& needle) {
  try {
    make(boost::json::parse(options_json).as_object());
    ADD_FAILURE() << "accepted " << options_json;
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace corral::test
