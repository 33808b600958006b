// A management request translated into Ollama's (plan_inference, gateway/management_inference.cpp):
// the text sent to the backend, read back here as JSON.
#include "gateway/management_inference.hpp"
#include "gateway/preset_store.hpp"
#include "gateway/presets.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>

namespace corral {
namespace {

namespace json = boost::json;

class inference_plan_test : public ::testing::Test {
 protected:
  inference_plan_test() {
    presets_.all = builtin_presets();
    preset tmpl;
    tmpl.name = "explain";
    tmpl.model = "llama2";
    tmpl.system_prompt = "Be a teacher.";
    tmpl.template_text = "Explain {{topic}}: {{prompt}}";
    tmpl.options = {{"seed", 7}, {"temperature", 1.5}};
    tmpl.temperature = 0.3;  // wins over the same key among its options
    presets_.all.push_back(tmpl);
    std::sort(presets_.all.begin(), presets_.all.end(), [](const preset& a, const preset& b) { return a.name < b.name; });
    cfg_.default_model = "mistral";
  }
  // The translated request, parsed back (the test fails when it is not JSON).
  json::object sent(inference_kind kind, std::string_view request, bool stream = false) {
    auto plan = plan_inference(kind, stream, json::parse(request).as_object(), presets_, cfg_);
    EXPECT_EQ(plan.status, 0u) << plan.error;
    boost::system::error_code ec;
    auto v = json::parse(plan.body, ec);
    EXPECT_FALSE(ec) << plan.body;
    return ec || !v.is_object() ? json::object{} : v.as_object();
  }
  inference_plan refused(inference_kind kind, std::string_view request) {
    return plan_inference(kind, false, json::parse(request).as_object(), presets_, cfg_);
  }
  preset_set presets_;
  ollama_config cfg_;
};

TEST_F(inference_plan_test, a_generate_request_by_preset_carries_its_model_system_prompt_and_sampling) {
  auto o = sent(inference_kind::generate, R"({"preset":"general","prompt":"Why?","keep_alive":"5m"})");
  EXPECT_EQ(o.at("model").as_string(), "llama2");
  EXPECT_EQ(o.at("prompt").as_string(), "Why?");
  EXPECT_EQ(o.at("system").as_string(), presets_.find("general")->system_prompt);
  EXPECT_EQ(o.at("options").at("temperature").as_double(), 0.7);
  EXPECT_EQ(o.at("keep_alive").as_string(), "5m");
  EXPECT_FALSE(o.at("stream").as_bool());
}

TEST_F(inference_plan_test, what_the_request_sets_wins_over_the_preset) {
  auto o = sent(inference_kind::generate,
                R"({"preset":"general","model":"mistral","system":"Mine.","prompt":"p","temperature":0.1,)"
                R"("top_p":0.5,"max_tokens":9,"options":{"temperature":1.9,"num_ctx":4096,"seed":null}})",
                true);
  EXPECT_EQ(o.at("model").as_string(), "mistral");
  EXPECT_EQ(o.at("system").as_string(), "Mine.");
  auto& opts = o.at("options").as_object();
  EXPECT_EQ(opts.at("temperature").as_double(), 0.1) << "the field wins over the same option";
  EXPECT_EQ(opts.at("top_p").as_double(), 0.5);
  EXPECT_EQ(opts.at("num_predict").as_int64(), 9);
  EXPECT_EQ(opts.at("num_ctx").as_int64(), 4096);
  EXPECT_FALSE(opts.contains("seed")) << "a null option is left out";
  EXPECT_EQ(opts.size(), 4u) << json::serialize(opts);
  EXPECT_TRUE(o.at("stream").as_bool());
}

TEST_F(inference_plan_test, the_presets_own_fields_win_over_its_options_and_fill_only_what_is_unset) {
  auto o = sent(inference_kind::generate, R"({"preset":"explain","prompt":"now","variables":{"topic":"DNS"},)"
                                          R"("options":{"seed":1}})");
  EXPECT_EQ(o.at("prompt").as_string(), "Explain DNS: now");
  EXPECT_EQ(o.at("options").at("temperature").as_double(), 0.3);
  EXPECT_EQ(o.at("options").at("seed").as_int64(), 1) << "the request's seed stays";
}

TEST_F(inference_plan_test, a_chat_gets_the_system_message_first_and_the_template_shapes_the_last_user_message) {
  auto o = sent(inference_kind::chat, R"({"preset":"explain","variables":{"topic":"TLS"},"messages":[)"
                                      R"({"role":"user","content":"first","images":["aGk="]},)"
                                      R"({"role":"assistant","content":"ok"},)"
                                      R"({"role":"user","content":"second","x-\"odd\"":1}]})");
  auto& m = o.at("messages").as_array();
  ASSERT_EQ(m.size(), 4u) << json::serialize(m);
  EXPECT_EQ(m[0].at("role").as_string(), "system");
  EXPECT_EQ(m[0].at("content").as_string(), "Be a teacher.");
  EXPECT_EQ(m[1].at("content").as_string(), "first");
  EXPECT_EQ(m[1].at("images").at(0).as_string(), "aGk=");
  EXPECT_EQ(m[3].at("content").as_string(), "Explain TLS: second");
  EXPECT_EQ(m[3].at("x-\"odd\"").as_int64(), 1) << "a client's member names are escaped";
  EXPECT_EQ(o.at("options").at("seed").as_int64(), 7);
}

TEST_F(inference_plan_test, a_chat_prompt_is_the_last_message_and_a_system_message_given_is_kept) {
  auto o = sent(inference_kind::chat, R"({"preset":"general","prompt":"and now?","messages":[)"
                                      R"({"role":"system","content":"Mine."},{"role":"user","content":"hi"}]})");
  auto& m = o.at("messages").as_array();
  ASSERT_EQ(m.size(), 3u) << json::serialize(m);
  EXPECT_EQ(m[0].at("content").as_string(), "Mine.");
  EXPECT_EQ(m[2].at("role").as_string(), "user");
  EXPECT_EQ(m[2].at("content").as_string(), "and now?");
}

TEST_F(inference_plan_test, embeddings_take_the_input_and_only_the_presets_free_options) {
  auto o = sent(inference_kind::embeddings, R"({"preset":"explain","input":["a","b"],"truncate":false})");
  EXPECT_EQ(o.at("input").as_array().size(), 2u);
  EXPECT_FALSE(o.at("truncate").as_bool());
  EXPECT_EQ(o.at("options").at("seed").as_int64(), 7);
  EXPECT_EQ(o.at("options").at("temperature").as_double(), 1.5) << "no sampling fields on embeddings";
  EXPECT_FALSE(o.contains("stream"));
  auto plain = sent(inference_kind::embeddings, R"({"model":"nomic-embed-text","prompt":"one"})");
  EXPECT_EQ(plain.at("input").as_string(), "one");
  EXPECT_FALSE(plain.contains("options"));
}

TEST_F(inference_plan_test, the_model_is_the_requests_the_presets_or_the_configured_default) {
  EXPECT_EQ(sent(inference_kind::generate, R"({"prompt":"p"})").at("model").as_string(), "mistral");
  EXPECT_EQ(sent(inference_kind::generate, R"({"model":"@coding","prompt":"p"})").at("model").as_string(), "codellama");
  auto plan = plan_inference(inference_kind::generate, false, json::parse(R"({"preset":"coding","prompt":"p"})").as_object(),
                             presets_, cfg_);
  EXPECT_EQ(plan.model, "codellama:latest");
  EXPECT_EQ(plan.preset, "coding");
  EXPECT_EQ(plan.api_route, "/api/generate");
}

TEST_F(inference_plan_test, refusals_name_the_problem) {
  EXPECT_EQ(refused(inference_kind::generate, R"({"preset":"nope","prompt":"p"})").status, 404u);
  auto missing = refused(inference_kind::generate, R"({"preset":"explain","prompt":"p"})");
  EXPECT_EQ(missing.status, 400u);
  EXPECT_NE(missing.error.find("topic"), std::string::npos) << missing.error;
  EXPECT_TRUE(missing.body.empty());
  EXPECT_EQ(refused(inference_kind::chat, R"({"model":"llama2"})").status, 400u);
  EXPECT_EQ(refused(inference_kind::generate, R"({"model":"llama2","prompt":"p","top_p":2})").status, 400u);
  EXPECT_EQ(refused(inference_kind::generate, R"({"model":"bad name!","prompt":"p"})").status, 400u);
}

}  // namespace
}  // namespace corral
