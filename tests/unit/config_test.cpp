#include "gateway/core/config.hpp"

#include <gtest/gtest.h>

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

  // Every field but `source`: the config structs have no operator==.
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
    EXPECT_EQ(a.upstream.max_idle_per_backend, b.upstream.max_idle_per_backend);
    EXPECT_EQ(a.upstream.eject_after_failures, b.upstream.eject_after_failures);
    EXPECT_EQ(a.upstream.eject_base, b.upstream.eject_base);
    EXPECT_EQ(a.upstream.eject_max, b.upstream.eject_max);
    EXPECT_EQ(a.log.level, b.log.level);
    EXPECT_EQ(a.log.access_log, b.log.access_log);
  }
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
      "test.yaml:1: expected a mapping of sections (server, ollama, upstream, log, policies) at the top "
      "level, got a list");
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
  ::setenv("OLLAMA_SOMETHING_ELSE", "x", 1);
  const auto env = read_process_env();
  ::unsetenv("OLLAMA_MAX_RETRIES");
  ::unsetenv("OLLAMA_SOMETHING_ELSE");
  ASSERT_EQ(env.count("OLLAMA_MAX_RETRIES"), 1u);
  EXPECT_EQ(env.at("OLLAMA_MAX_RETRIES"), "7");
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

// --- shipped files

#ifdef CORRAL_SOURCE_DIR
TEST_F(config_test, shipped_corral_yaml_equals_the_defaults) {
  const config cfg = load_config_file(CORRAL_SOURCE_DIR "/config/corral.yaml");
  expect_same(cfg, default_config());
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
