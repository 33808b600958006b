#include "gateway/core/error_reply.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace corral {
namespace {

namespace json = boost::json;

class error_reply_test : public ::testing::Test {
 protected:
  static constexpr std::string_view tricky = "model \"llama2\" not found: C:\\models\nsecond line\t</script>";

  static json::object parse_object(std::string_view text) {
    json::error_code ec;
    auto v = json::parse(text, ec);
    EXPECT_FALSE(ec) << "not JSON: " << text;
    if (ec || !v.is_object()) {
      ADD_FAILURE() << "not a JSON object: " << text;
      return {};
    }
    return v.as_object();
  }

  // The fields of OpenAI's error object in `body`.
  static void expect_openai_error(std::string_view body, std::string_view message, std::string_view type) {
    auto o = parse_object(body);
    ASSERT_EQ(o.size(), 1u) << body;
    ASSERT_TRUE(o.contains("error")) << body;
    ASSERT_TRUE(o.at("error").is_object()) << body;
    const auto& e = o.at("error").as_object();
    EXPECT_EQ(e.at("message"), json::value(message)) << body;
    EXPECT_EQ(e.at("type"), json::value(type)) << body;
    ASSERT_TRUE(e.contains("param")) << body;
    EXPECT_TRUE(e.at("param").is_null()) << body;
    ASSERT_TRUE(e.contains("code")) << body;
    EXPECT_TRUE(e.at("code").is_null()) << body;
  }
};

TEST_F(error_reply_test, ollama_body_is_an_object_with_only_an_error_string) {
  auto o = parse_object(error_body(api_flavor::ollama, 404, "model 'x' not found"));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o.at("error"), json::value("model 'x' not found"));
}

TEST_F(error_reply_test, openai_body_type_follows_the_status) {
  expect_openai_error(error_body(api_flavor::openai, 400, "bad"), "bad", "invalid_request_error");
  expect_openai_error(error_body(api_flavor::openai, 404, "gone"), "gone", "not_found_error");
  expect_openai_error(error_body(api_flavor::openai, 500, "oops"), "oops", "api_error");
  expect_openai_error(error_body(api_flavor::openai, 502, "upstream"), "upstream", "api_error");
  expect_openai_error(error_body(api_flavor::openai, 503, "busy"), "busy", "api_error");
}

TEST_F(error_reply_test, openai_client_errors_about_the_request_are_invalid_request_errors) {
  for (unsigned status : {408u, 413u, 431u})
    expect_openai_error(error_body(api_flavor::openai, status, "m"), "m", "invalid_request_error");
}

TEST_F(error_reply_test, messages_with_quotes_backslashes_and_newlines_round_trip_through_json) {
  auto ollama = parse_object(error_body(api_flavor::ollama, 400, tricky));
  EXPECT_EQ(ollama.at("error"), json::value(tricky));
  expect_openai_error(error_body(api_flavor::openai, 400, tricky), tricky, "invalid_request_error");
  // Escaped, so the body is one line.
  EXPECT_EQ(error_body(api_flavor::ollama, 400, tricky).find('\n'), std::string::npos);
}

TEST_F(error_reply_test, ndjson_stream_error_is_one_json_line_ending_in_exactly_one_newline) {
  auto record = stream_error_record(api_flavor::ollama, false, tricky);
  ASSERT_FALSE(record.empty());
  EXPECT_EQ(record.back(), '\n');
  EXPECT_EQ(std::count(record.begin(), record.end(), '\n'), 1) << record;
  auto o = parse_object(std::string_view(record).substr(0, record.size() - 1));
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o.at("error"), json::value(tricky));
}

TEST_F(error_reply_test, ndjson_stream_error_on_openai_route_is_one_openai_error_line) {
  auto record = stream_error_record(api_flavor::openai, false, tricky);
  ASSERT_FALSE(record.empty());
  EXPECT_EQ(std::count(record.begin(), record.end(), '\n'), 1) << record;
  EXPECT_EQ(record.back(), '\n');
  auto line = std::string_view(record).substr(0, record.size() - 1);
  auto o = parse_object(line);
  ASSERT_TRUE(o.contains("error"));
  EXPECT_TRUE(o.at("error").is_object());
  EXPECT_EQ(o.at("error").as_object().at("message"), json::value(tricky));
}

TEST_F(error_reply_test, sse_stream_error_is_one_data_event_with_an_error_member) {
  auto record = stream_error_record(api_flavor::openai, true, tricky);
  ASSERT_TRUE(record.starts_with("data: ")) << record;
  ASSERT_TRUE(record.ends_with("\n\n")) << record;
  EXPECT_EQ(std::count(record.begin(), record.end(), '\n'), 2) << record;
  auto payload = std::string_view(record).substr(6, record.size() - 8);
  auto o = parse_object(payload);
  ASSERT_TRUE(o.contains("error")) << record;
  ASSERT_TRUE(o.at("error").is_object()) << record;
  EXPECT_EQ(o.at("error").as_object().at("message"), json::value(tricky));
}

TEST_F(error_reply_test, status_reason_names_common_statuses) {
  EXPECT_EQ(status_reason(200), "OK");
  EXPECT_EQ(status_reason(404), "Not Found");
  EXPECT_EQ(status_reason(502), "Bad Gateway");
  EXPECT_EQ(status_reason(503), "Service Unavailable");
  EXPECT_FALSE(status_reason(599).empty());
}

}  // namespace
}  // namespace corral
