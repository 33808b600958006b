#include "policies/validation.hpp"

#include "gateway/core/config.hpp"
#include "policies/string_formats.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace corral {
namespace {

namespace json = boost::json;

class ValidationTest : public ::testing::Test {
 protected:
  // Builds the policy under test from options written as JSON (YAML reads into the same shape).
  void configure(std::string_view options_json) {
    policy_ = make_validation(json::parse(options_json).as_object());
    policy_->bind("validation", 0, nullptr);
  }

  // The verdict on `body_json` sent to `route`.
  verdict send(std::string_view route, std::string_view body_json, std::uint64_t bytes_in = 0) {
    json::parse_options deep;
    deep.max_depth = 1000;  // the policy, not the parser, is under test
    body_ = json::parse(body_json, {}, deep).as_object();
    ctx_ = request_context{};
    ctx_.bytes_in = bytes_in ? bytes_in : body_json.size();
    policy_request req{ctx_};
    req.ctx.route = req.ctx.api_route = route;
    req.flavor = route.starts_with("/v1/") ? api_flavor::openai : api_flavor::ollama;
    req.body = &body_;
    return run(req);
  }

  verdict run(policy_request& req) {
    boost::asio::io_context io;
    auto result = boost::asio::co_spawn(io, policy_->on_request(req), boost::asio::use_future);
    io.run();
    return result.get();
  }

  // The rejection message for `body_json`, or "" when it passes.
  std::string problem(std::string_view route, std::string_view body_json) {
    auto v = send(route, body_json);
    if (v.rejected()) {
      EXPECT_EQ(v.status, 400u) << v.message;
    }
    return v.message;
  }

  void expect_pass(std::string_view route, std::string_view body_json) {
    EXPECT_EQ(problem(route, body_json), "") << route << " " << body_json;
  }

  // The config error for `options_json`, or "" when it builds.
  static std::string config_problem(std::string_view options_json) {
    try {
      make_validation(json::parse(options_json).as_object());
    } catch (const config_error& e) {
      return e.what();
    }
    return "";
  }

  static std::string repeat(char c, std::size_t n) { return std::string(n, c); }
  // A value nested `levels` deep: [[[...]]].
  static std::string nested_arrays(std::size_t levels) { return repeat('[', levels) + repeat(']', levels); }

  void SetUp() override { configure("{}"); }

  std::unique_ptr<policy> policy_;
  request_context ctx_;
  json::object body_;
};

// --- the policy's shape -------------------------------------------------------------------------

TEST_F(ValidationTest, runs_on_requests_only_and_decides_pass_or_reject) {
  EXPECT_EQ(policy_->hooks(), unsigned{hook_request});
  ASSERT_EQ(policy_->decisions().size(), 2u);
  EXPECT_EQ(policy_->decisions()[0], "pass");
  EXPECT_EQ(policy_->decisions()[1], "reject");
}

TEST_F(ValidationTest, records_pass_and_reject_with_the_field_as_detail) {
  send("/api/generate", R"({"model":"llama3.2","prompt":"hi"})");
  EXPECT_EQ(ctx_.decisions, "validation:pass");
  send("/api/chat", R"({"model":"llama3.2","messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]})");
  EXPECT_EQ(ctx_.decisions, "validation:reject:messages[1].role");
}

TEST_F(ValidationTest, keeps_client_keys_to_one_short_word_in_the_log_and_short_in_messages) {
  EXPECT_EQ(problem("/api/create", R"({"model":"m","files":{"a \"b\"":1}})"), R"(field "files.a "b"": must be a string, got 1)");
  EXPECT_EQ(ctx_.decisions, "validation:reject:files.a__b_");
  EXPECT_EQ(problem("/api/create", R"({"model":"m","files":{")" + repeat('k', 100) + R"(":1}})"),
            R"(field "files.)" + repeat('k', 40) + R"(...": must be a string, got 1)");
}

TEST_F(ValidationTest, passes_routes_without_a_body_or_a_schema_unrecorded) {
  policy_request req{ctx_};
  req.ctx.route = req.ctx.api_route = "/api/chat";
  EXPECT_FALSE(run(req).rejected());
  body_ = json::parse(R"({"prompt": 42})").as_object();
  req.body = &body_;
  for (std::string_view route : {"/api/tags", "/v1/responses", "/v1/messages", "other"}) {
    req.ctx.route = req.ctx.api_route = route;
    EXPECT_FALSE(run(req).rejected()) << route;
  }
  EXPECT_EQ(ctx_.decisions, "");
}

// --- shapes the official clients send -----------------------------------------------------------

TEST_F(ValidationTest, passes_native_generate_as_clients_send_it) {
  expect_pass("/api/generate", R"({"model":"llama3.2","prompt":"Why is the sky blue?","stream":false,
    "options":{"temperature":0.8,"top_p":0.9,"top_k":40,"num_ctx":4096,"num_predict":-1,"seed":42,
               "stop":["\n","User:"],"mirostat":0,"use_mmap":true,"num_gpu":99},
    "format":"json","keep_alive":"5m","images":["aGVsbG8=","aGk="],"think":"high","raw":false,
    "system":"Be brief.","template":"{{ .Prompt }}","suffix":"","context":[1,2,3],"truncate":true,
    "shift":true,"logprobs":true,"top_logprobs":5})");
  expect_pass("/api/generate", R"({"model":"llama3.2","prompt":"","keep_alive":0})");
  expect_pass("/api/generate", R"({"model":"llama3.2","keep_alive":-1,"options":{"num_predict":-2}})");
  expect_pass("/api/generate", R"({"model":"llama3.2","prompt":"x","format":{"type":"object",
    "properties":{"age":{"type":"integer"}},"required":["age"]},"think":false})");
}

TEST_F(ValidationTest, passes_native_chat_with_tools_tool_calls_and_tool_messages) {
  expect_pass("/api/chat", R"({"model":"qwen3:8b","stream":true,"think":true,
    "messages":[{"role":"system","content":"You are helpful."},
                {"role":"user","content":"Weather in Tokyo?","images":["aGVsbG8="]},
                {"role":"assistant","content":"","thinking":"hmm","tool_calls":[{"id":"call_ab12cd34",
                  "function":{"index":0,"name":"get_weather","arguments":{"city":"Tokyo"}}}]},
                {"role":"tool","content":"22C","tool_name":"get_weather","tool_call_id":"call_ab12cd34"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Get weather",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
    "keep_alive":"1h30m","options":{"temperature":0}})");
}

TEST_F(ValidationTest, passes_native_chat_with_empty_messages_which_loads_the_model) {
  expect_pass("/api/chat", R"({"model":"llama3.2","messages":[]})");
  expect_pass("/api/chat", R"({"model":"llama3.2","messages":[],"keep_alive":0})");
}

TEST_F(ValidationTest, passes_roles_in_any_case_as_ollama_lower_cases_them) {
  expect_pass("/api/chat", R"({"model":"m","messages":[{"role":"User","content":"a"}]})");
}

TEST_F(ValidationTest, passes_native_embed_show_and_model_management_shapes) {
  expect_pass("/api/embed", R"({"model":"all-minilm","input":["a","b"],"truncate":true,"dimensions":384,"keep_alive":"5m"})");
  expect_pass("/api/embed", R"({"model":"all-minilm","input":"a"})");
  expect_pass("/api/embed", R"({"model":"all-minilm","input":[]})");
  expect_pass("/api/embeddings", R"({"model":"all-minilm","prompt":"a","options":{"temperature":0}})");
  expect_pass("/api/show", R"({"model":"llama3.2","verbose":true})");
  expect_pass("/api/show", R"({"name":"llama3.2"})");
  expect_pass("/api/pull", R"({"name":"llama3.2","stream":true,"insecure":false})");
  expect_pass("/api/push", R"({"model":"registry:5000/me/m:v1","stream":false})");
  expect_pass("/api/create", R"({"model":"mario","from":"llama3.2","system":"You are Mario.",
    "parameters":{"temperature":1},"files":{"m.gguf":"sha256:abc"},"license":["MIT","x"],
    "messages":[{"role":"user","content":"hi"}],"quantize":"q4_K_M","stream":false})");
  expect_pass("/api/copy", R"({"source":"llama3.2","destination":"llama3.2-backup"})");
  expect_pass("/api/delete", R"({"name":"llama3.2:latest"})");
}

TEST_F(ValidationTest, passes_openai_chat_as_the_sdks_send_it) {
  expect_pass("/v1/chat/completions", R"({"model":"llama3.2","stream":true,"stream_options":{"include_usage":true},
    "messages":[{"role":"developer","content":"Be brief."},
                {"role":"user","content":[{"type":"text","text":"What is this?"},
                  {"type":"image_url","image_url":{"url":"data:image/png;base64,aGVsbG8=","detail":"auto"}},
                  {"type":"image_url","image_url":"https://example.com/cat.png"}]},
                {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                  "function":{"name":"f","arguments":"{\"a\":1}"}}]},
                {"role":"tool","tool_call_id":"call_1","content":"42"}],
    "max_tokens":256,"max_completion_tokens":256,"temperature":0.7,"top_p":1,"seed":7,"stop":"\n",
    "frequency_penalty":0.5,"presence_penalty":-0.5,"n":1,"user":"u1","tool_choice":"auto",
    "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},
    "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
    "reasoning_effort":"low","logprobs":true,"top_logprobs":2,"parallel_tool_calls":true,"metadata":{"k":"v"}})");
  expect_pass("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"x"}],
    "stop":["a","b"],"reasoning":{"effort":"high"},"temperature":null,"max_tokens":null})");
}

TEST_F(ValidationTest, passes_openai_completions_and_embeddings) {
  expect_pass("/v1/completions", R"({"model":"m","prompt":"Say this is a test","max_tokens":7,"temperature":0,
    "suffix":"x","stream":false,"logprobs":3,"echo":false,"stop":["\n"],"seed":1})");
  expect_pass("/v1/embeddings", R"({"model":"all-minilm","input":["a","b"],"encoding_format":"base64","dimensions":8})");
  expect_pass("/v1/embeddings", R"({"model":"all-minilm","input":"a","encoding_format":"float"})");
}

TEST_F(ValidationTest, treats_null_as_absent_like_ollamas_decoder) {
  expect_pass("/api/generate", R"({"model":"m","prompt":null,"options":null,"images":null,"format":null,
    "keep_alive":null,"think":null,"stream":null})");
}

TEST_F(ValidationTest, passes_undocumented_fields_of_any_type) {
  expect_pass("/api/chat", R"({"model":"m","messages":[{"role":"user","content":"a","extra":[1,{"x":2}]}],
    "my_field":{"a":[1,2]},"other":42})");
}

TEST_F(ValidationTest, accepts_whole_numbers_written_as_doubles_for_integers) {
  expect_pass("/api/generate", R"({"model":"m","options":{"num_ctx":4096.0,"seed":1e3}})");
}

// --- wrong JSON types ---------------------------------------------------------------------------

TEST_F(ValidationTest, rejects_wrong_types_of_native_fields_naming_them) {
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","prompt":42})"), R"(field "prompt": must be a string, got 42)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","stream":"yes"})"),
            R"(field "stream": must be a boolean, got a string)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":[1]})"),
            R"(field "options": must be an object, got an array)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","images":"aGk="})"),
            R"(field "images": must be an array of base64 strings, got a string)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","images":["aGk=",7]})"),
            R"(field "images[1]": must be a base64 string, got 7)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","context":[1,"a"]})"),
            R"(field "context[1]": must be an integer, got a string)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","keep_alive":true})"),
            R"(field "keep_alive": must be a duration string or a number of seconds, got a boolean)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","top_logprobs":21})"),
            R"(field "top_logprobs": 21 is not between 0 and 20)");
  EXPECT_EQ(problem("/api/generate", R"({"model":7})"), R"(field "model": must be a string, got 7)");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":{"role":"user"}})"),
            R"(field "messages": must be an array of messages, got an object)");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":["hi"]})"),
            R"(field "messages[0]": must be an object, got a string)");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","tools":{"type":"function"}})"),
            R"(field "tools": must be an array of objects, got an object)");
  EXPECT_EQ(problem("/api/embed", R"({"model":"m","input":5})"),
            R"(field "input": must be a string or an array of strings, got 5)");
  EXPECT_EQ(problem("/api/embed", R"({"model":"m","input":["a",[1]]})"),
            R"(field "input[1]": must be a string, got an array)");
  EXPECT_EQ(problem("/api/create", R"({"model":"m","files":{"a.gguf":1}})"),
            R"(field "files.a.gguf": must be a string, got 1)");
  EXPECT_EQ(problem("/api/pull", R"({"name":"m","insecure":"no"})"),
            R"(field "insecure": must be a boolean, got a string)");
}

TEST_F(ValidationTest, rejects_keep_alive_strings_that_are_not_go_durations) {
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","keep_alive":"5 minutes"})"),
            R"(field "keep_alive": "5 minutes" is not a duration (such as "5m", "1h30m" or seconds as a number))");
  expect_pass("/api/chat", R"({"model":"m","keep_alive":"-1m"})");
  expect_pass("/api/chat", R"({"model":"m","keep_alive":"300ms"})");
}

TEST_F(ValidationTest, rejects_format_other_than_json_or_a_schema_object) {
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","format":"xml"})"),
            R"(field "format": "xml" is not "json" or a JSON schema object)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","format":[1]})"),
            R"(field "format": must be "json" or a JSON schema object, got an array)");
  expect_pass("/api/generate", R"({"model":"m","format":""})");
}

TEST_F(ValidationTest, rejects_think_other_than_a_boolean_or_a_level) {
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","think":"extreme"})"),
            R"(field "think": unknown think "extreme" (low, medium, high, max))");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","think":1})"),
            R"(field "think": must be a boolean or a string, got 1)");
}

TEST_F(ValidationTest, rejects_wrong_types_of_openai_fields_under_openai_names) {
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":5})"),
            R"(field "stop": must be a string or an array of strings, got 5)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1.5})"),
            R"(field "max_tokens": must be an integer, got 1.5)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":0})"),
            R"(field "n": must be a positive integer, got 0)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"huge"})"),
            R"(field "reasoning_effort": unknown reasoning_effort "huge" (none, minimal, low, medium, high, max, xhigh, ultra))");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"x"}],
    "tools":[{"type":"function","function":{"name":"f"}},"f"]})"),
            R"(field "tools[1]": must be an object, got a string)");
  EXPECT_EQ(problem("/v1/completions", R"({"model":"m","prompt":["a","b"]})"),
            R"(field "prompt": must be a string, got an array)");
  EXPECT_EQ(problem("/v1/embeddings", R"({"model":"m","input":[[1,2]]})"),
            R"(field "input[0]": must be a string, got an array)");
  EXPECT_EQ(problem("/v1/embeddings", R"({"model":"m","input":[]})"), R"(field "input": must not be empty)");
  EXPECT_EQ(problem("/v1/embeddings", R"({"model":"m","input":"a","encoding_format":"int8"})"),
            R"(field "encoding_format": unknown encoding_format "int8" (float, base64))");
}

TEST_F(ValidationTest, rejects_native_stop_given_as_one_string_as_ollama_does) {
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"stop":"\n"}})"),
            R"(field "options.stop": must be an array of strings, got a string)");
}

// --- messages -----------------------------------------------------------------------------------

TEST_F(ValidationTest, rejects_unknown_roles_listing_the_known_ones) {
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":[{"role":"system","content":"a"},
    {"role":"user","content":"b"},{"role":"robot","content":"c"}]})"),
            R"(field "messages[2].role": unknown role "robot" (system, user, assistant, tool))");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":[{"role":"developer","content":"a"}]})"),
            R"(field "messages[0].role": unknown role "developer" (system, user, assistant, tool))");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"robot","content":"a"}]})"),
            R"(field "messages[0].role": unknown role "robot" (system, user, assistant, tool, developer, function))");
}

TEST_F(ValidationTest, rejects_messages_without_a_role) {
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":[{"content":"a"}]})"),
            R"(field "messages[0].role": missing)");
}

TEST_F(ValidationTest, rejects_empty_or_missing_openai_messages) {
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[]})"), R"(field "messages": must not be empty)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m"})"), R"(field "messages": missing)");
}

TEST_F(ValidationTest, rejects_native_content_that_is_not_a_string) {
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]})"),
            R"(field "messages[0].content": must be a string, got an array)");
}

TEST_F(ValidationTest, rejects_openai_content_that_is_neither_text_nor_parts) {
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":5}]})"),
            R"(field "messages[0].content": must be a string or an array of content parts, got 5)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":[{"type":"audio"}]}]})"),
            R"(field "messages[0].content[0].type": unknown type "audio" (text, image_url, input_audio))");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":[{"text":"a"}]}]})"),
            R"(field "messages[0].content[0].type": missing)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]})"),
            R"(field "messages[0].content[0].text": missing)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})"),
            R"(field "messages[0].content[0].image_url": missing)");
}

TEST_F(ValidationTest, allows_openai_null_content_only_with_tool_calls) {
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"assistant","content":null}]})"),
            R"(field "messages[0].content": missing (only an assistant message with tool_calls may omit it))");
  expect_pass("/v1/chat/completions", R"({"model":"m","messages":[{"role":"assistant","tool_calls":[
    {"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]})");
}

TEST_F(ValidationTest, rejects_tool_call_arguments_of_the_other_apis_type) {
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":[{"role":"assistant","content":"",
    "tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}]})"),
            R"(field "messages[0].tool_calls[0].function.arguments": must be an object, got a string)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"assistant",
    "tool_calls":[{"function":{"name":"f","arguments":{}}}]}]})"),
            R"(field "messages[0].tool_calls[0].function.arguments": must be a string, got an object)");
}

TEST_F(ValidationTest, rejects_more_messages_than_the_limit) {
  configure(R"({"max_messages": 2})");
  expect_pass("/api/chat", R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]})");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":[{"role":"user","content":"a"},
    {"role":"user","content":"b"},{"role":"user","content":"c"}]})"),
            R"(field "messages": 3 messages is over the limit of 2)");
}

// --- images -------------------------------------------------------------------------------------

TEST_F(ValidationTest, rejects_native_images_that_are_not_base64) {
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","images":["not base64!"]})"),
            R"(field "images[0]": not valid base64)");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":[{"role":"user","content":"a","images":["aGk=","data:image/png;base64,aGk="]}]})"),
            R"(field "messages[0].images[1]": not valid base64)");
}

TEST_F(ValidationTest, rejects_openai_image_urls_that_are_bad_data_urls) {
  auto with_url = [](std::string_view url) {
    return R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":")" +
           std::string(url) + R"("}}]}]})";
  };
  EXPECT_EQ(problem("/v1/chat/completions", with_url("data:image/png;base64,@@@@")),
            R"(field "messages[0].content[0].image_url.url": not valid base64)");
  EXPECT_EQ(problem("/v1/chat/completions", with_url("ftp://example.com/a.png")),
            R"(field "messages[0].content[0].image_url.url": must be a data:image/...;base64,... URL or an http(s) URL)");
  EXPECT_NE(problem("/v1/chat/completions", with_url("data:text/plain;base64,aGk=")), "");
  expect_pass("/v1/chat/completions", with_url("data:;base64,aGk="));
  expect_pass("/v1/chat/completions", with_url("http://example.com/a.png"));
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":[
    {"type":"image_url","image_url":"data:image/jpeg;base64,a"}]}]})"),
            R"(field "messages[0].content[0].image_url": not valid base64)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":[
    {"type":"input_audio","input_audio":{"data":"%%","format":"wav"}}]}]})"),
            R"(field "messages[0].content[0].input_audio.data": not valid base64)");
}

TEST_F(ValidationTest, recognises_base64_as_gos_standard_decoder_does) {
  for (std::string_view ok : {"", "aGk=", "aGVsbG8=", "YQ==", "YWJj", "aGVs\r\nbG8=", "+/+/"})
    EXPECT_TRUE(is_base64(ok)) << ok;
  for (std::string_view bad : {"a", "aGk", "YQ=", "Y===", "aG=k", "a-_b", "aGk= ", "aGk=aGk="})
    EXPECT_FALSE(is_base64(bad)) << bad;
}

TEST_F(ValidationTest, recognises_go_durations) {
  for (std::string_view ok : {"0", "5m", "1h30m", "300ms", "-1s", "+2h", "1.5h", ".5s", "1.s", "10us", "3\xC2\xB5s"})
    EXPECT_TRUE(is_go_duration(ok)) << ok;
  for (std::string_view bad : {"", "5", "m", "-", "1d", "5 m", "1h30", ".s", "-0x"})
    EXPECT_FALSE(is_go_duration(bad)) << bad;
}

// --- option ranges ------------------------------------------------------------------------------

TEST_F(ValidationTest, rejects_native_options_out_of_the_default_ranges) {
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"temperature":3.5}})"),
            R"(field "options.temperature": 3.5 is above the maximum 2)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"num_ctx":0}})"),
            R"(field "options.num_ctx": 0 is below the minimum 1)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"num_predict":-3}})"),
            R"(field "options.num_predict": -3 is below the minimum -2)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"top_p":1.01}})"),
            R"(field "options.top_p": 1.01 is above the maximum 1)");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","options":{"presence_penalty":-2.5}})"),
            R"(field "options.presence_penalty": -2.5 is below the minimum -2)");
}

TEST_F(ValidationTest, rejects_fractions_and_strings_for_integer_options) {
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"num_ctx":0.5}})"),
            R"(field "options.num_ctx": must be an integer, got 0.5)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"seed":"42"}})"),
            R"(field "options.seed": must be an integer, got a string)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"temperature":"hot"}})"),
            R"(field "options.temperature": must be a number, got a string)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"num_gpu":1.5}})"),
            R"(field "options.num_gpu": must be an integer, got 1.5)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"use_mmap":"true"}})"),
            R"(field "options.use_mmap": must be a boolean, got a string)");
}

TEST_F(ValidationTest, holds_options_to_configured_ranges_and_null_lifts_a_bound) {
  configure(R"({"options":{"temperature":{"max":1},"num_ctx":{"max":8192},"stop":{"max":2}}})");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"temperature":1.5}})"),
            R"(field "options.temperature": 1.5 is above the maximum 1)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"num_ctx":0}})"),
            R"(field "options.num_ctx": 0 is below the minimum 1)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","options":{"stop":["a","b","c"]}})"),
            R"(field "options.stop": 3 stop sequences is above the maximum 2)");
  configure(R"({"options":{"temperature":{"max":null}}})");
  expect_pass("/api/generate", R"({"model":"m","options":{"temperature":3.5}})");
}

TEST_F(ValidationTest, holds_openai_fields_to_the_matching_option_ranges) {
  configure(R"({"options":{"num_predict":{"max":100},"stop":{"max":1}}})");
  const std::string head = R"({"model":"m","messages":[{"role":"user","content":"x"}],)";
  EXPECT_EQ(problem("/v1/chat/completions", head + R"("temperature":2.5})"),
            R"(field "temperature": 2.5 is above the maximum 2)");
  EXPECT_EQ(problem("/v1/chat/completions", head + R"("top_p":1.5})"), R"(field "top_p": 1.5 is above the maximum 1)");
  EXPECT_EQ(problem("/v1/chat/completions", head + R"("max_tokens":200})"),
            R"(field "max_tokens": 200 is above the maximum 100)");
  EXPECT_EQ(problem("/v1/chat/completions", head + R"("max_completion_tokens":101})"),
            R"(field "max_completion_tokens": 101 is above the maximum 100)");
  EXPECT_EQ(problem("/v1/chat/completions", head + R"("presence_penalty":-3})"),
            R"(field "presence_penalty": -3 is below the minimum -2)");
  EXPECT_EQ(problem("/v1/chat/completions", head + R"("frequency_penalty":2.1})"),
            R"(field "frequency_penalty": 2.1 is above the maximum 2)");
  EXPECT_EQ(problem("/v1/chat/completions", head + R"("seed":0.5})"), R"(field "seed": must be an integer, got 0.5)");
  EXPECT_EQ(problem("/v1/completions", R"({"model":"m","prompt":"x","stop":["a","b"]})"),
            R"(field "stop": 2 stop sequences is above the maximum 1)");
  expect_pass("/v1/completions", R"({"model":"m","prompt":"x","stop":"a","max_tokens":100})");
}

// --- prompt size --------------------------------------------------------------------------------

TEST_F(ValidationTest, rejects_a_prompt_over_the_byte_limit) {
  configure(R"({"max_prompt_bytes": 32768})");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","prompt":")" + repeat('a', 40213) + R"("})"),
            R"(field "prompt": 40213 bytes is over the limit of 32768)");
  expect_pass("/api/generate", R"({"model":"m","prompt":")" + repeat('a', 32768) + R"("})");
}

TEST_F(ValidationTest, counts_system_suffix_and_every_message_toward_the_prompt) {
  configure(R"({"max_prompt_bytes": 10})");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","system":"12345","prompt":"123","suffix":"123"})"),
            R"(field "suffix": brings the prompt to 11 bytes, over the limit of 10)");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":[{"role":"user","content":"123456"},
    {"role":"assistant","content":"12345"}]})"),
            R"(field "messages[1].content": brings the prompt to 11 bytes, over the limit of 10)");
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":[
    {"type":"text","text":"123456"},{"type":"text","text":"12345"}]}]})"),
            R"(field "messages[0].content[1].text": brings the prompt to 11 bytes, over the limit of 10)");
  EXPECT_EQ(problem("/api/embed", R"({"model":"m","input":["123456","12345"]})"),
            R"(field "input[1]": brings the prompt to 11 bytes, over the limit of 10)");
  // Model management carries no prompt.
  expect_pass("/api/create", R"({"model":"m","from":"x","system":"123456789012"})");
}

TEST_F(ValidationTest, rejects_a_prompt_over_the_token_estimate_of_bytes_over_four) {
  configure(R"({"max_prompt_tokens": 10})");
  expect_pass("/api/generate", R"({"model":"m","prompt":")" + repeat('a', 40) + R"("})");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","prompt":")" + repeat('a', 41) + R"("})"),
            R"(field "prompt": about 11 tokens is over the limit of 10 (estimated as bytes / 4))");
}

// --- model names, nesting, body size ------------------------------------------------------------

TEST_F(ValidationTest, rejects_malformed_model_names_in_every_name_field) {
  EXPECT_EQ(problem("/api/chat", R"({"model":"bad name!","messages":[]})"),
            R"(field "model": "bad name!" is not a valid model name)");
  EXPECT_EQ(problem("/api/pull", R"({"name":"-x"})"), R"(field "name": "-x" is not a valid model name)");
  EXPECT_EQ(problem("/api/copy", R"({"source":"a","destination":"b//c"})"),
            R"(field "destination": "b//c" is not a valid model name)");
  EXPECT_EQ(problem("/api/create", R"({"model":"a","from":""})"), R"(field "from": "" is not a valid model name)");
  EXPECT_EQ(problem("/v1/embeddings", R"({"model":"a b","input":"x"})"), R"(field "model": "a b" is not a valid model name)");
}

TEST_F(ValidationTest, cuts_long_echoed_values_short) {
  auto message = problem("/api/chat", R"({"model":")" + repeat('!', 300) + R"("})");
  EXPECT_EQ(message, R"(field "model": ")" + repeat('!', 40) + R"(..." is not a valid model name)");
}

TEST_F(ValidationTest, rejects_json_nested_deeper_than_the_limit_anywhere) {
  // The body is level 1, so a top-level value may nest 63 more.
  expect_pass("/api/generate", R"({"model":"m","format":{"a":)" + nested_arrays(62) + "}}");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","format":{"a":)" + nested_arrays(63) + "}}"),
            R"(field "format": JSON nested deeper than 64 levels)");
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","unknown":)" + nested_arrays(64) + "}"),
            R"(field "unknown": JSON nested deeper than 64 levels)");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","tools":[{"function":{"parameters":)" + nested_arrays(70) + "}}]}"),
            R"(field "tools[0].function": JSON nested deeper than 64 levels)");
}

TEST_F(ValidationTest, counts_documented_containers_toward_the_nesting_limit) {
  configure(R"({"max_json_depth": 4})");
  // body 1, messages 2, message 3, content 4, part 5.
  EXPECT_EQ(problem("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]})"),
            R"(field "messages[0].content[0]": JSON nested deeper than 4 levels)");
  expect_pass("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"a"}]})");
  EXPECT_EQ(problem("/api/chat", R"({"model":"m","messages":[{"role":"user","content":"a","x":{"y":[1]}}]})"),
            R"(field "messages[0].x": JSON nested deeper than 4 levels)");
}

TEST_F(ValidationTest, answers_413_for_a_body_over_the_size_limit) {
  configure(R"({"max_body_bytes": 1000})");
  auto v = send("/api/generate", R"({"model":"m","prompt":"x"})", 1001);
  EXPECT_EQ(v.status, 413u);
  EXPECT_EQ(v.message, "request body: 1001 bytes is over the limit of 1000");
  EXPECT_EQ(ctx_.decisions, "validation:reject:body");
  EXPECT_FALSE(send("/api/generate", R"({"model":"m","prompt":"x"})", 1000).rejected());
}

TEST_F(ValidationTest, reports_the_first_violation_in_the_bodys_order) {
  EXPECT_EQ(problem("/api/generate", R"({"model":"m","stream":1,"prompt":2})"),
            R"(field "stream": must be a boolean, got 1)");
}

// --- per-model caps -----------------------------------------------------------------------------

TEST_F(ValidationTest, applies_a_models_caps_over_the_policys_by_normalized_name) {
  configure(R"({"max_prompt_tokens": 100, "options": {"num_ctx": {"max": 65536}},
                "models": {"Llama3.2": {"max_prompt_tokens": 2, "options": {"num_ctx": {"max": 8192}}}}})");
  const std::string prompt = R"("prompt":"123456789")";
  for (std::string_view name : {"llama3.2", "LLAMA3.2:latest", "llama3.2:Latest"})
    EXPECT_EQ(problem("/api/generate", R"({"model":")" + std::string(name) + R"(",)" + prompt + "}"),
              R"(field "prompt": about 3 tokens is over the limit of 2 (estimated as bytes / 4))")
        << name;
  expect_pass("/api/generate", R"({"model":"llama3.2:1b",)" + prompt + "}");
  expect_pass("/api/generate", R"({"model":"llama3",)" + prompt + "}");
  EXPECT_EQ(problem("/api/generate", R"({"model":"llama3.2","options":{"num_ctx":16384}})"),
            R"(field "options.num_ctx": 16384 is above the maximum 8192)");
  // The policy's own minimum still holds for the model.
  EXPECT_EQ(problem("/api/generate", R"({"model":"llama3.2","options":{"num_ctx":0}})"),
            R"(field "options.num_ctx": 0 is below the minimum 1)");
  expect_pass("/api/generate", R"({"model":"other","options":{"num_ctx":16384}})");
  EXPECT_EQ(problem("/v1/completions", R"({"model":"llama3.2",)" + prompt + "}"),
            R"(field "prompt": about 3 tokens is over the limit of 2 (estimated as bytes / 4))");
}

TEST_F(ValidationTest, finds_a_models_caps_by_name_when_model_is_absent) {
  configure(R"({"models": {"big": {"max_body_bytes": 10}}})");
  EXPECT_EQ(send("/api/pull", R"({"name":"big","stream":true})", 11).status, 413u);
  EXPECT_FALSE(send("/api/pull", R"({"name":"small","stream":true})", 11).rejected());
}

// --- configuration ------------------------------------------------------------------------------

TEST_F(ValidationTest, builds_from_every_documented_option) {
  EXPECT_EQ(config_problem(R"({"max_json_depth":32,"max_body_bytes":1e6,"max_prompt_bytes":18446744073709551615,
    "max_prompt_tokens":8192,"max_messages":10,
    "options":{"num_ctx":{"min":1,"max":8192},"num_predict":{"min":-2},"temperature":{"min":0,"max":1.5},
               "top_p":{"max":1},"top_k":{"min":0,"max":100},"min_p":{},"repeat_penalty":{"max":2},
               "repeat_last_n":{"max":4096},"presence_penalty":{"min":-1},"frequency_penalty":{"max":1},
               "num_batch":{"max":2048},"num_keep":{"max":null},"seed":{"min":0},"stop":{"max":4}},
    "models":{"llama3.2":{"max_prompt_tokens":4096},"user/model:7b":{"options":{"temperature":{"max":1}}}}})"),
            "");
}

TEST_F(ValidationTest, rejects_unknown_options_naming_their_path) {
  EXPECT_EQ(config_problem(R"({"max_promt_bytes": 5})").rfind(R"(unknown option "max_promt_bytes" ()", 0), 0u);
  EXPECT_EQ(config_problem(R"({"options": {"temprature": {"max": 1}}})").rfind(R"(unknown option "options.temprature" (num_ctx, )", 0), 0u);
  EXPECT_EQ(config_problem(R"({"options": {"top_p": {"maximum": 1}}})"), R"(unknown option "options.top_p.maximum" (min, max))");
  EXPECT_EQ(config_problem(R"({"models": {"m": {"models": {}}}})").rfind(R"(unknown option "models.m.models" ()", 0), 0u);
}

TEST_F(ValidationTest, rejects_bad_bounds_naming_their_path) {
  EXPECT_EQ(config_problem(R"({"options": {"temperature": {"max": "high"}}})"), "options.temperature.max: must be a number");
  EXPECT_EQ(config_problem(R"({"options": {"num_ctx": {"max": 1.5}}})"), "options.num_ctx.max: must be an integer");
  EXPECT_EQ(config_problem(R"({"options": {"top_p": {"min": 2}}})"), "options.top_p: min 2 is above max 1");
  EXPECT_EQ(config_problem(R"({"options": {"temperature": 2}})"), "options.temperature: must be a mapping");
  EXPECT_EQ(config_problem(R"({"models": {"m": {"options": {"num_ctx": {"max": 0}}}}})"),
            "models.m.options.num_ctx: min 1 is above max 0");
}

TEST_F(ValidationTest, rejects_limits_that_are_not_positive_whole_numbers) {
  EXPECT_EQ(config_problem(R"({"max_messages": 0})"), "max_messages: must be a whole number >= 1");
  EXPECT_EQ(config_problem(R"({"max_prompt_bytes": "1MiB"})"), "max_prompt_bytes: must be a whole number >= 1");
  EXPECT_EQ(config_problem(R"({"max_prompt_tokens": 2.5})"), "max_prompt_tokens: must be a whole number >= 1");
  EXPECT_EQ(config_problem(R"({"max_json_depth": 5000})"), "max_json_depth: must be at most 1024");
}

TEST_F(ValidationTest, rejects_model_entries_with_bad_or_repeated_names) {
  EXPECT_EQ(config_problem(R"({"models": {"bad name": {}}})"), "models.bad name: not a valid model name");
  EXPECT_EQ(config_problem(R"({"models": {"Llama3": {}, "llama3:latest": {}}})"),
            "models.llama3:latest: the same model as another entry (llama3:latest)");
  EXPECT_EQ(config_problem(R"({"models": [1]})"), "models: must be a mapping");
  EXPECT_EQ(config_problem(R"({"models": {"m": 5}})"), "models.m: must be a mapping");
}

}  // namespace
}  // namespace corral
