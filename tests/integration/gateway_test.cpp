// End to end: the real corral binary over real fake-ollama processes.
#include "harness.hpp"

#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <set>

namespace corral::test {
namespace {

namespace json = boost::json;

class gateway_test : public ::testing::Test {
 protected:
  // Two backends: a has llama2 + mistral, b has llama2 + codellama; llama2 loaded nowhere.
  void start(const std::string& ollama_yaml = {}, std::vector<std::string> a_args = {},
             std::vector<std::string> b_args = {}, const std::string& server_yaml = {}) {
    a_args.insert(a_args.end(), {"--name", "a", "--models", "llama2,mistral,nomic-embed-text"});
    b_args.insert(b_args.end(), {"--name", "b", "--models", "llama2,codellama"});
    a = std::make_unique<fake_ollama>(a_args);
    b = std::make_unique<fake_ollama>(b_args);
    gw = std::make_unique<corral_process>(std::vector<std::string>{a->url(), b->url()}, ollama_yaml, server_yaml);
  }
  unsigned short port() const { return gw->port; }

  std::unique_ptr<fake_ollama> a, b;
  std::unique_ptr<corral_process> gw;
};

std::string generate_body(const std::string& model, bool stream) {
  return R"({"model":")" + model + R"(","prompt":"why is the sky blue","stream":)" + (stream ? "true" : "false") + "}";
}

TEST_F(gateway_test, relays_streaming_and_plain_bodies_byte_for_byte) {
  start();
  struct call {
    std::string target, body;
  };
  std::vector<call> calls{
      {"/api/generate", generate_body("mistral", true)},
      {"/api/generate", generate_body("mistral", false)},
      {"/api/chat", R"({"model":"mistral","messages":[{"role":"user","content":"hi there"}]})"},
      {"/api/embed", R"({"model":"nomic-embed-text","input":["a","b"]})"},
      {"/v1/chat/completions", R"({"model":"mistral","stream":true,"messages":[{"role":"user","content":"hi"}]})"},
      {"/v1/completions", R"({"model":"mistral","prompt":"hi"})"},
  };
  for (const auto& c : calls) {
    auto direct = request(a->port, "POST", c.target, c.body);
    auto proxied = request(port(), "POST", c.target, c.body);
    EXPECT_EQ(direct.status, 200) << c.target;
    EXPECT_EQ(proxied.status, direct.status) << c.target;
    EXPECT_EQ(proxied.header("content-type"), direct.header("content-type")) << c.target;
    EXPECT_EQ(proxied.body, direct.body) << c.target << " " << c.body;
    EXPECT_FALSE(proxied.body.empty());
  }
}

TEST_F(gateway_test, streams_each_line_as_it_is_generated) {
  start();
  connection c(port());
  // 5 tokens, 300 ms apart: the first line must arrive long before the stream ends.
  c.send("POST", "/api/generate", generate_body("mistral", true),
         {{"X-Fake-Tokens", "5"}, {"X-Fake-Token-Delay-Ms", "300"}});
  auto t0 = std::chrono::steady_clock::now();
  auto head = c.read_head();
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-type"), "application/x-ndjson");
  auto first = c.read_body_piece();
  auto first_at = std::chrono::steady_clock::now() - t0;
  std::string rest;
  for (std::string piece; !(piece = c.read_body_piece()).empty();) rest += piece;
  auto total = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(first.find("\"done\":false"), std::string::npos) << first;
  EXPECT_LT(first_at * 3, total) << "first line was held back";
  EXPECT_NE(rest.find("\"done\":true"), std::string::npos);
}

TEST_F(gateway_test, routes_by_model_to_a_backend_that_has_it) {
  start();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(request(port(), "POST", "/api/generate", generate_body("mistral", false)).header("x-fake-backend"), "a");
    EXPECT_EQ(request(port(), "POST", "/api/generate", generate_body("codellama", false)).header("x-fake-backend"), "b");
  }
  // No tag means :latest, and names match case-insensitively.
  EXPECT_EQ(request(port(), "POST", "/api/chat", R"({"model":"CodeLlama:latest","messages":[],"stream":false})")
                .header("x-fake-backend"),
            "b");
}

TEST_F(gateway_test, unknown_model_is_a_404_worded_as_ollama_words_it) {
  start();
  auto r = request(port(), "POST", "/api/generate", generate_body("nosuchmodel", false));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(parse_json(r.body).at("error").as_string(), "model \"nosuchmodel:latest\" not found, try pulling it first");
  auto o = request(port(), "POST", "/v1/chat/completions", R"({"model":"nosuch","messages":[{"role":"user","content":"x"}]})");
  EXPECT_EQ(o.status, 404);
  EXPECT_EQ(parse_json(o.body).at("error").at("type").as_string(), "not_found_error");
}

TEST_F(gateway_test, prefers_the_backend_with_fewer_requests_in_flight) {
  // llama2 loaded on both: "loaded" ties, so requests in flight decide.
  start({}, {"--loaded", "llama2"}, {"--loaded", "llama2"});
  // Hold a slow llama2 stream open on one backend; the next llama2 requests go to the other.
  connection slow(port());
  slow.send("POST", "/api/generate", generate_body("llama2", true), {{"X-Fake-Tokens", "50"}, {"X-Fake-Token-Delay-Ms", "100"}});
  auto head = slow.read_head();
  ASSERT_EQ(head.status, 200);
  auto busy = head.header("x-fake-backend");
  ASSERT_FALSE(busy.empty());
  for (int i = 0; i < 5; ++i) {
    auto r = request(port(), "POST", "/api/generate", generate_body("llama2", false));
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.header("x-fake-backend"), busy);
  }
}

TEST_F(gateway_test, prefers_the_backend_where_the_model_is_loaded) {
  start({}, {}, {"--loaded", "llama2"});
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(request(port(), "POST", "/api/generate", generate_body("llama2", false)).header("x-fake-backend"), "b");
}

TEST_F(gateway_test, fails_over_to_another_backend_before_the_first_byte) {
  start("  max_retries: 1\n");
  a->set_faults(R"({"status":503})");
  b->set_faults(R"({})");
  for (int i = 0; i < 4; ++i) {
    auto r = request(port(), "POST", "/api/generate", generate_body("llama2", false));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-fake-backend"), "b");
  }
  auto metrics = request(port(), "GET", "/metrics").body;
  EXPECT_EQ(metrics.find("corral_upstream_retries_total 0\n"), std::string::npos) << metrics;
}

TEST_F(gateway_test, a_dead_backend_is_routed_around) {
  start();
  a->proc->kill(SIGKILL);
  a->proc->wait_exit();
  for (int i = 0; i < 4; ++i) {
    auto r = request(port(), "POST", "/api/generate", generate_body("llama2", false));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-fake-backend"), "b");
  }
  // mistral only lived on a: now there is no healthy backend for it.
  EXPECT_TRUE(eventually([&] { return request(port(), "POST", "/api/generate", generate_body("mistral", false)).status == 503; }));
}

TEST_F(gateway_test, a_stream_broken_after_its_first_byte_ends_with_one_error_line) {
  start();
  auto r = request(port(), "POST", "/api/generate", generate_body("mistral", true), {{"X-Fake-Drop-After", "3"}});
  EXPECT_EQ(r.status, 200);
  auto lines = split_lines(r.body);
  ASSERT_EQ(lines.size(), 4u) << r.body;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(parse_json(lines[i]).at("done").as_bool(), false);
  EXPECT_TRUE(parse_json(lines[3]).as_object().contains("error")) << lines[3];
  EXPECT_EQ(r.body.back(), '\n');

  // SSE: an error event, well-framed.
  auto s = request(port(), "POST", "/v1/chat/completions",
                   R"({"model":"mistral","stream":true,"messages":[{"role":"user","content":"hi"}]})",
                   {{"X-Fake-Drop-After", "2"}});
  EXPECT_EQ(s.status, 200);
  auto last_event = s.body.substr(s.body.rfind("data: "));
  EXPECT_EQ(last_event.substr(last_event.size() - 2), "\n\n");
  EXPECT_TRUE(parse_json(last_event.substr(6)).as_object().contains("error")) << s.body;
}

TEST_F(gateway_test, client_disconnect_closes_the_upstream_stream) {
  start();
  connection c(port());
  c.send("POST", "/api/generate", generate_body("mistral", true), {{"X-Fake-Tokens", "200"}, {"X-Fake-Token-Delay-Ms", "50"}});
  ASSERT_EQ(c.read_head().status, 200);
  ASSERT_FALSE(c.read_body_piece().empty());
  auto closed_at = std::chrono::steady_clock::now();
  c.close();
  ASSERT_TRUE(eventually([&] { return a->stats().at("cancelled").to_number<int>() == 1; }, 5s));
  auto seen_after = std::chrono::steady_clock::now() - closed_at;
  // The fake notices a closed connection at its next token (50 ms); corral must close it at once.
  EXPECT_LT(seen_after, 1s);
}

TEST_F(gateway_test, first_byte_timeout_answers_504) {
  start("  timeout: 300ms\n");
  auto r = request(port(), "POST", "/api/generate", generate_body("mistral", false), {{"X-Fake-First-Byte-Delay-Ms", "2000"}});
  EXPECT_EQ(r.status, 504);
  EXPECT_TRUE(parse_json(r.body).as_object().contains("error"));
}

TEST_F(gateway_test, timeout_bounds_each_wait_not_the_whole_stream) {
  start("  timeout: 800ms\n");
  // 12 tokens 100 ms apart: 1.2 s in all, longer than the bound; each gap well under it.
  auto r = request(port(), "POST", "/api/generate", generate_body("mistral", true),
                   {{"X-Fake-Tokens", "12"}, {"X-Fake-Token-Delay-Ms", "100"}});
  EXPECT_EQ(r.status, 200);
  auto lines = split_lines(r.body);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(parse_json(lines.back()).at("done").as_bool(), true) << r.body;
}

TEST_F(gateway_test, ready_follows_backend_death_and_recovery) {
  start();
  EXPECT_EQ(request(port(), "GET", "/ready").status, 200);
  auto a_port = a->port;
  a->proc->kill(SIGKILL);
  b->proc->kill(SIGKILL);
  a->proc->wait_exit();
  b->proc->wait_exit();
  ASSERT_TRUE(eventually([&] { return request(port(), "GET", "/ready").status == 503; }));
  auto down = request(port(), "GET", "/ready");
  EXPECT_NE(down.body.find("no healthy backend"), std::string::npos) << down.body;
  EXPECT_EQ(request(port(), "POST", "/api/generate", generate_body("mistral", false)).status, 503);

  a = std::make_unique<fake_ollama>(std::vector<std::string>{"--name", "a", "--models", "mistral"}, a_port);
  ASSERT_TRUE(eventually([&] { return request(port(), "GET", "/ready").status == 200; }));
  auto r = request(port(), "POST", "/api/generate", generate_body("mistral", false));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("x-fake-backend"), "a");
}

TEST_F(gateway_test, merges_tags_and_ps_across_backends) {
  start({}, {"--loaded", "mistral"}, {"--loaded", "codellama"});
  auto tags = parse_json(request(port(), "GET", "/api/tags").body);
  std::vector<std::string> names;
  for (auto& m : tags.at("models").as_array()) names.emplace_back(m.at("name").as_string());
  std::sort(names.begin(), names.end());
  // The built-in presets' models are all on the fleet, so each preset is listed as a model too.
  EXPECT_EQ(names, (std::vector<std::string>{"@coding", "@creative", "@general", "@security", "codellama:latest",
                                             "llama2:latest", "mistral:latest", "nomic-embed-text:latest"}));
  auto ps = parse_json(request(port(), "GET", "/api/ps").body);
  std::vector<std::string> loaded;
  for (auto& m : ps.at("models").as_array()) loaded.emplace_back(m.at("name").as_string());
  std::sort(loaded.begin(), loaded.end());
  EXPECT_EQ(loaded, (std::vector<std::string>{"codellama:latest", "mistral:latest"}));
  auto v1 = parse_json(request(port(), "GET", "/v1/models").body);
  EXPECT_EQ(v1.at("object").as_string(), "list");
  EXPECT_EQ(v1.at("data").as_array().size(), 8u);
  auto one = request(port(), "GET", "/v1/models/codellama:latest");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(parse_json(one.body).at("id").as_string(), "codellama:latest");
}

TEST_F(gateway_test, pull_runs_on_every_backend_with_one_merged_stream) {
  start();
  auto r = request(port(), "POST", "/api/pull", R"({"name":"phi3"})");
  EXPECT_EQ(r.status, 200);
  auto lines = split_lines(r.body);
  ASSERT_GE(lines.size(), 3u);
  int successes = 0;
  std::set<std::string> backends;
  for (auto& l : lines) {
    auto v = parse_json(l);
    if (v.at("status").as_string() == "success") ++successes;
    else backends.insert(std::string(v.at("backend").as_string()));
  }
  EXPECT_EQ(successes, 1);
  EXPECT_EQ(parse_json(lines.back()).at("status").as_string(), "success");
  EXPECT_EQ(backends.size(), 2u);
  auto has = [](const fake_ollama& f) { return request(f.port, "GET", "/api/tags").body.find("phi3:latest") != std::string::npos; };
  EXPECT_TRUE(has(*a));
  EXPECT_TRUE(has(*b));
  // And corral routes to it at once.
  EXPECT_EQ(request(port(), "POST", "/api/generate", generate_body("phi3", false)).status, 200);
}

TEST_F(gateway_test, delete_and_copy_reach_every_backend_that_has_the_model) {
  start();
  auto copy = request(port(), "POST", "/api/copy", R"({"source":"llama2","destination":"llama2-copy"})");
  EXPECT_EQ(copy.status, 200) << copy.body;
  EXPECT_TRUE(copy.body.empty());
  for (auto* f : {a.get(), b.get()})
    EXPECT_NE(request(f->port, "GET", "/api/tags").body.find("llama2-copy:latest"), std::string::npos);
  auto del = request(port(), "DELETE", "/api/delete", R"({"model":"llama2-copy"})");
  EXPECT_EQ(del.status, 200) << del.body;
  for (auto* f : {a.get(), b.get()})
    EXPECT_EQ(request(f->port, "GET", "/api/tags").body.find("llama2-copy:latest"), std::string::npos);
  auto missing = request(port(), "DELETE", "/api/delete", R"({"model":"llama2-copy"})");
  EXPECT_EQ(missing.status, 404);
}

TEST_F(gateway_test, bad_requests_get_their_status_and_other_connections_keep_working) {
  start({}, {}, {}, "  max_body_bytes: 4096\n  max_header_bytes: 2048\n  header_timeout: 500ms\n");
  // A keep-alive connection opened before the bad requests, used again after them.
  connection bystander(port());
  bystander.send("POST", "/api/generate", generate_body("mistral", false));
  ASSERT_EQ(bystander.read_response().status, 200);

  auto expect_error = [](const response& r, unsigned status, const std::string& words) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json; charset=utf-8");
    auto v = parse_json(r.body);
    ASSERT_TRUE(v.is_object() && v.as_object().contains("error")) << r.body;
    EXPECT_NE(std::string(v.at("error").as_string()).find(words), std::string::npos) << r.body;
  };
  expect_error(request(port(), "POST", "/api/generate", R"({"model":"mistral","prompt":)"), 400, "invalid JSON");
  expect_error(request(port(), "POST", "/api/generate", ""), 400, "missing request body");
  expect_error(request(port(), "POST", "/api/chat", R"({"messages":[]})"), 400, "model is required");
  expect_error(request(port(), "POST", "/api/generate", R"({"model":"bad name!"})"), 400, "invalid model name");
  expect_error(request(port(), "POST", "/api/generate", std::string(5000, ' ')), 413, "too large");
  expect_error(request(port(), "GET", "/api/tags", {}, {{"X-Big", std::string(4000, 'x')}}), 431, "too large");
  {
    // A head that never completes: 408 once header_timeout passes.
    connection slow(port());
    slow.send_raw("GET /api/tags HTTP/1.1\r\nHost: x\r\n");
    expect_error(slow.read_response(), 408, "not received");
  }
  {
    // A malformed JSON request keeps its connection usable.
    connection c(port());
    c.send("POST", "/api/generate", "{nope");
    EXPECT_EQ(c.read_response().status, 400);
    c.send("POST", "/api/generate", generate_body("mistral", false));
    EXPECT_EQ(c.read_response().status, 200);
  }
  bystander.send("POST", "/api/generate", generate_body("mistral", false));
  EXPECT_EQ(bystander.read_response().status, 200);
  EXPECT_EQ(a->stats().at("by_route").at("/api/generate").to_number<int>(), 3);
}

TEST_F(gateway_test, pipelined_requests_are_answered_in_order) {
  start();
  connection c(port());
  std::string two;
  for (auto model : {"mistral", "codellama"}) {
    auto body = generate_body(model, false);
    two += "POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  c.send_raw(two);
  auto first = c.read_response();
  auto second = c.read_response();
  EXPECT_EQ(first.header("x-fake-backend"), "a");
  EXPECT_EQ(second.header("x-fake-backend"), "b");
}

TEST_F(gateway_test, request_id_is_honoured_sent_upstream_and_returned) {
  start();
  auto r = request(port(), "POST", "/api/generate", generate_body("mistral", false), {{"X-Request-Id", "abc-123"}});
  EXPECT_EQ(r.header("x-request-id"), "abc-123");
  auto seen = a->stats().at("last_request_headers");
  std::string upstream_id;
  for (auto& [k, v] : seen.as_object())
    if (k == "x-request-id" || k == "X-Request-Id") upstream_id = v.as_string();
  EXPECT_EQ(upstream_id, "abc-123") << json::serialize(seen);
  auto made = request(port(), "GET", "/api/tags");
  EXPECT_FALSE(made.header("x-request-id").empty());
}

TEST_F(gateway_test, root_and_version_answer_as_ollama_does) {
  start();
  auto root = request(port(), "GET", "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "Ollama is running");
  connection c(port());
  c.send("HEAD", "/");
  auto head = c.read_response();
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  auto v = request(port(), "GET", "/api/version");
  EXPECT_EQ(v.status, 200);
  EXPECT_TRUE(parse_json(v.body).at("version").is_string());
  EXPECT_EQ(request(port(), "GET", "/api/nope").status, 404);
  EXPECT_EQ(request(port(), "GET", "/api/generate").status, 405);
}

TEST_F(gateway_test, metrics_pass_promtool_and_count_requests_and_tokens) {
  start();
  request(port(), "POST", "/api/generate", generate_body("mistral", false),
          {{"X-Fake-Tokens", "7"}, {"X-Request-Id", "metrics-check"}});
  // A request is counted as it ends, just after its last byte went out: its access-log line,
  // written right after, says it has been.
  gw->proc->wait_for_line("metrics-check");
  auto m = request(port(), "GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find(R"(corral_requests_total{route="/api/generate",model="mistral:latest",status="200"} 1)"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find(R"(corral_completion_tokens_total{model="mistral:latest"} 7)"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find(R"(corral_backend_healthy{backend="127.0.0.1:)"), std::string::npos);
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) GTEST_SKIP() << "promtool not installed";
  auto path = "/tmp/corral-metrics-" + std::to_string(::getpid()) + ".txt";
  std::ofstream(path) << m.body;
  EXPECT_EQ(std::system(("promtool check metrics < " + path + " >/dev/null").c_str()), 0);
}


TEST_F(gateway_test, blobs_and_create_go_to_the_primary_backend_streamed) {
  start({}, {}, {}, "  max_body_bytes: 4096\n");
  std::string digest = "sha256:" + std::string(64, 'a');
  // Larger than max_body_bytes: blob uploads are streamed, not capped.
  std::string blob(3u << 20, 'x');
  EXPECT_EQ(request(port(), "HEAD", "/api/blobs/" + digest).status, 404);
  auto up = request(port(), "POST", "/api/blobs/" + digest, blob, {{"Content-Type", "application/octet-stream"}});
  EXPECT_EQ(up.status, 201) << up.body;
  EXPECT_EQ(up.header("x-fake-backend"), "a");  // the first healthy backend in config order
  EXPECT_EQ(request(a->port, "HEAD", "/api/blobs/" + digest).status, 200);
  EXPECT_EQ(request(b->port, "HEAD", "/api/blobs/" + digest).status, 404);
  auto create = request(port(), "POST", "/api/create",
                        R"({"model":"mine","files":{"m.gguf":")" + digest + R"("},"stream":false})");
  EXPECT_EQ(create.status, 200) << create.body;
  EXPECT_EQ(create.header("x-fake-backend"), "a");
  EXPECT_EQ(request(port(), "POST", "/api/generate", generate_body("mine", false)).status, 200);
}


TEST_F(gateway_test, auto_pull_fetches_an_unknown_model_onto_the_least_loaded_backend_first) {
  start("  auto_pull: true\n");
  auto r = request(port(), "POST", "/api/generate", generate_body("phi3", false));
  EXPECT_EQ(r.status, 200) << r.body;
  auto on_a = request(a->port, "GET", "/api/tags").body.find("phi3:latest") != std::string::npos;
  auto on_b = request(b->port, "GET", "/api/tags").body.find("phi3:latest") != std::string::npos;
  EXPECT_NE(on_a, on_b) << "pulled onto exactly one backend";
  EXPECT_EQ(r.header("x-fake-backend"), on_a ? "a" : "b");
}

TEST_F(gateway_test, without_auto_pull_an_unknown_model_is_not_pulled) {
  start();
  EXPECT_EQ(request(port(), "POST", "/api/generate", generate_body("phi3", false)).status, 404);
  EXPECT_EQ(a->stats().at("by_route").as_object().count("/api/pull"), 0u);
}

TEST_F(gateway_test, an_http10_client_gets_a_stream_that_ends_at_close) {
  start();
  connection c(port());
  auto body = generate_body("mistral", true);
  c.send_raw("POST /api/generate HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body);
  auto r = c.read_response();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.header("transfer-encoding").empty());
  auto lines = split_lines(r.body);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(parse_json(lines.back()).at("done").as_bool(), true);
}


TEST_F(gateway_test, a_silent_gap_longer_than_the_timeout_ends_the_stream_with_an_error_line) {
  start("  timeout: 400ms\n");
  auto r = request(port(), "POST", "/api/generate", generate_body("mistral", true),
                   {{"X-Fake-Tokens", "5"}, {"X-Fake-Token-Delay-Ms", "1500"}});
  EXPECT_EQ(r.status, 200);
  auto lines = split_lines(r.body);
  ASSERT_FALSE(lines.empty()) << r.body;
  auto last = parse_json(lines.back());
  ASSERT_TRUE(last.as_object().contains("error")) << r.body;
  EXPECT_NE(std::string(last.at("error").as_string()).find("sent nothing"), std::string::npos) << r.body;
}


TEST_F(gateway_test, a_head_without_its_body_fails_over_to_another_backend) {
  start();
  a->set_faults(R"({"drop_after":0})");  // a sends the head, then closes
  for (int i = 0; i < 4; ++i) {
    auto r = request(port(), "POST", "/api/generate", generate_body("llama2", false));
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("x-fake-backend"), "b");
    EXPECT_EQ(parse_json(r.body).at("done").as_bool(), true);
  }
  EXPECT_GE(a->stats().at("by_route").at("/api/generate").to_number<int>(), 1) << "a was never tried";
}

TEST_F(gateway_test, a_client_that_stops_reading_is_dropped_and_its_backend_request_closed) {
  start({}, {}, {}, "  send_timeout: 500ms\n");
  connection c(port());
  c.set_receive_buffer(4096);
  // Far more than the socket buffers hold; the client never reads.
  c.send("POST", "/api/generate", generate_body("mistral", true), {{"X-Fake-Tokens", "400000"}});
  ASSERT_TRUE(eventually([&] { return a->stats().at("cancelled").to_number<int>() == 1; }, 15s));
}


TEST_F(gateway_test, the_access_log_has_one_line_per_request_with_its_figures) {
  start();
  auto r = request(port(), "POST", "/api/generate", generate_body("mistral", false),
                   {{"X-Request-Id", "log-check-1"}, {"X-Fake-Tokens", "6"}});
  ASSERT_EQ(r.status, 200);
  auto line = gw->proc->wait_for_line("log-check-1");
  auto v = parse_json(line);
  EXPECT_EQ(v.at("type").as_string(), "access");
  EXPECT_EQ(v.at("route").as_string(), "/api/generate");
  EXPECT_EQ(v.at("model").as_string(), "mistral:latest");
  EXPECT_EQ(v.at("status").to_number<int>(), 200);
  EXPECT_EQ(v.at("bytes_out").to_number<std::size_t>(), r.body.size());
  EXPECT_EQ(v.at("completion_tokens").to_number<int>(), 6);
  EXPECT_TRUE(v.as_object().contains("ttfb"));
  EXPECT_FALSE(std::string(v.at("backend").as_string()).empty());
}


TEST_F(gateway_test, hop_by_hop_headers_stay_behind_and_forwarded_for_is_appended) {
  start();
  auto r = request(port(), "POST", "/api/generate", generate_body("mistral", false),
                   {{"Connection", "keep-alive, X-Secret-Hop"}, {"X-Secret-Hop", "1"},
                    {"X-Forwarded-For", "10.1.2.3"}, {"User-Agent", "ollama-python/0.4"}});
  ASSERT_EQ(r.status, 200);
  auto seen = a->stats().at("last_request_headers").as_object();
  EXPECT_FALSE(seen.contains("x-secret-hop"));
  EXPECT_FALSE(seen.contains("connection") && seen.at("connection").as_string() != "keep-alive");
  ASSERT_TRUE(seen.contains("x-forwarded-for"));
  EXPECT_EQ(seen.at("x-forwarded-for").as_string(), "10.1.2.3, 127.0.0.1");
  EXPECT_EQ(seen.at("user-agent").as_string(), "ollama-python/0.4");
  EXPECT_EQ(seen.at("host").as_string(), "127.0.0.1:" + std::to_string(a->port));
}


TEST_F(gateway_test, sigterm_lets_a_running_stream_finish_then_exits) {
  start();
  connection c(port());
  c.send("POST", "/api/generate", generate_body("mistral", true), {{"X-Fake-Tokens", "8"}, {"X-Fake-Token-Delay-Ms", "100"}});
  ASSERT_EQ(c.read_head().status, 200);
  gw->proc->kill(SIGTERM);
  std::string body;
  for (std::string piece; !(piece = c.read_body_piece()).empty();) body += piece;
  auto lines = split_lines(body);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(parse_json(lines.back()).at("done").as_bool(), true) << body;
  EXPECT_EQ(gw->proc->wait_exit(10s), 0);
}

}  // namespace
}  // namespace corral::test
