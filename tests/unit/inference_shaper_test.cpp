// The management API's answers, made from Ollama's (gateway/management_inference.cpp).
#include "gateway/management_inference.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace corral {
namespace {

namespace json = boost::json;

class inference_shaper_test : public ::testing::Test {
 protected:
  inference_shaper_test() {
    ctx_.model = "llama2:latest";
    ctx_.preset = "general";
    ctx_.backend = "gpu1";
    ctx_.id = "req-1";
  }
  json::object whole(inference_kind kind, std::string_view ollama_body) {
    auto shaper = make_inference_shaper(kind, false, false, ctx_);
    auto out = shaper->on_whole(ollama_body);
    auto v = json::parse(out);
    return v.as_object();
  }
  request_context ctx_;
};

constexpr std::string_view generate_answer =
    R"({"model":"llama2","created_at":"2026-01-01T00:00:00Z","response":"Hi \"there\"\n\u00e9","done":true,)"
    R"("done_reason":"stop","context":[1,2,3,[4]],"total_duration":12345678,"load_duration":1000000,)"
    R"("prompt_eval_count":7,"prompt_eval_duration":2000000,"eval_count":10,"eval_duration":5000000})";

TEST_F(inference_shaper_test, a_whole_generate_answer_carries_text_identity_counts_and_durations) {
  auto o = whole(inference_kind::generate, generate_answer);
  EXPECT_EQ(o.at("text").as_string(), "Hi \"there\"\n\xc3\xa9");
  EXPECT_EQ(o.at("model").as_string(), "llama2:latest");
  EXPECT_EQ(o.at("preset").as_string(), "general");
  EXPECT_EQ(o.at("backend").as_string(), "gpu1");
  EXPECT_EQ(o.at("request_id").as_string(), "req-1");
  EXPECT_EQ(o.at("created_at").as_string(), "2026-01-01T00:00:00Z");
  EXPECT_EQ(o.at("done_reason").as_string(), "stop");
  EXPECT_EQ(o.at("usage").at("prompt_tokens").to_number<int>(), 7);
  EXPECT_EQ(o.at("usage").at("completion_tokens").to_number<int>(), 10);
  EXPECT_EQ(o.at("usage").at("total_tokens").to_number<int>(), 17);
  EXPECT_DOUBLE_EQ(o.at("durations_ms").at("total").to_number<double>(), 12.3);
  EXPECT_DOUBLE_EQ(o.at("durations_ms").at("eval").to_number<double>(), 5.0);
  EXPECT_DOUBLE_EQ(o.at("tokens_per_second").to_number<double>(), 2000.0);
  EXPECT_FALSE(o.contains("context")) << "Ollama's legacy context stays out";
}

TEST_F(inference_shaper_test, a_chat_answer_with_tool_calls_keeps_them_and_the_message_whole) {
  // The message (tool calls and all) is passed on as it came.
  auto o = whole(inference_kind::chat,
                 R"({"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"function":)"
                 R"({"name":"weather","arguments":{"city":"Oslo"}}}]},"done":true,"done_reason":"stop",)"
                 R"("prompt_eval_count":3,"eval_count":4})");
  EXPECT_EQ(o.at("text").as_string(), "");
  EXPECT_EQ(o.at("tool_calls").at(0).at("function").at("name").as_string(), "weather");
  EXPECT_EQ(o.at("message").at("tool_calls").at(0).at("function").at("arguments").at("city").as_string(), "Oslo");
  EXPECT_EQ(o.at("usage").at("total_tokens").to_number<int>(), 7);
}

TEST_F(inference_shaper_test, a_chat_answer_carries_its_message_and_fields_it_does_not_know_change_nothing) {
  constexpr std::string_view flat =
      R"({"model":"m","created_at":"t","message":{"role":"assistant","content":"Hello","thinking":"hmm"},)"
      R"("done":true,"done_reason":"length","prompt_eval_count":2,"eval_count":3,"eval_duration":3000000})";
  auto read_flat = whole(inference_kind::chat, flat);
  // A field a newer Ollama might add changes nothing in the answer.
  std::string nested(flat);
  nested.insert(nested.size() - 1, R"(,"extra":{"x":1})");
  auto read_tree = whole(inference_kind::chat, nested);
  EXPECT_EQ(read_flat.at("text").as_string(), "Hello");
  EXPECT_EQ(read_flat.at("thinking").as_string(), "hmm");
  EXPECT_EQ(read_flat.at("message").at("content").as_string(), "Hello");
  EXPECT_EQ(read_flat.at("message").at("role").as_string(), "assistant");
  for (auto key : {"text", "thinking", "done_reason", "usage", "durations_ms", "tokens_per_second", "created_at"})
    EXPECT_EQ(read_flat.at(key), read_tree.at(key)) << key;
  EXPECT_EQ(read_flat.at("message").at("content"), read_tree.at("message").at("content"));
}

TEST_F(inference_shaper_test, a_stream_record_is_a_piece_and_the_last_one_the_summary) {
  auto shaper = make_inference_shaper(inference_kind::generate, true, true, ctx_);
  std::string out;
  shaper->on_record(R"({"model":"m","response":" The","done":false})" "\n", out);
  EXPECT_EQ(out, "data: {\"text\":\" The\",\"done\":false}\n\n");
  out.clear();
  shaper->on_record(std::string(generate_answer) + "\n", out);
  ASSERT_TRUE(out.starts_with("data: ")) << out;
  auto last = json::parse(out.substr(6)).as_object();
  EXPECT_TRUE(last.at("done").as_bool());
  EXPECT_EQ(last.at("usage").at("completion_tokens").to_number<int>(), 10);
  EXPECT_EQ(shaper->error_record("broke"), "event: error\ndata: {\"error\":\"broke\"}\n\n");
}

TEST_F(inference_shaper_test, the_counts_for_metrics_and_usage_come_from_the_record_that_ends_the_answer) {
  auto shaper = make_inference_shaper(inference_kind::generate, true, false, ctx_);
  std::string out;
  shaper->on_record(R"({"model":"m","response":" The","done":false,"eval_count":99})" "\n", out);
  request_context counted;
  shaper->usage(counted);
  EXPECT_EQ(counted.completion_tokens, 0u) << "a piece's fields are not the answer's counts";
  shaper->on_record(std::string(generate_answer) + "\n", out);
  shaper->usage(counted);
  EXPECT_EQ(counted.prompt_tokens, 7u);
  EXPECT_EQ(counted.completion_tokens, 10u);
  EXPECT_EQ(counted.load_ns, 1000000u);

  auto whole = make_inference_shaper(inference_kind::embeddings, false, false, ctx_);
  whole->on_whole(R"({"model":"m","embeddings":[[0.1,0.2]],"prompt_eval_count":5,"load_duration":42})");
  request_context embedded;
  whole->usage(embedded);
  EXPECT_EQ(embedded.prompt_tokens, 5u);
  EXPECT_EQ(embedded.load_ns, 42u);
}

TEST_F(inference_shaper_test, a_broken_record_is_dropped_and_a_long_one_is_read_whole) {
  auto shaper = make_inference_shaper(inference_kind::generate, true, false, ctx_);
  std::string out;
  shaper->on_record(R"({"model":"m","response":"cut)", out);
  EXPECT_EQ(out, "");
  shaper->on_record(R"({"response":")" + std::string(2500, 'a') + R"(\")" + std::string(2499, 'b') +
                        "\xc3\xa9\",\"done\":false}\n",
                    out);
  auto piece = json::parse(out).as_object();
  EXPECT_EQ(piece.at("text").as_string(), std::string(2500, 'a') + "\"" + std::string(2499, 'b') + "\xc3\xa9");
}

TEST_F(inference_shaper_test, absurd_counts_and_durations_still_make_json_numbers) {
  for (std::string_view answer :
       {R"({"response":"x","done":true,"eval_count":100000000000000000,"eval_duration":1})",
        R"({"response":"x","done":true,"eval_count":18446744073709551615,"eval_duration":1,"total_duration":-2e30})",
        R"({"response":"x","done":true,"eval_count":3,"eval_duration":-5e5,"load_duration":1e300})"}) {
    auto o = whole(inference_kind::generate, answer);
    EXPECT_TRUE(o.at("tokens_per_second").is_number()) << answer;
    for (const auto& kv : o.at("durations_ms").as_object()) EXPECT_TRUE(kv.value().is_number()) << answer;
  }
  auto o = whole(inference_kind::generate, R"({"response":"x","done":true,"total_duration":-150000,"eval_duration":50000})");
  EXPECT_DOUBLE_EQ(o.at("durations_ms").at("total").to_number<double>(), -0.2) << "-0.15 ms rounds away from zero";
  EXPECT_DOUBLE_EQ(o.at("durations_ms").at("eval").to_number<double>(), 0.1) << "0.05 ms rounds up";
}

TEST_F(inference_shaper_test, a_body_that_is_not_json_goes_out_unchanged) {
  auto shaper = make_inference_shaper(inference_kind::generate, false, false, ctx_);
  EXPECT_EQ(shaper->on_whole("not json"), "not json");
}

}  // namespace
}  // namespace corral
