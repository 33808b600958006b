#include "gateway/access_log.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>

namespace corral {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class access_log_test : public ::testing::Test {
 protected:
  access_log_test() {
    ctx_.id = "req-1";
    ctx_.client = "10.0.0.7:51234";
    ctx_.method = "POST";
    ctx_.target = "/api/chat?x=1";
    ctx_.route = "/api/chat";
    ctx_.model = "llama2:latest";
    ctx_.backend = "gpu-a";
    ctx_.status = 200;
    ctx_.bytes_in = 123;
    ctx_.bytes_out = 4567;
    ctx_.attempts = 2;
    ctx_.prompt_tokens = 11;
    ctx_.completion_tokens = 22;
    ctx_.accepted = request_context::clock::time_point{} + 1000s;
    ctx_.first_byte = ctx_.accepted + 250ms;
    ctx_.done = ctx_.accepted + 1500ms;
  }

  // The line, checked to be exactly one line, parsed as a JSON object.
  json::object parsed() const {
    auto line = access_log_line(ctx_);
    EXPECT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
    json::error_code ec;
    auto v = json::parse(std::string_view(line).substr(0, line.size() - 1), ec);
    EXPECT_FALSE(ec) << "not JSON: " << line;
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "not a JSON object: " << line;
      return {};
    }
    return v.as_object();
  }

  request_context ctx_;
};

TEST_F(access_log_test, line_is_one_json_object_with_the_request_fields) {
  auto o = parsed();
  EXPECT_EQ(o.at("type"), "access");
  EXPECT_EQ(o.at("id"), "req-1");
  EXPECT_EQ(o.at("client"), "10.0.0.7:51234");
  EXPECT_EQ(o.at("method"), "POST");
  EXPECT_EQ(o.at("route"), "/api/chat");
  EXPECT_EQ(o.at("target"), "/api/chat?x=1");
  EXPECT_EQ(o.at("model"), "llama2:latest");
  EXPECT_EQ(o.at("backend"), "gpu-a");
  EXPECT_EQ(o.at("status").to_number<int>(), 200);
  EXPECT_EQ(o.at("bytes_in").to_number<std::uint64_t>(), 123u);
  EXPECT_EQ(o.at("bytes_out").to_number<std::uint64_t>(), 4567u);
  EXPECT_EQ(o.at("prompt_tokens").to_number<std::uint64_t>(), 11u);
  EXPECT_EQ(o.at("completion_tokens").to_number<std::uint64_t>(), 22u);
  EXPECT_EQ(o.at("attempts").to_number<int>(), 2);
  EXPECT_NEAR(o.at("duration").to_number<double>(), 1.5, 1e-6);
  ASSERT_TRUE(o.contains("ttfb"));
  EXPECT_NEAR(o.at("ttfb").to_number<double>(), 0.25, 1e-6);
  EXPECT_FALSE(o.contains("error")) << "no error field when nothing went wrong";
}

TEST_F(access_log_test, ttfb_is_absent_when_no_body_byte_was_sent) {
  ctx_.first_byte = {};
  ctx_.status = 502;
  auto o = parsed();
  EXPECT_FALSE(o.contains("ttfb"));
  EXPECT_NEAR(o.at("duration").to_number<double>(), 1.5, 1e-6);
}

TEST_F(access_log_test, error_is_logged_when_set) {
  ctx_.error = "upstream gpu-a: connection refused";
  auto o = parsed();
  EXPECT_EQ(o.at("error"), "upstream gpu-a: connection refused");
}

TEST_F(access_log_test, strings_with_quotes_backslashes_and_newlines_are_escaped) {
  ctx_.target = "/api/chat?q=\"x\"\n{\"type\":\"forged\"}";
  ctx_.id = "id\\with\\backslashes\r\n";
  ctx_.client = "\x01\x7f";
  ctx_.error = "line one\nline \"two\"";
  auto o = parsed();
  EXPECT_EQ(o.at("type"), "access");
  EXPECT_EQ(o.at("target"), json::value(ctx_.target));
  EXPECT_EQ(o.at("id"), json::value(ctx_.id));
  EXPECT_EQ(o.at("client"), json::value(ctx_.client));
  EXPECT_EQ(o.at("error"), json::value(ctx_.error));
}

TEST_F(access_log_test, empty_strings_are_empty_json_strings) {
  ctx_.model.clear();
  ctx_.backend.clear();
  ctx_.route = "other";
  auto o = parsed();
  EXPECT_EQ(o.at("model"), "");
  EXPECT_EQ(o.at("backend"), "");
  EXPECT_EQ(o.at("route"), "other");
}

}  // namespace
}  // namespace corral
