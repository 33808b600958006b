#include "gateway/preset_store.hpp"
#include "gateway/presets.hpp"

#include "gateway/core/model_name.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace corral {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

preset parse_ok(std::string_view text, std::string_view path_name = "") {
  auto parsed = parse_preset(json::parse(text), path_name);
  EXPECT_TRUE(parsed.ok()) << parsed.error << "\nfor: " << text;
  return parsed.value;
}

std::string parse_error(std::string_view text, std::string_view path_name = "") {
  auto parsed = parse_preset(json::parse(text), path_name);
  EXPECT_FALSE(parsed.ok()) << "accepted: " << text;
  return parsed.error;
}

preset make(std::string name, std::string model = "llama2") {
  preset p;
  p.name = std::move(name);
  p.model = std::move(model);
  return p;
}

// A preset with every field set.
preset full_preset() {
  preset p = make("review", "codellama:7b");
  p.temperature = 0.1;
  p.max_tokens = 256;
  p.top_p = 0.9;
  p.system_prompt = "You review code.";
  p.description = "Code review";
  p.template_text = "Review this {{language}} code:\n{{prompt}}";
  p.options = json::parse(R"({"num_ctx":4096,"seed":42,"stop":["###"]})").as_object();
  return p;
}

// ---------------------------------------------------------------------------------------------
// Names

TEST(PresetNames, valid_preset_name_follows_the_pattern) {
  for (std::string_view ok : {"a", "coding", "0day", "my.preset-1_b", "x-"})
    EXPECT_TRUE(valid_preset_name(ok)) << ok;
  EXPECT_TRUE(valid_preset_name(std::string(64, 'a')));
  for (std::string_view bad : {"", "Coding", "-x", ".x", "_x", "a b", "a/b", "a@b", "a:b", "é"})
    EXPECT_FALSE(valid_preset_name(bad)) << bad;
  EXPECT_FALSE(valid_preset_name(std::string(65, 'a')));
}

TEST(PresetNames, virtual_model_names_are_the_preset_name_after_an_at_sign) {
  EXPECT_EQ(virtual_model_name("coding"), "@coding");
  ASSERT_TRUE(preset_of_model_name("@coding"));
  EXPECT_EQ(*preset_of_model_name("@coding"), "coding");
  // Whatever follows '@' is handed back, so the caller can answer "unknown preset".
  EXPECT_EQ(*preset_of_model_name("@Nope"), "Nope");
  EXPECT_FALSE(preset_of_model_name("coding"));
  EXPECT_FALSE(preset_of_model_name("llama2:latest"));
  EXPECT_FALSE(preset_of_model_name(""));
  EXPECT_FALSE(preset_of_model_name("ns/model@x"));
}

TEST(PresetNames, a_virtual_name_is_never_a_real_model_name) {
  for (const auto& p : builtin_presets()) {
    EXPECT_FALSE(is_valid_model_name(virtual_model_name(p.name))) << p.name;
    EXPECT_EQ(preset_of_model_name(virtual_model_name(p.name)).value_or(""), p.name);
  }
}

// ---------------------------------------------------------------------------------------------
// Built-ins

TEST(PresetBuiltins, the_four_built_ins_have_their_models_and_temperatures) {
  const auto& all = builtin_presets();
  ASSERT_EQ(all.size(), 4u);
  struct expected { std::string_view name, model; double temperature; };
  for (auto e : {expected{"general", "llama2", 0.7}, expected{"coding", "codellama", 0.1},
                 expected{"security", "llama2", 0.2}, expected{"creative", "mistral", 0.9}}) {
    auto it = std::find_if(all.begin(), all.end(), [&](const preset& p) { return p.name == e.name; });
    ASSERT_NE(it, all.end()) << e.name;
    EXPECT_EQ(it->model, e.model);
    EXPECT_EQ(it->temperature, e.temperature);
    EXPECT_TRUE(it->builtin);
    EXPECT_TRUE(it->read_only);
    EXPECT_GT(it->system_prompt.size(), 100u) << e.name;
    EXPECT_FALSE(it->description.empty()) << e.name;
    // Each is a preset the API itself would accept.
    auto parsed = parse_preset(to_json(*it), "");
    EXPECT_TRUE(parsed.ok()) << parsed.error;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing

TEST(PresetParse, a_minimal_document_needs_only_name_and_model) {
  auto p = parse_ok(R"({"name":"mine","model":"llama2"})");
  EXPECT_EQ(p.name, "mine");
  EXPECT_EQ(p.model, "llama2");
  EXPECT_FALSE(p.temperature);
  EXPECT_FALSE(p.max_tokens);
  EXPECT_FALSE(p.top_p);
  EXPECT_TRUE(p.system_prompt.empty());
  EXPECT_TRUE(p.template_text.empty());
  EXPECT_TRUE(p.options.empty());
}

TEST(PresetParse, every_field_is_read) {
  auto p = parse_ok(R"({"name":"review","model":"codellama:7b","temperature":0.1,"max_tokens":256,
    "top_p":0.9,"system_prompt":"sys","description":"desc","template":"Go: {{prompt}}",
    "options":{"num_ctx":4096,"stop":["a","b"],"mirostat":true}})");
  EXPECT_EQ(p.model, "codellama:7b");
  EXPECT_EQ(p.temperature, 0.1);
  EXPECT_EQ(p.max_tokens, 256);
  EXPECT_EQ(p.top_p, 0.9);
  EXPECT_EQ(p.system_prompt, "sys");
  EXPECT_EQ(p.description, "desc");
  EXPECT_EQ(p.template_text, "Go: {{prompt}}");
  EXPECT_EQ(json::serialize(p.options), R"({"num_ctx":4096,"stop":["a","b"],"mirostat":true})");
}

TEST(PresetParse, null_stands_for_an_absent_optional_field) {
  auto p = parse_ok(R"({"name":"n","model":"llama2","temperature":null,"max_tokens":null,"top_p":null,
    "system_prompt":null,"description":null,"template":null,"options":null})");
  EXPECT_FALSE(p.temperature);
  EXPECT_FALSE(p.max_tokens);
  EXPECT_FALSE(p.top_p);
}

TEST(PresetParse, an_unknown_field_is_named) {
  auto error = parse_error(R"({"name":"n","model":"llama2","temprature":0.5})");
  EXPECT_NE(error.find("unknown field \"temprature\""), std::string::npos) << error;
}

TEST(PresetParse, builtin_and_read_only_are_accepted_and_ignored) {
  auto p = parse_ok(R"({"name":"n","model":"llama2","builtin":true,"read_only":true})");
  EXPECT_FALSE(p.builtin);
  EXPECT_FALSE(p.read_only);
}

TEST(PresetParse, a_document_that_is_not_an_object_is_refused) {
  EXPECT_NE(parse_error("[1]").find("JSON object"), std::string::npos);
}

TEST(PresetParse, wrong_types_name_the_field) {
  struct wrong { std::string_view doc, field; };
  for (auto w : {
           wrong{R"({"name":5,"model":"llama2"})", "\"name\" must be a string"},
           wrong{R"({"name":"n","model":7})", "\"model\" must be a string"},
           wrong{R"({"name":"n","model":"llama2","temperature":"hot"})", "\"temperature\" must be a number"},
           wrong{R"({"name":"n","model":"llama2","max_tokens":"many"})", "\"max_tokens\" must be an integer"},
           wrong{R"({"name":"n","model":"llama2","top_p":true})", "\"top_p\" must be a number"},
           wrong{R"({"name":"n","model":"llama2","system_prompt":5})", "\"system_prompt\" must be a string"},
           wrong{R"({"name":"n","model":"llama2","description":[]})", "\"description\" must be a string"},
           wrong{R"({"name":"n","model":"llama2","template":{}})", "\"template\" must be a string"},
           wrong{R"({"name":"n","model":"llama2","options":"fast"})", "\"options\" must be an object"},
           wrong{R"({"name":"n","model":"llama2","options":{"stop":{"a":1}}})", "\"options.stop\" must be"},
           wrong{R"({"name":"n","model":"llama2","options":{"stop":[["a"]]}})", "\"options.stop\" must be"},
           wrong{R"({"name":"n","model":"llama2","options":{"seed":null}})", "\"options.seed\" must be"},
           wrong{R"({"name":"n","model":"llama2","options":{"":1}})", "\"options\" has an empty key"},
       }) {
    auto error = parse_error(w.doc);
    EXPECT_NE(error.find(w.field), std::string::npos) << error << "\nfor: " << w.doc;
  }
}

TEST(PresetParse, options_that_have_their_own_field_point_to_it) {
  EXPECT_NE(parse_error(R"({"name":"n","model":"llama2","options":{"temperature":1}})")
                .find("\"options.temperature\": set the preset's \"temperature\" field"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"name":"n","model":"llama2","options":{"num_predict":5}})")
                .find("\"max_tokens\""),
            std::string::npos);
}

TEST(PresetParse, out_of_range_values_name_the_field_and_the_range) {
  EXPECT_EQ(parse_error(R"({"name":"n","model":"llama2","temperature":2.5})"),
            "\"temperature\" must be a number from 0 to 2, got 2.5");
  EXPECT_EQ(parse_error(R"({"name":"n","model":"llama2","top_p":1.01})"),
            "\"top_p\" must be a number from 0 to 1, got 1.01");
  EXPECT_EQ(parse_error(R"({"name":"n","model":"llama2","max_tokens":0})"),
            "\"max_tokens\" must be an integer from 1 to 1000000, got 0");
  EXPECT_NE(parse_error(R"({"name":"n","model":"llama2","temperature":-0.1})").find("\"temperature\""),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"name":"n","model":"llama2","max_tokens":1000001})").find("\"max_tokens\""),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"name":"n","model":"llama2","max_tokens":1.5})").find("\"max_tokens\""),
            std::string::npos);
}

TEST(PresetParse, range_bounds_are_inclusive) {
  auto low = parse_ok(R"({"name":"n","model":"llama2","temperature":0,"top_p":0,"max_tokens":1})");
  EXPECT_EQ(low.temperature, 0.0);
  EXPECT_EQ(low.top_p, 0.0);
  EXPECT_EQ(low.max_tokens, 1);
  auto high = parse_ok(R"({"name":"n","model":"llama2","temperature":2,"top_p":1,"max_tokens":1000000})");
  EXPECT_EQ(high.temperature, 2.0);
  EXPECT_EQ(high.max_tokens, 1'000'000);
}

TEST(PresetParse, texts_have_a_size_limit) {
  auto doc = [](std::string_view field, std::size_t size) {
    json::object o{{"name", "n"}, {"model", "llama2"}};
    o[field] = std::string(size, 'x');
    return json::value(std::move(o));
  };
  EXPECT_TRUE(parse_preset(doc("system_prompt", 64 * 1024), "").ok());
  auto error = parse_preset(doc("system_prompt", 64 * 1024 + 1), "").error;
  EXPECT_NE(error.find("\"system_prompt\" is 65537 bytes long; at most 65536"), std::string::npos) << error;
  EXPECT_TRUE(parse_preset(doc("description", 1024), "").ok());
  EXPECT_NE(parse_preset(doc("description", 1025), "").error.find("\"description\""), std::string::npos);
  EXPECT_NE(parse_preset(doc("template", 64 * 1024 + 1), "").error.find("\"template\""), std::string::npos);
}

TEST(PresetParse, a_bad_name_is_named) {
  auto error = parse_error(R"({"name":"Coding","model":"llama2"})");
  EXPECT_NE(error.find("\"name\" \"Coding\" is not valid"), std::string::npos) << error;
  error = parse_error(R"({"model":"llama2"})", "Bad Name");
  EXPECT_NE(error.find("'Bad Name' in the URL is not valid"), std::string::npos) << error;
}

TEST(PresetParse, the_name_comes_from_the_url_or_the_document_and_both_must_match) {
  EXPECT_EQ(parse_ok(R"({"model":"llama2"})", "from-url").name, "from-url");
  EXPECT_EQ(parse_ok(R"({"name":"same","model":"llama2"})", "same").name, "same");
  auto error = parse_error(R"({"name":"other","model":"llama2"})", "from-url");
  EXPECT_EQ(error, "\"name\" 'other' does not match the name in the URL 'from-url'");
  EXPECT_EQ(parse_error(R"({"model":"llama2"})"), "\"name\" is required");
}

TEST(PresetParse, the_model_is_required_and_must_be_an_ollama_model_name) {
  EXPECT_EQ(parse_error(R"({"name":"n"})"), "\"model\" is required");
  EXPECT_EQ(parse_error(R"({"name":"n","model":null})"), "\"model\" is required");
  EXPECT_NE(parse_error(R"({"name":"n","model":"bad model"})").find("\"model\" \"bad model\" is not a valid Ollama model name"),
            std::string::npos);
  EXPECT_NE(parse_error(R"({"name":"n","model":"@coding"})").find("names a preset"), std::string::npos);
}

TEST(PresetParse, a_malformed_placeholder_is_refused_where_it_is) {
  auto error = parse_error(R"({"name":"n","model":"llama2","template":"About {{topic}."})");
  EXPECT_NE(error.find("\"template\": the \"{{\" at byte 6"), std::string::npos) << error;
  EXPECT_FALSE(parse_preset(json::parse(R"({"name":"n","model":"llama2","template":"{{ 1x }}"})"), "").ok());
  EXPECT_FALSE(parse_preset(json::parse(R"({"name":"n","model":"llama2","template":"{{}}"})"), "").ok());
  // A lone "}}" is plain text.
  parse_ok(R"({"name":"n","model":"llama2","template":"{\"a\":{\"b\":1}} {{ x }}"})");
}

TEST(PresetParse, to_json_then_parse_gives_the_same_preset) {
  auto p = full_preset();
  auto doc = to_json(p);
  auto back = parse_preset(doc, "");
  ASSERT_TRUE(back.ok()) << back.error;
  EXPECT_EQ(json::serialize(to_json(back.value)), json::serialize(doc));
  EXPECT_EQ(back.value.temperature, p.temperature);
  EXPECT_EQ(back.value.top_p, p.top_p);
}

TEST(PresetParse, to_json_writes_every_field_with_null_for_absent_optionals) {
  auto built_in = builtin_presets().front();
  auto doc = to_json(make("bare"));
  for (std::string_view key : {"name", "model", "description", "temperature", "max_tokens", "top_p",
                               "system_prompt", "template", "options", "builtin", "read_only"})
    EXPECT_TRUE(doc.contains(key)) << key;
  EXPECT_TRUE(doc.at("temperature").is_null());
  EXPECT_TRUE(doc.at("max_tokens").is_null());
  EXPECT_TRUE(doc.at("top_p").is_null());
  EXPECT_EQ(doc.at("builtin"), false);
  EXPECT_EQ(to_json(built_in).at("builtin"), true);
  EXPECT_EQ(to_json(built_in).at("read_only"), true);
  // A GET'd built-in can be PUT back under its own name.
  EXPECT_TRUE(parse_preset(to_json(built_in), built_in.name).ok());
}

// ---------------------------------------------------------------------------------------------
// Templates

class PresetTemplate : public ::testing::Test {
 protected:
  static preset with_template(std::string text) {
    preset p = make("x");
    p.template_text = std::move(text);
    return p;
  }
  static rendered_prompt render(std::string text, std::string_view prompt, std::string_view variables = "{}") {
    auto vars = json::parse(variables).as_object();
    return render_template(with_template(std::move(text)), prompt, &vars);
  }
};

TEST_F(PresetTemplate, without_a_template_the_prompt_is_unchanged) {
  auto vars = json::parse(R"({"topic":"x"})").as_object();
  auto out = render_template(make("x"), "just this", &vars);
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.text, "just this");
}

TEST_F(PresetTemplate, placeholders_may_have_spaces_inside_the_braces) {
  auto out = render("Explain {{ topic }} to a {{audience}}, {{\ttopic\t}} again.", "",
                    R"({"topic":"TLS","audience":"child"})");
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.text, "Explain TLS to a child, TLS again.");
}

TEST_F(PresetTemplate, a_missing_variable_is_named_with_the_preset) {
  auto out = render("About {{ topic }}", "hi", R"({"other":"x"})");
  EXPECT_EQ(out.error, "template variable 'topic' is missing (preset 'x')");
  auto no_vars = render_template(with_template("About {{topic}}"), "hi", nullptr);
  EXPECT_EQ(no_vars.error, "template variable 'topic' is missing (preset 'x')");
}

TEST_F(PresetTemplate, numbers_and_booleans_are_written_as_json_text) {
  auto out = render("{{n}} {{ratio}} {{flag}} {{neg}}", "", R"({"n":3,"ratio":0.5,"flag":true,"neg":-2})");
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.text, "3 0.5 true -2");
}

TEST_F(PresetTemplate, null_object_and_array_variables_are_errors_naming_them) {
  for (std::string_view vars : {R"({"v":null})", R"({"v":{}})", R"({"v":[1]})"}) {
    auto out = render("{{v}}", "", vars);
    EXPECT_NE(out.error.find("template variable 'v' must be a string, number or boolean"), std::string::npos)
        << out.error;
  }
}

TEST_F(PresetTemplate, the_prompt_placeholder_takes_the_requests_prompt) {
  auto out = render("Review this {{language}} code:\n{{ prompt }}", "int main() {}", R"({"language":"C++"})");
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.text, "Review this C++ code:\nint main() {}");
  EXPECT_EQ(render("Q: {{prompt}}", "").error, "template variable 'prompt' is missing (preset 'x')");
  EXPECT_NE(render("Q: {{prompt}}", "p", R"({"prompt":"other"})").error.find("'prompt' is reserved"),
            std::string::npos);
}

TEST_F(PresetTemplate, a_template_without_the_prompt_placeholder_is_the_whole_prompt) {
  auto out = render("Write a haiku about {{topic}}.", "ignored", R"({"topic":"rain"})");
  ASSERT_TRUE(out.ok()) << out.error;
  EXPECT_EQ(out.text, "Write a haiku about rain.");
}

// ---------------------------------------------------------------------------------------------
// Applying a preset to a request

class PresetApply : public ::testing::Test {
 protected:
  static json::object apply(std::string_view body, preset_route route, const preset& p = full_preset()) {
    auto o = json::parse(body).as_object();
    apply_preset(p, o, route);
    return o;
  }
};

TEST_F(PresetApply, ollama_generate_fills_model_options_and_system) {
  auto body = apply(R"({"model":"@review","prompt":"hi"})", preset_route::ollama_generate);
  EXPECT_EQ(body.at("model"), "codellama:7b");
  EXPECT_EQ(body.at("system"), "You review code.");
  EXPECT_EQ(body.at("prompt"), "hi");
  const auto& options = body.at("options").as_object();
  EXPECT_EQ(options.at("temperature"), 0.1);
  EXPECT_EQ(options.at("top_p"), 0.9);
  EXPECT_EQ(options.at("num_predict"), 256);
  EXPECT_EQ(options.at("num_ctx"), 4096);
  EXPECT_EQ(options.at("seed"), 42);
  EXPECT_EQ(json::serialize(options.at("stop")), R"(["###"])");
}

TEST_F(PresetApply, ollama_generate_keeps_what_the_client_set) {
  auto body = apply(R"({"model":"@review","prompt":"hi","system":"mine",
                       "options":{"temperature":0,"num_ctx":1024,"top_p":null}})",
                    preset_route::ollama_generate);
  EXPECT_EQ(body.at("model"), "codellama:7b");
  EXPECT_EQ(body.at("system"), "mine");
  const auto& options = body.at("options").as_object();
  EXPECT_EQ(options.at("temperature"), 0);  // a falsy value is still the client's
  EXPECT_EQ(options.at("num_ctx"), 1024);
  EXPECT_EQ(options.at("top_p"), 0.9);      // null is no value
  EXPECT_EQ(options.at("num_predict"), 256);
  EXPECT_EQ(options.at("seed"), 42);
}

TEST_F(PresetApply, an_empty_system_is_filled) {
  auto body = apply(R"({"model":"@review","system":""})", preset_route::ollama_generate);
  EXPECT_EQ(body.at("system"), "You review code.");
}

TEST_F(PresetApply, options_that_are_not_an_object_are_left_for_validation) {
  auto body = apply(R"({"model":"@review","options":"fast"})", preset_route::ollama_generate);
  EXPECT_EQ(body.at("options"), "fast");
  EXPECT_EQ(body.at("model"), "codellama:7b");
}

TEST_F(PresetApply, a_preset_with_nothing_to_add_adds_no_options) {
  auto body = apply(R"({"model":"@plain","prompt":"hi"})", preset_route::ollama_generate, make("plain", "phi"));
  EXPECT_EQ(json::serialize(body), R"({"model":"phi","prompt":"hi"})");
}

TEST_F(PresetApply, ollama_chat_inserts_a_system_message_first) {
  auto body = apply(R"({"model":"@review","messages":[{"role":"user","content":"hi"}]})",
                    preset_route::ollama_chat);
  EXPECT_EQ(json::serialize(body.at("messages")),
            R"([{"role":"system","content":"You review code."},{"role":"user","content":"hi"}])");
  EXPECT_FALSE(body.contains("system"));
  EXPECT_EQ(body.at("options").as_object().at("num_predict"), 256);
}

TEST_F(PresetApply, a_chat_with_its_own_system_message_keeps_it_alone) {
  std::string_view messages = R"([{"role":"user","content":"hi"},{"role":"system","content":"mine"}])";
  auto body = apply(std::string(R"({"model":"@review","messages":)") + std::string(messages) + "}",
                    preset_route::ollama_chat);
  EXPECT_EQ(json::serialize(body.at("messages")), messages);
  auto openai = apply(std::string(R"({"model":"@review","messages":)") + std::string(messages) + "}",
                      preset_route::openai_chat);
  EXPECT_EQ(json::serialize(openai.at("messages")), messages);
}

TEST_F(PresetApply, no_system_message_without_a_system_prompt_or_messages) {
  auto body = apply(R"({"model":"@plain","messages":[{"role":"user","content":"hi"}]})",
                    preset_route::ollama_chat, make("plain"));
  EXPECT_EQ(body.at("messages").as_array().size(), 1u);
  auto no_messages = apply(R"({"model":"@review"})", preset_route::ollama_chat);
  EXPECT_FALSE(no_messages.contains("messages"));
}

TEST_F(PresetApply, ollama_embed_gets_the_model_and_free_options_only) {
  auto body = apply(R"({"model":"@review","input":"text"})", preset_route::ollama_embed);
  EXPECT_EQ(body.at("model"), "codellama:7b");
  EXPECT_FALSE(body.contains("system"));
  const auto& options = body.at("options").as_object();
  EXPECT_EQ(options.at("num_ctx"), 4096);
  EXPECT_FALSE(options.contains("temperature"));
  EXPECT_FALSE(options.contains("num_predict"));
  auto client = apply(R"({"model":"@review","options":{"num_ctx":8}})", preset_route::ollama_embed);
  EXPECT_EQ(client.at("options").as_object().at("num_ctx"), 8);
}

TEST_F(PresetApply, openai_chat_gets_top_level_sampling_seed_stop_and_a_system_message) {
  auto body = apply(R"({"model":"@review","messages":[{"role":"user","content":"hi"}]})",
                    preset_route::openai_chat);
  EXPECT_EQ(body.at("model"), "codellama:7b");
  EXPECT_EQ(body.at("temperature"), 0.1);
  EXPECT_EQ(body.at("top_p"), 0.9);
  EXPECT_EQ(body.at("max_tokens"), 256);
  EXPECT_EQ(body.at("seed"), 42);
  EXPECT_EQ(json::serialize(body.at("stop")), R"(["###"])");
  EXPECT_FALSE(body.contains("options"));   // Ollama's /v1 routes ignore it
  EXPECT_FALSE(body.contains("num_ctx"));   // not an OpenAI field
  EXPECT_EQ(body.at("messages").as_array().front().as_object().at("role"), "system");
}

TEST_F(PresetApply, openai_client_values_win) {
  auto body = apply(R"({"model":"@review","messages":[],"temperature":0,"seed":7,"stop":"END",
                       "max_completion_tokens":10})",
                    preset_route::openai_chat);
  EXPECT_EQ(body.at("temperature"), 0);
  EXPECT_EQ(body.at("seed"), 7);
  EXPECT_EQ(body.at("stop"), "END");
  EXPECT_EQ(body.at("top_p"), 0.9);
  EXPECT_FALSE(body.contains("max_tokens"));  // max_completion_tokens is the client's limit
  auto completion = apply(R"({"model":"@review","prompt":"p","max_tokens":5})", preset_route::openai_completion);
  EXPECT_EQ(completion.at("max_tokens"), 5);
}

TEST_F(PresetApply, openai_completion_gets_sampling_but_no_system_prompt) {
  auto body = apply(R"({"model":"@review","prompt":"p"})", preset_route::openai_completion);
  EXPECT_EQ(body.at("model"), "codellama:7b");
  EXPECT_EQ(body.at("temperature"), 0.1);
  EXPECT_EQ(body.at("max_tokens"), 256);
  EXPECT_EQ(body.at("seed"), 42);
  EXPECT_FALSE(body.contains("system"));
  EXPECT_FALSE(body.contains("messages"));
}

TEST_F(PresetApply, openai_embeddings_get_the_model_only) {
  auto body = apply(R"({"model":"@review","input":"text"})", preset_route::openai_embeddings);
  EXPECT_EQ(json::serialize(body), R"({"model":"codellama:7b","input":"text"})");
}

// ---------------------------------------------------------------------------------------------
// The file store

class PresetFileStore : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("corral-presets-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    dir_ = root_ / "state";
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, ec);
    fs::remove_all(root_, ec);
  }

  static std::vector<std::string> names(const std::vector<preset>& list) {
    std::vector<std::string> out;
    for (const auto& p : list) out.push_back(p.name);
    return out;
  }

  void write_state(std::string_view text) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "presets.json") << text;
  }

  std::string load_error() {
    try {
      file_preset_store(dir_).load();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "load did not throw";
    return {};
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(PresetFileStore, a_missing_file_is_no_presets) {
  EXPECT_TRUE(file_preset_store(dir_).load().empty());
  EXPECT_EQ(file_preset_store(dir_).describe(), (dir_ / "presets.json").string());
}

TEST_F(PresetFileStore, presets_saved_by_one_store_load_in_another) {
  {
    file_preset_store store(dir_);
    store.save({full_preset(), make("second", "mistral:7b")});
  }
  file_preset_store after_restart(dir_);
  auto loaded = after_restart.load();
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(json::serialize(to_json(loaded[0])), json::serialize(to_json(full_preset())));
  EXPECT_EQ(loaded[1].model, "mistral:7b");
}

TEST_F(PresetFileStore, the_directory_is_created_private) {
  file_preset_store(root_ / "a" / "b").save({make("one")});
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "a" / "b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(fs::exists(root_ / "a" / "b" / "presets.json"));
}

TEST_F(PresetFileStore, a_save_replaces_the_file_and_leaves_no_temporary_behind) {
  file_preset_store store(dir_);
  store.save({make("one"), make("two")});
  store.save({make("two")});
  EXPECT_FALSE(fs::exists(dir_ / "presets.json.tmp"));
  EXPECT_EQ(names(file_preset_store(dir_).load()), std::vector<std::string>{"two"});
  std::ifstream in(dir_ / "presets.json");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().rfind("{\"version\":1,\"presets\":[\n", 0), 0u) << text.str();
}

TEST_F(PresetFileStore, a_corrupt_file_is_an_error_naming_it) {
  write_state("{\"version\":1,\"presets\":[");
  auto error = load_error();
  EXPECT_NE(error.find((dir_ / "presets.json").string()), std::string::npos) << error;
  EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
}

TEST_F(PresetFileStore, an_invalid_preset_is_named_by_index_and_name) {
  write_state(R"({"version":1,"presets":[{"name":"ok","model":"llama2"},
                 {"name":"hot","model":"llama2","temperature":9}]})");
  auto error = load_error();
  EXPECT_NE(error.find((dir_ / "presets.json").string() + ": presets[1] ('hot'): \"temperature\""),
            std::string::npos)
      << error;
}

TEST_F(PresetFileStore, an_unknown_version_or_shape_is_an_error) {
  write_state(R"({"version":2,"presets":[]})");
  EXPECT_NE(load_error().find("\"version\" must be 1"), std::string::npos);
  write_state(R"({"version":1,"presets":{}})");
  EXPECT_NE(load_error().find("\"presets\" must be an array"), std::string::npos);
  write_state(R"({"version":1,"presets":[{"name":"a","model":"x"},{"name":"a","model":"y"}]})");
  EXPECT_NE(load_error().find("presets[1] ('a'): the name appears twice"), std::string::npos);
}

TEST_F(PresetFileStore, a_failed_save_throws_and_keeps_the_old_file) {
  file_preset_store store(dir_);
  store.save({make("old")});
  // A directory where the temporary file goes: creating it fails even for root.
  fs::create_directory(dir_ / "presets.json.tmp");
  try {
    store.save({make("new")});
    ADD_FAILURE() << "save did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("presets.json.tmp"), std::string::npos) << e.what();
  }
  EXPECT_EQ(names(file_preset_store(dir_).load()), std::vector<std::string>{"old"});
}

TEST_F(PresetFileStore, a_save_into_an_unwritable_directory_throws_and_keeps_the_old_file) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into any directory";
  file_preset_store store(dir_);
  store.save({make("old")});
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(store.save({make("new")}), std::runtime_error);
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_EQ(names(file_preset_store(dir_).load()), std::vector<std::string>{"old"});
}

TEST_F(PresetFileStore, a_directory_path_that_is_a_file_is_an_error) {
  std::ofstream(root_ / "file") << "x";
  EXPECT_THROW(file_preset_store(root_ / "file").save({make("one")}), std::runtime_error);
}

// ---------------------------------------------------------------------------------------------
// The registry

// A store whose save fails when told to.
class failing_store : public preset_store {
 public:
  explicit failing_store(bool* fail) : fail_(fail) {}
  std::vector<preset> load() override { return saved; }
  void save(const std::vector<preset>& custom) override {
    if (*fail_) throw std::runtime_error("disk full");
    saved = custom;
  }
  std::string describe() const override { return "failing store"; }
  std::vector<preset> saved;

 private:
  bool* fail_;
};

class PresetRegistry : public ::testing::Test {
 protected:
  static preset configured(std::string name) { return make(std::move(name), "phi"); }

  static std::vector<std::string> names(const preset_set& set) {
    std::vector<std::string> out;
    for (const auto& p : set.all) out.push_back(p.name);
    return out;
  }

  static std::string constructor_error(std::vector<preset> custom, std::vector<preset> config) {
    try {
      preset_registry r(std::make_unique<memory_preset_store>(std::move(custom)), std::move(config));
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
  }
};

TEST_F(PresetRegistry, the_snapshot_holds_every_kind_sorted_by_name) {
  preset_registry r(std::make_unique<memory_preset_store>(std::vector<preset>{make("zeta")}),
                    {configured("alpha")});
  auto set = r.snapshot();
  EXPECT_EQ(names(*set), (std::vector<std::string>{"alpha", "coding", "creative", "general", "security", "zeta"}));
  ASSERT_TRUE(set->find("alpha"));
  EXPECT_TRUE(set->find("alpha")->read_only);
  EXPECT_FALSE(set->find("alpha")->builtin);
  EXPECT_TRUE(set->find("coding")->builtin);
  EXPECT_FALSE(set->find("zeta")->read_only);
  EXPECT_EQ(set->find("nope"), nullptr);
  EXPECT_EQ(r.store_description(), "memory (not persisted)");
}

TEST_F(PresetRegistry, create_saves_then_publishes) {
  auto store = std::make_unique<memory_preset_store>();
  auto* raw = store.get();
  preset_registry r(std::move(store), {});
  auto before = r.snapshot();
  preset p = make("mine");
  p.builtin = true;  // not the client's to decide
  auto change = r.create(p);
  EXPECT_EQ(change.status, 201u) << change.error;
  ASSERT_TRUE(r.snapshot()->find("mine"));
  EXPECT_FALSE(r.snapshot()->find("mine")->builtin);
  EXPECT_EQ(raw->load().size(), 1u);
  EXPECT_EQ(before->find("mine"), nullptr);  // a reader's snapshot never changes under it
}

TEST_F(PresetRegistry, create_refuses_a_taken_name_of_any_kind) {
  preset_registry r(std::make_unique<memory_preset_store>(std::vector<preset>{make("custom")}),
                    {configured("configured")});
  for (std::string name : {"coding", "custom", "configured"}) {
    auto change = r.create(make(name));
    EXPECT_EQ(change.status, 409u) << name;
    EXPECT_NE(change.error.find("'" + name + "' already exists"), std::string::npos) << change.error;
  }
}

TEST_F(PresetRegistry, create_refuses_an_invalid_preset) {
  preset_registry r(std::make_unique<memory_preset_store>(), {});
  auto change = r.create(make("Bad Name"));
  EXPECT_EQ(change.status, 400u);
  EXPECT_NE(change.error.find("\"name\""), std::string::npos) << change.error;
  preset hot = make("hot");
  hot.temperature = 5;
  EXPECT_EQ(r.create(hot).status, 400u);
  EXPECT_EQ(r.snapshot()->find("hot"), nullptr);
}

TEST_F(PresetRegistry, replace_and_remove_answer_404_for_unknown_and_403_for_read_only) {
  preset_registry r(std::make_unique<memory_preset_store>(), {configured("team")});
  EXPECT_EQ(r.replace("nope", make("nope")).status, 404u);
  EXPECT_EQ(r.remove("nope").status, 404u);
  auto builtin = r.replace("coding", make("coding"));
  EXPECT_EQ(builtin.status, 403u);
  EXPECT_NE(builtin.error.find("built in"), std::string::npos) << builtin.error;
  auto from_config = r.remove("team");
  EXPECT_EQ(from_config.status, 403u);
  EXPECT_NE(from_config.error.find("config file"), std::string::npos) << from_config.error;
  EXPECT_EQ(r.remove("general").status, 403u);
  EXPECT_TRUE(r.snapshot()->find("team"));
  EXPECT_EQ(r.snapshot()->find("coding")->model, "codellama");
}

TEST_F(PresetRegistry, replace_and_remove_change_a_custom_preset) {
  preset_registry r(std::make_unique<memory_preset_store>(std::vector<preset>{make("mine")}), {});
  auto next = make("", "mistral");
  EXPECT_EQ(r.replace("mine", next).status, 200u);
  EXPECT_EQ(r.snapshot()->find("mine")->model, "mistral");
  EXPECT_EQ(r.replace("mine", make("other")).status, 400u);
  EXPECT_EQ(r.remove("mine").status, 200u);
  EXPECT_EQ(r.snapshot()->find("mine"), nullptr);
}

TEST_F(PresetRegistry, a_failed_save_changes_nothing) {
  bool fail = false;
  auto store = std::make_unique<failing_store>(&fail);
  store->saved = {make("kept")};
  preset_registry r(std::move(store), {});
  fail = true;
  auto before = r.snapshot();

  auto created = r.create(make("new"));
  EXPECT_EQ(created.status, 500u);
  EXPECT_NE(created.error.find("failing store: disk full"), std::string::npos) << created.error;
  EXPECT_EQ(r.replace("kept", make("kept", "mistral")).status, 500u);
  EXPECT_EQ(r.remove("kept").status, 500u);

  EXPECT_EQ(r.snapshot(), before);
  EXPECT_EQ(r.snapshot()->find("new"), nullptr);
  ASSERT_TRUE(r.snapshot()->find("kept"));
  EXPECT_EQ(r.snapshot()->find("kept")->model, "llama2");

  fail = false;  // the next change starts from the unchanged state
  EXPECT_EQ(r.create(make("new")).status, 201u);
  EXPECT_EQ(names(*r.snapshot()).size(), 6u);
}

TEST_F(PresetRegistry, a_built_in_name_elsewhere_is_an_error_naming_it) {
  auto error = constructor_error({}, {configured("coding")});
  EXPECT_NE(error.find("preset 'coding' of the config file takes the name of a built-in"), std::string::npos)
      << error;
  error = constructor_error({make("general")}, {});
  EXPECT_NE(error.find("custom preset 'general'"), std::string::npos) << error;
  error = constructor_error({make("team")}, {configured("team")});
  EXPECT_NE(error.find("preset 'team' of the config file is also a custom preset"), std::string::npos) << error;
}

TEST_F(PresetRegistry, set_configured_replaces_the_config_files_presets_or_changes_nothing) {
  preset_registry r(std::make_unique<memory_preset_store>(std::vector<preset>{make("mine")}),
                    {configured("old")});
  r.set_configured({configured("new")});
  EXPECT_EQ(r.snapshot()->find("old"), nullptr);
  ASSERT_TRUE(r.snapshot()->find("new"));
  EXPECT_TRUE(r.snapshot()->find("new")->read_only);

  auto before = r.snapshot();
  EXPECT_THROW(r.set_configured({configured("other"), configured("mine")}), std::runtime_error);
  EXPECT_THROW(r.set_configured({configured("security")}), std::runtime_error);
  EXPECT_THROW(r.set_configured({configured("twice"), configured("twice")}), std::runtime_error);
  EXPECT_EQ(r.snapshot(), before);
}

TEST(PresetRegistryRestart, custom_presets_survive_a_restart_through_the_file_store) {
  auto dir = fs::temp_directory_path() / ("corral-presets-restart-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  {
    preset_registry r(std::make_unique<file_preset_store>(dir), {});
    ASSERT_EQ(r.create(full_preset()).status, 201u);
    EXPECT_EQ(r.store_description(), (dir / "presets.json").string());
  }
  preset_registry after(std::make_unique<file_preset_store>(dir), {});
  const auto* p = after.snapshot()->find("review");
  ASSERT_TRUE(p);
  EXPECT_EQ(json::serialize(to_json(*p)), json::serialize(to_json(full_preset())));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace corral
