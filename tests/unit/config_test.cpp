#include "gateway/core/config.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <algorithm>

#include <cstdlib>
#include <string>
#include <vector>

namespace corral {
namespace {

using namespace std::chrono_literals;

class config_test : public ::testing::Test {
 protected:
  static config parse(std::string_view yaml) { return parse_config(yaml, "test.yaml"); }

  // The message of the config_error that parsing `yaml` throws.
  static std::string error_of(std::string_view yaml) {
    try {
      parse(yaml);
    } catch (const config_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no config_error for:\n" << yaml;
    return {};
  }

  static std::string env_error_of(const std::map<std::string, std::string>& env) {
    config cfg = default_config();
    try {
      apply_env_overrides(cfg, env);
    } catch (const config_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no config_error from the environment";
    return {};
  }

  static std::string list_error_of(std::string_view text) {
    try {
      parse_backend_list(text, "OLLAMA_BASE_URL");
    } catch (const config_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no config_error for '" << text << "'";
    return {};
  }

  static boost::json::object json_of(std::string_view text) {
    return boost::json::parse(text).as_object();
  }

  static std::string document_error_of(std::string_view json_text) {
    try {
      parse_config_document(json_of(json_text), "PUT");
    } catch (const config_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no config_error for:\n" << json_text;
    return {};
  }

  static std::string merge_error_of(std::string_view base_text, std::string_view patch_text) {
    boost::json::object base = json_of(base_text);
    try {
      merge_config_document(base, json_of(patch_text));
    } catch (const config_error& e) {
      return e.what();
    }
    ADD_FAILURE() << "no config_error for the patch " << patch_text;
    return {};
  }

  static std::string merged(std::string_view base_text, std::string_view patch_text) {
    boost::json::object base = json_of(base_text);
    merge_config_document(base, json_of(patch_text));
    return boost::json::serialize(base);
  }

  // Every field but `source` and the `where` of policies and presets (they name lines).
  static void expect_same(const config& a, const config& b) {
    EXPECT_EQ(a.server.host, b.server.host);
    EXPECT_EQ(a.server.port, b.server.port);
    EXPECT_EQ(a.server.threads, b.server.threads);
    EXPECT_EQ(a.server.max_header_bytes, b.server.max_header_bytes);
    EXPECT_EQ(a.server.max_body_bytes, b.server.max_body_bytes);
    EXPECT_EQ(a.server.header_timeout, b.server.header_timeout);
    EXPECT_EQ(a.server.body_timeout, b.server.body_timeout);
    EXPECT_EQ(a.server.keepalive_timeout, b.server.keepalive_timeout);
    EXPECT_EQ(a.server.send_timeout, b.server.send_timeout);
    ASSERT_EQ(a.ollama.backends.size(), b.ollama.backends.size());
    for (std::size_t i = 0; i < a.ollama.backends.size(); ++i) {
      EXPECT_EQ(a.ollama.backends[i].name, b.ollama.backends[i].name);
      EXPECT_EQ(a.ollama.backends[i].url, b.ollama.backends[i].url);
      EXPECT_EQ(a.ollama.backends[i].host, b.ollama.backends[i].host);
      EXPECT_EQ(a.ollama.backends[i].port, b.ollama.backends[i].port);
      EXPECT_EQ(a.ollama.backends[i].weight, b.ollama.backends[i].weight);
    }
    EXPECT_EQ(a.ollama.timeout, b.ollama.timeout);
    EXPECT_EQ(a.ollama.connect_timeout, b.ollama.connect_timeout);
    EXPECT_EQ(a.ollama.max_retries, b.ollama.max_retries);
    EXPECT_EQ(a.ollama.auto_pull, b.ollama.auto_pull);
    EXPECT_EQ(a.ollama.max_concurrent, b.ollama.max_concurrent);
    EXPECT_EQ(a.ollama.health_check_period, b.ollama.health_check_period);
    EXPECT_EQ(a.ollama.models, b.ollama.models);
    EXPECT_EQ(a.ollama.default_model, b.ollama.default_model);
    EXPECT_EQ(a.ollama.embedding_model, b.ollama.embedding_model);
    EXPECT_EQ(a.upstream.max_idle_per_backend, b.upstream.max_idle_per_backend);
    EXPECT_EQ(a.upstream.eject_after_failures, b.upstream.eject_after_failures);
    EXPECT_EQ(a.upstream.eject_base, b.upstream.eject_base);
    EXPECT_EQ(a.upstream.eject_max, b.upstream.eject_max);
    EXPECT_EQ(a.log.level, b.log.level);
    EXPECT_EQ(a.log.access_log, b.log.access_log);
    EXPECT_EQ(a.management.state_dir, b.management.state_dir);
    EXPECT_EQ(a.management.batch_max_items, b.management.batch_max_items);
    ASSERT_EQ(a.policies.size(), b.policies.size());
    for (std::size_t i = 0; i < a.policies.size(); ++i) {
      EXPECT_EQ(a.policies[i].type, b.policies[i].type);
      EXPECT_EQ(a.policies[i].name, b.policies[i].name);
      EXPECT_EQ(a.policies[i].routes, b.policies[i].routes);
      ASSERT_TRUE(a.policies[i].options && b.policies[i].options);
      EXPECT_EQ(*a.policies[i].options, *b.policies[i].options);
    }
    ASSERT_EQ(a.presets.size(), b.presets.size());
    for (std::size_t i = 0; i < a.presets.size(); ++i) {
      ASSERT_TRUE(a.presets[i].fields && b.presets[i].fields);
      EXPECT_EQ(*a.presets[i].fields, *b.presets[i].fields);
    }
  }

  // A configuration with a value other than the default in every section, policies with
  // secrets, and presets whose strings look like numbers and booleans.
  static constexpr std::string_view full_yaml = R"(
server:
  host: 127.0.0.1
  port: 8080
  threads: 4
  max_header_bytes: 8192
  max_body_bytes: 1048576
  header_timeout: 5s
  body_timeout: 1m30s
  keepalive_timeout: 2m
  send_timeout: 45s
ollama:
  backends:
    - url: http://gpu1:11434
      name: big
      weight: 10
    - url: http://[fd00::2]:11500
  timeout: 90s
  connect_timeout: 250ms
  health_check_period: 1.5s
  max_retries: 0
  auto_pull: true
  max_concurrent: 8
  models: [llama3.2, "123", library/mistral:7b]
  default_model: llama3.2
  embedding_model: nomic-embed-text
upstream:
  max_idle_per_backend: 16
  eject_after_failures: 5
  eject_base: 2s
  eject_max: 1m
log:
  level: debug
  access_log: false
management:
  state_dir: /var/lib/corral
  batch_max_items: 250
policies:
  - type: auth
    routes: [inference, /api/chat]
    header: X-API-Key
    keys:
      - name: ops
        hash: "sha256:81d5958ea2799a62716f71aa7e3c2f275f31e9d8a1908e785838a10b00fbaa4c"
        role: admin
  - type: validation
    name: strict
    max_messages: 256
    options:
      temperature: {min: 0, max: 1.5}
presets:
  - name: coder
    model: codellama
    temperature: 1.0
    max_tokens: 512
    system_prompt: "Say \"why\", not just what.\n\tTabs and unicode: \u00e9 ✓"
    options: {seed: 42, stop: ["\n\n"], mirostat: null}
  - name: "123"
    model: "456"
    description: "true"
    api_token: s3cr3t
)";
};

// --- defaults and valid documents

TEST_F(config_test, defaults_have_one_local_backend_and_the_struct_defaults) {
  const config cfg = default_config();
  EXPECT_EQ(cfg.source, "embedded defaults");
  ASSERT_EQ(cfg.ollama.backends.size(), 1u);
  const backend_config& b = cfg.ollama.backends[0];
  EXPECT_EQ(b.name, "localhost:11434");
  EXPECT_EQ(b.url, "http://localhost:11434");
  EXPECT_EQ(b.host, "localhost");
  EXPECT_EQ(b.port, 11434);
  EXPECT_EQ(b.weight, 1);
  EXPECT_EQ(cfg.server.port, 9089);
  EXPECT_EQ(cfg.ollama.timeout, 5min);
  EXPECT_EQ(cfg.log.level, log_level::info);
}

TEST_F(config_test, empty_documents_and_empty_sections_give_the_defaults) {
  for (const char* yaml :
       {"", "{}", "# nothing but a comment\n", "~", "server:\nollama:\nlog:\n"}) {
    SCOPED_TRACE(yaml);
    const config cfg = parse(yaml);
    expect_same(cfg, default_config());
    EXPECT_EQ(cfg.source, "test.yaml");
  }
}

TEST_F(config_test, full_document_sets_every_field) {
  const config cfg = parse(R"(
server:
  host: 127.0.0.1
  port: 8080
  threads: 4
  max_header_bytes: 8192
  max_body_bytes: 1048576
  header_timeout: 5s
  body_timeout: 1m30s
  keepalive_timeout: 2m
  send_timeout: 45s
ollama:
  base_url: http://gpu1:11434, http://gpu2:11500
  timeout: 90s
  connect_timeout: 250ms
  health_check_period: 1.5s
  max_retries: 0
  auto_pull: true
  max_concurrent: 8
upstream:
  max_idle_per_backend: 16
  eject_after_failures: 5
  eject_base: 2s
  eject_max: 1m
log:
  level: debug
  access_log: false
)");
  EXPECT_EQ(cfg.server.host, "127.0.0.1");
  EXPECT_EQ(cfg.server.port, 8080);
  EXPECT_EQ(cfg.server.threads, 4);
  EXPECT_EQ(cfg.server.max_header_bytes, 8192u);
  EXPECT_EQ(cfg.server.max_body_bytes, 1048576u);
  EXPECT_EQ(cfg.server.header_timeout, 5s);
  EXPECT_EQ(cfg.server.body_timeout, 90s);
  EXPECT_EQ(cfg.server.keepalive_timeout, 2min);
  EXPECT_EQ(cfg.server.send_timeout, 45s);
  ASSERT_EQ(cfg.ollama.backends.size(), 2u);
  EXPECT_EQ(cfg.ollama.backends[0].name, "gpu1:11434");
  EXPECT_EQ(cfg.ollama.backends[1].url, "http://gpu2:11500");
  EXPECT_EQ(cfg.ollama.timeout, 90s);
  EXPECT_EQ(cfg.ollama.connect_timeout, 250ms);
  EXPECT_EQ(cfg.ollama.health_check_period, 1500ms);
  EXPECT_EQ(cfg.ollama.max_retries, 0);
  EXPECT_TRUE(cfg.ollama.auto_pull);
  EXPECT_EQ(cfg.ollama.max_concurrent, 8);
  EXPECT_EQ(cfg.upstream.max_idle_per_backend, 16);
  EXPECT_EQ(cfg.upstream.eject_after_failures, 5);
  EXPECT_EQ(cfg.upstream.eject_base, 2s);
  EXPECT_EQ(cfg.upstream.eject_max, 1min);
  EXPECT_EQ(cfg.log.level, log_level::debug);
  EXPECT_FALSE(cfg.log.access_log);
}

TEST_F(config_test, backends_list_keeps_names_and_weights) {
  const config cfg = parse(R"(
ollama:
  backends:
    - url: http://10.0.0.1:11434
      name: big
      weight: 10
    - url: 10.0.0.2
)");
  ASSERT_EQ(cfg.ollama.backends.size(), 2u);
  EXPECT_EQ(cfg.ollama.backends[0].name, "big");
  EXPECT_EQ(cfg.ollama.backends[0].weight, 10);
  EXPECT_EQ(cfg.ollama.backends[1].name, "10.0.0.2:11434");
  EXPECT_EQ(cfg.ollama.backends[1].weight, 1);
}

TEST_F(config_test, base_url_accepts_a_yaml_list) {
  const config cfg = parse("ollama:\n  base_url: [http://a:1, 'b:2']\n");
  ASSERT_EQ(cfg.ollama.backends.size(), 2u);
  EXPECT_EQ(cfg.ollama.backends[0].url, "http://a:1");
  EXPECT_EQ(cfg.ollama.backends[1].url, "http://b:2");
}

TEST_F(config_test, durations_may_be_bare_seconds) {
  EXPECT_EQ(parse("ollama:\n  timeout: 120\n").ollama.timeout, 120s);
}

TEST_F(config_test, booleans_accept_what_yaml_cpp_accepts) {
  EXPECT_TRUE(parse("ollama:\n  auto_pull: yes\n").ollama.auto_pull);
  EXPECT_TRUE(parse("ollama:\n  auto_pull: True\n").ollama.auto_pull);
  EXPECT_FALSE(parse("log:\n  access_log: off\n").log.access_log);
  EXPECT_EQ(error_of("log:\n  access_log: maybe\n"),
            "test.yaml:2: log.access_log: expected true or false, got 'maybe'");
}

TEST_F(config_test, seed_ollama_block_is_accepted_as_written) {
  const config cfg = parse(R"(
ollama:
  base_url: "http://localhost:11434"
  timeout: 300
  max_retries: 3
  models:
    - "llama2"
    - "codellama"
    - "mistral"
  default_model: "llama2"
  auto_pull: true
  embedding_model: "nomic-embed-text"
  max_concurrent: 4
  health_check_period: 30
)");
  EXPECT_EQ(cfg.ollama.backends, default_config().ollama.backends);
  EXPECT_EQ(cfg.ollama.timeout, 300s);
  EXPECT_EQ(cfg.ollama.max_retries, 3);
  EXPECT_EQ(cfg.ollama.models, (std::vector<std::string>{"llama2", "codellama", "mistral"}));
  EXPECT_EQ(cfg.ollama.default_model, "llama2");
  EXPECT_TRUE(cfg.ollama.auto_pull);
  EXPECT_EQ(cfg.ollama.embedding_model, "nomic-embed-text");
  EXPECT_EQ(cfg.ollama.max_concurrent, 4);
  EXPECT_EQ(cfg.ollama.health_check_period, 30s);
}

TEST_F(config_test, default_and_embedding_model_may_be_empty_for_none) {
  const config cfg = parse("ollama:\n  default_model: ''\n  embedding_model: \"\"\n  models: []\n");
  EXPECT_EQ(cfg.ollama.default_model, "");
  EXPECT_EQ(cfg.ollama.embedding_model, "");
  EXPECT_TRUE(cfg.ollama.models.empty());
  EXPECT_TRUE(parse("ollama:\n  models:\n").ollama.models.empty());
}

TEST_F(config_test, model_names_are_checked_naming_the_key) {
  const std::string expected = "expected a model name such as 'llama3.2' or 'library/mistral:7b'";
  EXPECT_EQ(error_of("ollama:\n  models:\n    - llama2\n    - 'bad name'\n"),
            "test.yaml:4: ollama.models[1]: " + expected + ", got 'bad name'");
  EXPECT_EQ(error_of("ollama:\n  models: [llama2, [x]]\n"),
            "test.yaml:2: ollama.models[1]: " + expected + ", got a list");
  EXPECT_EQ(error_of("ollama:\n  models: llama2\n"),
            "test.yaml:2: ollama.models: expected a list of model names, got 'llama2'");
  EXPECT_EQ(error_of("ollama:\n  models: [Llama2, 'llama2:latest']\n"),
            "test.yaml:2: ollama.models[1]: duplicate model 'llama2:latest', the same as 'Llama2'");
  EXPECT_EQ(error_of("ollama:\n  default_model: -x\n"),
            "test.yaml:2: ollama.default_model: " + expected + ", got '-x'");
  EXPECT_EQ(error_of("ollama:\n  embedding_model:\n"),
            "test.yaml:2: ollama.embedding_model: " + expected + ", or '' for none, got nothing");
}

TEST_F(config_test, management_section_sets_state_dir_and_batch_cap) {
  const config defaults = default_config();
  EXPECT_EQ(defaults.management.state_dir, "");
  EXPECT_EQ(defaults.management.batch_max_items, 100);
  const config cfg = parse("management:\n  state_dir: /var/lib/corral\n  batch_max_items: 100000\n");
  EXPECT_EQ(cfg.management.state_dir, "/var/lib/corral");
  EXPECT_EQ(cfg.management.batch_max_items, 100000);
  EXPECT_EQ(parse("management:\n  state_dir: ''\n").management.state_dir, "");
  EXPECT_EQ(error_of("management:\n  batch_max_items: 0\n"),
            "test.yaml:2: management.batch_max_items: expected an integer from 1 to 100000, got '0'");
  EXPECT_EQ(error_of("management:\n  state_dir:\n"),
            "test.yaml:2: management.state_dir: expected a directory, or '' for the default "
            "location, got nothing");
  EXPECT_EQ(error_of("management:\n  batch_size: 5\n"),
            "test.yaml:2: unknown key 'management.batch_size'");
}

TEST_F(config_test, presets_are_kept_as_written_with_where_they_are) {
  const config cfg = parse(
      "presets:\n  - name: coder\n    model: codellama\n    temperature: 0.1\n"
      "  - {name: \"42\", template: 'Hi {who}', options: {seed: 7}}\n");
  ASSERT_EQ(cfg.presets.size(), 2u);
  EXPECT_EQ(cfg.presets[0].where, "test.yaml:2: presets[0]");
  EXPECT_EQ(*cfg.presets[0].fields,
            json_of(R"({"name":"coder","model":"codellama","temperature":0.1})"));
  EXPECT_EQ(cfg.presets[1].where, "test.yaml:5: presets[1]");
  EXPECT_EQ(*cfg.presets[1].fields,
            json_of(R"({"name":"42","template":"Hi {who}","options":{"seed":7}})"));
  EXPECT_TRUE(parse("presets:\n").presets.empty());
}

TEST_F(config_test, presets_must_be_a_list_of_mappings) {
  EXPECT_EQ(error_of("presets:\n  coder: {model: x}\n"),
            "test.yaml:2: presets: expected a list of presets ({name: ..., model: ..., ...}), got "
            "a mapping");
  EXPECT_EQ(error_of("presets:\n  - {name: a}\n  - b\n"),
            "test.yaml:3: presets[1]: expected a mapping, got 'b'");
  EXPECT_EQ(error_of("presets:\n  - name: a\n    name: b\n"),
            "test.yaml:3: duplicate key 'presets[0].name'");
}

TEST_F(config_test, policy_option_errors_name_the_whole_path) {
  EXPECT_EQ(error_of("policies:\n  - type: validation\n    options: {temperature: {max: 1, max: 2}}\n"),
            "test.yaml:3: duplicate key 'policies[0].options.temperature.max'");
}

// --- errors in the document

TEST_F(config_test, unknown_key_is_rejected_with_its_line_and_path) {
  EXPECT_EQ(error_of("server:\n  port: 9000\n\nollama:\n  timeout: 1m\n  basee_url: http://x\n"),
            "test.yaml:6: unknown key 'ollama.basee_url'");
  EXPECT_EQ(error_of("servers:\n  port: 1\n"), "test.yaml:1: unknown key 'servers'");
  EXPECT_EQ(error_of("ollama:\n  backends:\n    - url: http://a\n      wieght: 2\n"),
            "test.yaml:4: unknown key 'ollama.backends[0].wieght'");
}

TEST_F(config_test, repeated_key_is_rejected) {
  EXPECT_EQ(error_of("server:\n  port: 1\n  port: 2\n"),
            "test.yaml:3: duplicate key 'server.port'");
}

TEST_F(config_test, wrong_type_names_the_key_and_the_value) {
  EXPECT_EQ(error_of("ollama:\n  max_retries: x\n"),
            "test.yaml:2: ollama.max_retries: expected an integer from 0 to 10, got 'x'");
  EXPECT_EQ(error_of("server:\n  port: 1.5\n"),
            "test.yaml:2: server.port: expected an integer from 1 to 65535, got '1.5'");
  EXPECT_EQ(error_of("server:\n  port: [1]\n"),
            "test.yaml:2: server.port: expected an integer from 1 to 65535, got a list");
  EXPECT_EQ(error_of("server:\n  host:\n"),
            "test.yaml:2: server.host: expected a non-empty string, got nothing");
  EXPECT_EQ(error_of("server: 8080\n"), "test.yaml:1: server: expected a mapping, got '8080'");
  EXPECT_EQ(error_of("log:\n  level: verbose\n"),
            "test.yaml:2: log.level: expected debug, info, warn or error, got 'verbose'");
}

TEST_F(config_test, out_of_range_values_are_rejected) {
  EXPECT_EQ(error_of("server:\n  port: 0\n"),
            "test.yaml:2: server.port: expected an integer from 1 to 65535, got '0'");
  EXPECT_EQ(error_of("server:\n  port: 65536\n"),
            "test.yaml:2: server.port: expected an integer from 1 to 65535, got '65536'");
  EXPECT_EQ(error_of("server:\n  threads: 257\n"),
            "test.yaml:2: server.threads: expected an integer from 0 to 256, got '257'");
  EXPECT_EQ(error_of("server:\n  max_body_bytes: 100\n"),
            "test.yaml:2: server.max_body_bytes: expected an integer of at least 1024, got '100'");
  EXPECT_EQ(
      error_of("ollama:\n  backends:\n    - url: a\n      weight: 1001\n"),
      "test.yaml:4: ollama.backends[0].weight: expected an integer from 1 to 1000, got '1001'");
}

TEST_F(config_test, top_level_must_be_a_mapping) {
  EXPECT_EQ(
      error_of("- server\n"),
      "test.yaml:1: expected a mapping of sections (server, ollama, upstream, log, management, "
      "policies, presets) at the top level, got a list");
}

TEST_F(config_test, yaml_syntax_error_names_file_and_line) {
  const std::string e = error_of("server:\n  port: [1,\nlog: {}\n");
  EXPECT_TRUE(e.starts_with("test.yaml:")) << e;
  EXPECT_NE(e.find("invalid YAML: "), std::string::npos) << e;
  EXPECT_EQ(error_of("server:\n  port: 1\n\thost: x\n").substr(0, 12), "test.yaml:3:");
}

TEST_F(config_test, https_backend_is_refused_naming_the_key) {
  EXPECT_EQ(error_of("ollama:\n  base_url: https://gpu1:11434\n"),
            "test.yaml:2: ollama.base_url: https backends are not supported yet, got "
            "'https://gpu1:11434'");
  EXPECT_EQ(error_of("ollama:\n  backends:\n    - url: https://gpu1\n"),
            "test.yaml:3: ollama.backends[0].url: https backends are not supported yet, got "
            "'https://gpu1'");
}

TEST_F(config_test, bad_or_zero_duration_is_rejected) {
  const std::string expected =
      "test.yaml:2: ollama.timeout: expected a duration above 0 such as '300ms', '60s' or "
      "'1m30s', got ";
  EXPECT_EQ(error_of("ollama:\n  timeout: 10 seconds\n"), expected + "'10 seconds'");
  EXPECT_EQ(error_of("ollama:\n  timeout: -5s\n"), expected + "'-5s'");
  EXPECT_EQ(error_of("ollama:\n  timeout: 0s\n"), expected + "'0s'");
}

TEST_F(config_test, base_url_and_backends_together_are_rejected) {
  EXPECT_EQ(error_of("ollama:\n  base_url: http://a\n  backends:\n    - url: http://b\n"),
            "test.yaml:4: ollama.backends: ollama.base_url and ollama.backends are mutually "
            "exclusive; list the backends in one of them");
}

TEST_F(config_test, duplicate_backend_url_or_name_is_rejected) {
  EXPECT_EQ(error_of("ollama:\n  base_url: [http://a:11434, 'a']\n"),
            "test.yaml:2: ollama.base_url[1]: duplicate backend 'http://a:11434'");
  EXPECT_EQ(error_of("ollama:\n  backends:\n    - url: http://a\n      name: x\n"
                     "    - url: http://b\n      name: x\n"),
            "test.yaml:6: ollama.backends[1].name: duplicate backend name 'x'");
}

TEST_F(config_test, empty_backend_list_is_rejected) {
  EXPECT_EQ(error_of("ollama:\n  base_url: []\n"),
            "test.yaml:2: ollama.base_url: at least one backend is required");
  EXPECT_EQ(error_of("ollama:\n  backends: []\n"),
            "test.yaml:2: ollama.backends: at least one backend is required");
  EXPECT_EQ(error_of("ollama:\n  backends:\n    - name: x\n"),
            "test.yaml:3: ollama.backends[0]: url is required");
}

TEST_F(config_test, eject_max_below_eject_base_is_rejected) {
  EXPECT_EQ(error_of("upstream:\n  eject_base: 2s\n  eject_max: 1s\n"),
            "test.yaml:3: upstream.eject_max: must be at least upstream.eject_base (2s), got '1s'");
  EXPECT_EQ(error_of("upstream:\n  eject_base: 1m\n"),
            "test.yaml:2: upstream.eject_base: must not exceed upstream.eject_max (30s), got '1m'");
}

TEST_F(config_test, missing_file_is_an_error_naming_it) {
  try {
    load_config_file("/nonexistent/corral.yaml");
    FAIL() << "no config_error";
  } catch (const config_error& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("/nonexistent/corral.yaml: cannot open"))
        << e.what();
  }
}

// --- environment

TEST_F(config_test, env_overrides_replace_file_values) {
  config cfg = parse("server:\n  port: 1234\nollama:\n  base_url: http://a\n");
  apply_env_overrides(cfg, {{"PORT", "8000"},
                            {"HOST", "::"},
                            {"OLLAMA_BASE_URL", "gpu1, gpu2:12000"},
                            {"OLLAMA_TIMEOUT", "120"},
                            {"OLLAMA_MAX_RETRIES", "5"},
                            {"OLLAMA_AUTO_PULL", "1"},
                            {"OLLAMA_MAX_CONCURRENT", "4"},
                            {"LOG_LEVEL", "WARNING"}});
  EXPECT_EQ(cfg.server.port, 8000);
  EXPECT_EQ(cfg.server.host, "::");
  ASSERT_EQ(cfg.ollama.backends.size(), 2u);
  EXPECT_EQ(cfg.ollama.backends[0].url, "http://gpu1:11434");
  EXPECT_EQ(cfg.ollama.backends[1].url, "http://gpu2:12000");
  EXPECT_EQ(cfg.ollama.timeout, 120s);
  EXPECT_EQ(cfg.ollama.max_retries, 5);
  EXPECT_TRUE(cfg.ollama.auto_pull);
  EXPECT_EQ(cfg.ollama.max_concurrent, 4);
  EXPECT_EQ(cfg.log.level, log_level::warn);
}

TEST_F(config_test, env_sets_default_and_embedding_models_checking_them) {
  config cfg = parse("ollama:\n  default_model: llama2\n");
  apply_env_overrides(cfg, {{"OLLAMA_DEFAULT_MODEL", " mistral:7b "},
                            {"OLLAMA_EMBEDDING_MODEL", "nomic-embed-text"}});
  EXPECT_EQ(cfg.ollama.default_model, "mistral:7b");
  EXPECT_EQ(cfg.ollama.embedding_model, "nomic-embed-text");
  EXPECT_EQ(env_error_of({{"OLLAMA_DEFAULT_MODEL", "a b"}}),
            "environment variable OLLAMA_DEFAULT_MODEL: expected a model name such as 'llama3.2' "
            "or 'library/mistral:7b', got 'a b'");
  EXPECT_EQ(env_error_of({{"OLLAMA_EMBEDDING_MODEL", "x:"}}),
            "environment variable OLLAMA_EMBEDDING_MODEL: expected a model name such as "
            "'llama3.2' or 'library/mistral:7b', got 'x:'");
}

TEST_F(config_test, empty_env_values_are_ignored) {
  config cfg = default_config();
  apply_env_overrides(cfg, {{"PORT", ""}, {"OLLAMA_BASE_URL", ""}, {"LOG_LEVEL", "  "}});
  expect_same(cfg, default_config());
}

TEST_F(config_test, bad_env_value_names_the_variable) {
  EXPECT_EQ(env_error_of({{"OLLAMA_MAX_RETRIES", "abc"}}),
            "environment variable OLLAMA_MAX_RETRIES: expected an integer from 0 to 10, got 'abc'");
  EXPECT_EQ(env_error_of({{"PORT", "70000"}}),
            "environment variable PORT: expected an integer from 1 to 65535, got '70000'");
  EXPECT_EQ(env_error_of({{"OLLAMA_AUTO_PULL", "yes"}}),
            "environment variable OLLAMA_AUTO_PULL: expected true, false, 1 or 0, got 'yes'");
  EXPECT_EQ(env_error_of({{"LOG_LEVEL", "trace"}}),
            "environment variable LOG_LEVEL: expected debug, info, warn or error, got 'trace'");
  EXPECT_EQ(env_error_of({{"OLLAMA_BASE_URL", "https://gpu1"}}),
            "environment variable OLLAMA_BASE_URL: https backends are not supported yet, got "
            "'https://gpu1'");
  EXPECT_TRUE(env_error_of({{"OLLAMA_TIMEOUT", "soon"}})
                  .starts_with("environment variable OLLAMA_TIMEOUT: expected a duration"));
}

TEST_F(config_test, process_env_reads_only_the_known_variables) {
  ::setenv("OLLAMA_MAX_RETRIES", "7", 1);
  ::setenv("OLLAMA_EMBEDDING_MODEL", "nomic-embed-text", 1);
  ::setenv("OLLAMA_SOMETHING_ELSE", "x", 1);
  const auto env = read_process_env();
  ::unsetenv("OLLAMA_MAX_RETRIES");
  ::unsetenv("OLLAMA_EMBEDDING_MODEL");
  ::unsetenv("OLLAMA_SOMETHING_ELSE");
  ASSERT_EQ(env.count("OLLAMA_MAX_RETRIES"), 1u);
  EXPECT_EQ(env.at("OLLAMA_MAX_RETRIES"), "7");
  ASSERT_EQ(env.count("OLLAMA_EMBEDDING_MODEL"), 1u);
  EXPECT_EQ(env.at("OLLAMA_EMBEDDING_MODEL"), "nomic-embed-text");
  EXPECT_EQ(env.count("OLLAMA_SOMETHING_ELSE"), 0u);
}

TEST_F(config_test, log_levels_have_their_config_names) {
  EXPECT_EQ(to_string(log_level::debug), "debug");
  EXPECT_EQ(to_string(log_level::info), "info");
  EXPECT_EQ(to_string(log_level::warn), "warn");
  EXPECT_EQ(to_string(log_level::error), "error");
}

// --- durations

TEST_F(config_test, durations_parse_go_style_and_bare_seconds) {
  const std::vector<std::pair<std::string_view, millis>> table{
      {"300ms", 300ms}, {"60s", 60s},
      {"5m", 5min},     {"1h30m", 90min},
      {"1.5s", 1500ms}, {"0", 0ms},
      {"0s", 0ms},      {"60", 60s},
      {"1.5", 1500ms},  {"1h1m1s1ms", 3'661'001ms},
      {".5s", 500ms},   {"2h", 2h},
      {"0.1s", 100ms},  {"1.0005s", 1000ms},
      {"1m30s", 90s},
  };
  for (const auto& [text, expected] : table) {
    SCOPED_TRACE(text);
    const auto d = parse_duration(text);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, expected);
  }
}

TEST_F(config_test, malformed_or_negative_durations_are_rejected) {
  for (std::string_view text : {"", "-1s", "-5", "s", "1x", "1 s", " 1s", "1s ", "1.2.3s", "1sm",
                                "ms", ".", "1d", "+1s", "1h30", "99999999999999999999h"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_duration(text).has_value());
  }
}

TEST_F(config_test, durations_format_as_shortest_exact_strings) {
  const std::vector<std::pair<millis, std::string_view>> table{
      {0ms, "0s"},           {250ms, "250ms"}, {1s, "1s"},       {1500ms, "1.5s"},
      {90s, "1m30s"},        {5min, "5m"},     {90min, "1h30m"}, {3'600'250ms, "1h250ms"},
      {61'010ms, "1m1.01s"}, {-2s, "-2s"},
  };
  for (const auto& [d, expected] : table) {
    SCOPED_TRACE(expected);
    EXPECT_EQ(format_duration(d), expected);
    if (d >= 0ms) {
      EXPECT_EQ(parse_duration(format_duration(d)), d);
    }
  }
}

// --- backend lists

TEST_F(config_test, backend_list_splits_commas_and_trims_spaces) {
  const auto list = parse_backend_list(" http://a:1 ,http://b:2/,  c ", "OLLAMA_BASE_URL");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].url, "http://a:1");
  EXPECT_EQ(list[1].url, "http://b:2");
  EXPECT_EQ(list[2].url, "http://c:11434");
}

TEST_F(config_test, backend_without_scheme_uses_ollama_port_and_with_http_port_80) {
  const auto no_scheme = parse_backend_list("gpu1", "x");
  EXPECT_EQ(no_scheme[0].host, "gpu1");
  EXPECT_EQ(no_scheme[0].port, 11434);
  EXPECT_EQ(no_scheme[0].name, "gpu1:11434");
  const auto http = parse_backend_list("HTTP://GPU1", "x");
  EXPECT_EQ(http[0].host, "gpu1");
  EXPECT_EQ(http[0].port, 80);
  EXPECT_EQ(http[0].url, "http://gpu1:80");
}

TEST_F(config_test, backend_ipv6_literals_are_bracketed) {
  const auto list = parse_backend_list("[::1]:11434,http://[fd00::2]", "x");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].host, "::1");
  EXPECT_EQ(list[0].port, 11434);
  EXPECT_EQ(list[0].name, "[::1]:11434");
  EXPECT_EQ(list[0].url, "http://[::1]:11434");
  EXPECT_EQ(list[1].host, "fd00::2");
  EXPECT_EQ(list[1].port, 80);
}

TEST_F(config_test, malformed_backend_lists_are_rejected) {
  EXPECT_EQ(list_error_of(""), "OLLAMA_BASE_URL: at least one backend is required");
  EXPECT_EQ(list_error_of("a,,b"), "OLLAMA_BASE_URL: empty entry in the backend list 'a,,b'");
  EXPECT_EQ(list_error_of("http://a/api"),
            "OLLAMA_BASE_URL: a backend URL has no path, query or fragment, got 'http://a/api'");
  EXPECT_EQ(list_error_of("ftp://a"), "OLLAMA_BASE_URL: expected an http:// URL, got 'ftp://a'");
  EXPECT_EQ(list_error_of("a:0"), "OLLAMA_BASE_URL: expected a port from 1 to 65535 in 'a:0'");
  EXPECT_EQ(list_error_of("http://a:"),
            "OLLAMA_BASE_URL: expected a port from 1 to 65535 in 'http://a:'");
  EXPECT_EQ(
      list_error_of("::1"),
      "OLLAMA_BASE_URL: write IPv6 addresses in brackets, like 'http://[::1]:11434', got '::1'");
  EXPECT_EQ(list_error_of("http://user@a"),
            "OLLAMA_BASE_URL: invalid host in backend URL 'http://user@a'");
  EXPECT_EQ(list_error_of("a:1,http://a:1"), "OLLAMA_BASE_URL: duplicate backend 'http://a:1'");
}

// --- the configuration as a JSON document

TEST_F(config_test, document_has_every_section_with_backends_listed_and_durations_as_text) {
  const boost::json::object doc = config_to_json(parse(full_yaml), false);
  std::vector<std::string> sections;
  for (const auto& kv : doc) sections.emplace_back(kv.key());
  EXPECT_EQ(sections, (std::vector<std::string>{"server", "ollama", "upstream", "log",
                                                "management", "policies", "presets"}));
  EXPECT_EQ(doc.at("server").at("port"), 8080);
  EXPECT_EQ(doc.at("server").at("body_timeout"), "1m30s");
  EXPECT_EQ(doc.at("ollama").at("backends"),
            boost::json::parse(R"([{"name":"big","url":"http://gpu1:11434","weight":10},
              {"name":"[fd00::2]:11500","url":"http://[fd00::2]:11500","weight":1}])"));
  EXPECT_FALSE(doc.at("ollama").as_object().contains("base_url"));
  EXPECT_EQ(doc.at("ollama").at("health_check_period"), "1.5s");
  EXPECT_EQ(doc.at("ollama").at("models"), boost::json::parse(R"(["llama3.2","123","library/mistral:7b"])"));
  EXPECT_EQ(doc.at("log"), boost::json::parse(R"({"level":"debug","access_log":false})"));
  EXPECT_EQ(doc.at("management"),
            boost::json::parse(R"({"state_dir":"/var/lib/corral","batch_max_items":250})"));
  // A policy with its type, name, routes when given, and its options; the default name written.
  EXPECT_EQ(doc.at("policies").at(0).at("name"), "auth");
  EXPECT_EQ(doc.at("policies").at(0).at("routes"), boost::json::parse(R"(["inference","/api/chat"])"));
  EXPECT_EQ(doc.at("policies").at(0).at("header"), "X-API-Key");
  EXPECT_FALSE(doc.at("policies").at(1).as_object().contains("routes"));
  EXPECT_EQ(doc.at("presets").at(1), boost::json::parse(
      R"({"name":"123","model":"456","description":"true","api_token":"s3cr3t"})"));
  EXPECT_EQ(config_to_json(default_config(), true).at("policies"), boost::json::array());
}

TEST_F(config_test, document_round_trips_to_an_equal_config) {
  const config original = parse(full_yaml);
  const config again = parse_config_document(config_to_json(original, false), "PUT");
  expect_same(again, original);
  EXPECT_EQ(again.source, "PUT");
  EXPECT_TRUE(again.presets[0].where.starts_with("PUT:")) << again.presets[0].where;
  // The defaults too, and a second trip changes nothing.
  expect_same(parse_config_document(config_to_json(default_config(), false), "x"), default_config());
  EXPECT_EQ(config_to_json(again, false), config_to_json(original, false));
}

TEST_F(config_test, document_values_keep_their_json_types_through_yaml) {
  const config cfg = parse_config_document(json_of(R"({
    "ollama": {"models": ["123", "true"], "auto_pull": true, "timeout": "5s",
               "connect_timeout": 2},
    "presets": [{"name": "123", "flag": "true", "none": "null", "n": 123, "t": true,
                 "z": null, "d": 1.0, "big": 1e300, "s": "5s", "q": "a\"b\\c/\u00e9\t#: x",
                 "list": [], "map": {}}]
  })"), "PUT");
  EXPECT_EQ(cfg.ollama.models, (std::vector<std::string>{"123", "true"}));
  EXPECT_TRUE(cfg.ollama.auto_pull);
  EXPECT_EQ(cfg.ollama.timeout, 5s);
  EXPECT_EQ(cfg.ollama.connect_timeout, 2s);
  ASSERT_EQ(cfg.presets.size(), 1u);
  const boost::json::object& f = *cfg.presets[0].fields;
  EXPECT_EQ(f, json_of(R"({"name": "123", "flag": "true", "none": "null", "n": 123, "t": true,
                 "z": null, "d": 1.0, "big": 1e300, "s": "5s", "q": "a\"b\\c/\u00e9\t#: x",
                 "list": [], "map": {}})"));
  EXPECT_TRUE(f.at("name").is_string());
  EXPECT_TRUE(f.at("n").is_int64());
  EXPECT_TRUE(f.at("d").is_double());
  EXPECT_TRUE(f.at("z").is_null());
}

TEST_F(config_test, document_errors_name_the_key_and_the_line_as_jq_prints_it) {
  EXPECT_EQ(document_error_of(R"({"server": {"host": "::", "port": "9089x"}})"),
            "PUT:4: server.port: expected an integer from 1 to 65535, got '9089x'");
  EXPECT_EQ(document_error_of(R"({"ollama": {"models": ["ok", "not ok"]}})"),
            "PUT:5: ollama.models[1]: expected a model name such as 'llama3.2' or "
            "'library/mistral:7b', got 'not ok'");
  EXPECT_EQ(document_error_of(R"({"log": {"levels": "debug"}})"), "PUT:3: unknown key 'log.levels'");
  EXPECT_EQ(document_error_of(R"({"server": {"port": 8080.0}})"),
            "PUT:3: server.port: expected an integer from 1 to 65535, got '8080.0'");
  EXPECT_EQ(document_error_of(R"({"server": {"host": null}})"),
            "PUT:3: server.host: expected a non-empty string, got nothing");
  EXPECT_EQ(document_error_of(R"({"presets": [{}, 5]})"),
            "PUT:4: presets[1]: expected a mapping, got '5'");
}

TEST_F(config_test, masking_hides_secrets_in_policies_and_presets_only) {
  const config cfg = parse(R"(
server:
  host: token-host
policies:
  - type: auth
    keys:
      - {name: ops, hash: "sha256:aa", role: admin, labels: {team: a}}
    api_key: k1
    Client_Secret: s1
    db: {DSN: "postgres://u:p@h/db", user_password: p1, max_tokens: 10, tokens: [t1, t2]}
    key: k2
presets:
  - {name: p, token: t3, keys: [k3], model: m}
)");
  const boost::json::object masked = config_to_json(cfg, true);
  EXPECT_EQ(masked_value, "********");
  const boost::json::value m(masked_value);
  const boost::json::value& auth = masked.at("policies").at(0);
  EXPECT_EQ(auth.at("keys").at(0),
            boost::json::parse(R"({"name":"ops","hash":"********","role":"admin","labels":{"team":"a"}})"));
  EXPECT_EQ(auth.at("api_key"), m);
  EXPECT_EQ(auth.at("Client_Secret"), m);
  EXPECT_EQ(auth.at("key"), m);
  EXPECT_EQ(auth.at("type"), "auth");
  EXPECT_EQ(auth.at("db"),
            boost::json::parse(R"({"DSN":"********","user_password":"********","max_tokens":10,
                                   "tokens":["********","********"]})"));
  EXPECT_EQ(masked.at("presets").at(0),
            boost::json::parse(R"({"name":"p","token":"********","keys":["********"],"model":"m"})"));
  EXPECT_EQ(masked.at("server").at("host"), "token-host");
  // Unmasked, everything is as configured.
  EXPECT_EQ(config_to_json(cfg, false).at("policies").at(0).at("api_key"), "k1");
}

TEST_F(config_test, merge_merges_objects_and_replaces_arrays_and_scalars) {
  EXPECT_EQ(merged(R"({"server":{"host":"a","port":1},"policies":[{"type":"auth"},{"type":"x"}]})",
                   R"({"server":{"port":2,"threads":3},"policies":[{"type":"validation"}],"log":{"level":"warn"}})"),
            boost::json::serialize(json_of(
                R"({"server":{"host":"a","port":2,"threads":3},"policies":[{"type":"validation"}],
                    "log":{"level":"warn"}})")));
  // An object replaces a scalar; a scalar replaces an object.
  EXPECT_EQ(merged(R"({"a":1,"b":{"c":1}})", R"({"a":{"x":1},"b":2})"),
            boost::json::serialize(json_of(R"({"a":{"x":1},"b":2})")));
}

TEST_F(config_test, merge_with_null_removes_the_key_returning_it_to_its_default) {
  EXPECT_EQ(merged(R"({"server":{"host":"a","port":1},"presets":[{}]})",
                   R"({"server":{"port":null,"missing":null},"presets":null})"),
            R"({"server":{"host":"a"}})");
  boost::json::object doc = config_to_json(parse(full_yaml), false);
  merge_config_document(doc, json_of(R"({"management": {"state_dir": null}, "ollama": null})"));
  const config cfg = parse_config_document(doc, "PUT");
  EXPECT_EQ(cfg.management.state_dir, "");
  EXPECT_EQ(cfg.management.batch_max_items, 250);
  EXPECT_EQ(cfg.ollama, default_config().ollama);
}

TEST_F(config_test, merge_keeps_configured_values_where_the_patch_is_masked) {
  const config original = parse(full_yaml);
  boost::json::object doc = config_to_json(original, false);
  boost::json::object patch = config_to_json(original, true);
  ASSERT_EQ(patch.at("policies").at(0).at("keys").at(0).at("hash"), boost::json::value(masked_value));
  patch["management"].as_object()["batch_max_items"] = 500;
  merge_config_document(doc, patch);
  config expected = original;
  expected.management.batch_max_items = 500;
  expect_same(parse_config_document(doc, "PUT"), expected);
  // Inside a list, a masked value comes from the running entry with the same name, wherever it
  // stood: removing or reordering keys never hands one key's hash to another. The patch's list
  // still replaces the base's.
  EXPECT_EQ(merged(R"({"p":[{"name":"a","keys":[{"name":"k0","hash":"h0"},{"name":"k1","hash":"h1"}]},{"name":"b"}]})",
                   R"({"p":[{"name":"a","keys":[{"name":"k1","hash":"********"}]}]})"),
            R"({"p":[{"name":"a","keys":[{"name":"k1","hash":"h1"}]}]})");
  EXPECT_EQ(merged(R"({"keys":[{"name":"alice","hash":"ha"},{"name":"bob","hash":"hb"}]})",
                   R"({"keys":[{"name":"bob","hash":"********"},{"name":"alice","hash":"********"}]})"),
            R"({"keys":[{"name":"bob","hash":"hb"},{"name":"alice","hash":"ha"}]})");
  // Entries without a name: by position, only while the list keeps its length.
  EXPECT_EQ(merged(R"({"tokens":["x","y"]})", R"({"tokens":["********","z"]})"), R"({"tokens":["x","z"]})");
  EXPECT_EQ(merged(R"({"a":{"token":{"deep":1}}})", R"({"a":{"token":"********"}})"),
            R"({"a":{"token":{"deep":1}}})");
}

TEST_F(config_test, merge_refuses_a_masked_value_where_nothing_is_configured) {
  EXPECT_EQ(merge_error_of(R"({"policies":[{"keys":[{"hash":"h0"}]}]})",
                           R"({"policies":[{"keys":[{"hash":"h0"},{"hash":"********"}]}]})"),
            "policies[0].keys[1].hash: masked value '********' given where no value is configured (a masked value "
            "is kept from the running entry with the same name; send the value itself)");
  EXPECT_NE(merge_error_of(R"({"keys":[{"name":"alice","hash":"ha"}]})", R"({"keys":[{"name":"carol","hash":"********"}]})")
                .find("keys[0].hash: masked value"),
            std::string::npos)
      << "a masked hash under a name the running config lacks is refused";
  EXPECT_NE(merge_error_of(R"({"tokens":["x","y"]})", R"({"tokens":["********"]})").find("tokens[0]"), std::string::npos);
  EXPECT_EQ(merge_error_of(R"({})", R"({"presets":{"x":{"password":"********"}}})"),
            "presets.x.password: masked value '********' given where no value is configured (a masked value is "
            "kept from the running entry with the same name; send the value itself)");
  EXPECT_EQ(merge_error_of(R"({"a":[]})", R"({"a":["********"]})"),
            "a[0]: masked value '********' given where no value is configured (a masked value is kept from the "
            "running entry with the same name; send the value itself)");
}

TEST_F(config_test, merge_treats_base_url_and_backends_as_one_setting) {
  boost::json::object doc = config_to_json(parse(full_yaml), false);
  merge_config_document(doc, json_of(R"({"ollama": {"base_url": "http://gpu9:11434"}})"));
  EXPECT_FALSE(doc.at("ollama").as_object().contains("backends"));
  EXPECT_EQ(parse_config_document(doc, "PUT").ollama.backends,
            parse_backend_list("http://gpu9:11434", "x"));
  merge_config_document(doc, json_of(R"({"ollama": {"backends": [{"url": "gpu8"}]}})"));
  EXPECT_FALSE(doc.at("ollama").as_object().contains("base_url"));
  EXPECT_EQ(parse_config_document(doc, "PUT").ollama.backends[0].name, "gpu8:11434");
  // Both in one patch stay both, and the parser names the conflict.
  merge_config_document(doc, json_of(R"({"ollama": {"base_url": "a", "backends": [{"url": "b"}]}})"));
  EXPECT_NE(document_error_of(boost::json::serialize(doc)).find("mutually exclusive"), std::string::npos);
}

TEST_F(config_test, live_only_changes_name_each_key_that_needs_a_restart) {
  const config running = default_config();
  const std::vector<std::pair<std::string_view, std::string>> restart{
      {"server:\n  host: 127.0.0.1\n", "server.host"},
      {"server:\n  port: 1\n", "server.port"},
      {"server:\n  threads: 2\n", "server.threads"},
      {"ollama:\n  base_url: http://other:11434\n", "ollama.backends"},
      {"ollama:\n  backends: [{url: http://localhost:11434, weight: 2}]\n", "ollama.backends"},
      {"upstream:\n  max_idle_per_backend: 1\n", "upstream.max_idle_per_backend"},
      {"upstream:\n  eject_after_failures: 1\n", "upstream.eject_after_failures"},
      {"upstream:\n  eject_base: 2s\n", "upstream.eject_base"},
      {"upstream:\n  eject_max: 1m\n", "upstream.eject_max"},
      {"management:\n  state_dir: /tmp/x\n", "management.state_dir"},
  };
  for (const auto& [yaml, key] : restart) {
    SCOPED_TRACE(yaml);
    EXPECT_EQ(live_only_changes(running, parse(yaml)), std::vector<std::string>{key});
  }
  EXPECT_EQ(live_only_changes(running, parse("server:\n  host: h\n  port: 2\n"
                                             "management:\n  state_dir: d\n")),
            (std::vector<std::string>{"server.host", "server.port", "management.state_dir"}));
  // The same backends written the other way are no change.
  EXPECT_TRUE(live_only_changes(running, parse("ollama:\n  backends: [{url: localhost}]\n")).empty());
}

TEST_F(config_test, everything_else_changes_live) {
  const config changed = parse(R"(
server:
  max_header_bytes: 8192
  max_body_bytes: 2048
  header_timeout: 1s
  body_timeout: 2s
  keepalive_timeout: 3s
  send_timeout: 4s
ollama:
  timeout: 1s
  connect_timeout: 1s
  health_check_period: 1s
  max_retries: 0
  auto_pull: true
  max_concurrent: 3
  models: [llama2]
  default_model: llama2
  embedding_model: nomic-embed-text
log:
  level: error
  access_log: false
management:
  batch_max_items: 7
policies:
  - type: validation
presets:
  - name: p
)");
  EXPECT_TRUE(live_only_changes(default_config(), changed).empty());
}

// --- shipped files

#ifdef CORRAL_SOURCE_DIR
TEST_F(config_test, shipped_corral_yaml_equals_the_defaults) {
  const config cfg = load_config_file(CORRAL_SOURCE_DIR "/config/corral.yaml");
  expect_same(cfg, default_config());
  EXPECT_EQ(config_to_json(cfg, false), config_to_json(default_config(), false));
}

TEST_F(config_test, fleet_example_has_three_weighted_backends) {
  const config cfg = load_config_file(CORRAL_SOURCE_DIR "/config/examples/fleet.yaml");
  ASSERT_EQ(cfg.ollama.backends.size(), 3u);
  EXPECT_EQ(cfg.ollama.backends[0].name, "gpu-a100");
  EXPECT_EQ(cfg.ollama.backends[0].weight, 4);
  EXPECT_LT(cfg.ollama.timeout, default_config().ollama.timeout);
}
#endif

}  // namespace
}  // namespace corral
