#include "gateway/demo.hpp"

#include "gateway/core/error_reply.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace corral {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

constexpr auto io_timeout = std::chrono::seconds(60);
constexpr std::uint64_t max_body = 64 * 1024 * 1024;  // embeddings of a long input are large

constexpr const char* demo_usage = R"(usage: corral demo [--url URL] [--api-key KEY] [--model NAME]

Walks through corral's management API (/api/v1/...) against a running corral and prints each
request with a short account of the answer.

  --url URL        where corral listens, as http://host[:port] (default http://127.0.0.1:9089)
  --api-key KEY    sent as "Authorization: Bearer KEY", for a corral with API keys configured
  --model NAME     the model for chat, streaming, batch and the custom preset (default: the
                   first model of the fleet that can generate text)

Exit status: 0 when every step succeeded, 1 when one failed, 2 for bad arguments.
No Ollama at hand? Start corral with: corral --fake-backends 2
)";

// ---------------------------------------------------------------------------------------------
// The URL

struct endpoint {
  std::string url;          // as given, for messages
  std::string host;         // for the resolver: no brackets around an IPv6 address
  std::string port;
  std::string host_header;  // host[:port] as written
};

// http://host[:port], with an optional trailing slash and nothing else: the demo writes every
// path itself, so a path or credentials in the URL would be silently ignored otherwise.
std::optional<endpoint> parse_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) return std::nullopt;
  std::string_view authority = url.substr(scheme.size());
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.empty() || authority.find_first_of("/?#@ ") != std::string_view::npos) return std::nullopt;

  std::string_view host = authority, port = "80";
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    host = authority.substr(1, close - 1);
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  unsigned number = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + static_cast<unsigned>(c - '0');
  }
  if (number < 1 || number > 65535) return std::nullopt;
  return endpoint{std::string(url), std::string(host), std::string(port), std::string(authority)};
}

// ---------------------------------------------------------------------------------------------
// The HTTP client: synchronous for the demo's straight-line steps, but every operation runs
// as an async one on a private io_context, because tcp_stream's timeouts apply only there.

struct reply {
  unsigned status = 0;          // 0: no answer, see transport_error
  std::string transport_error;
  std::string body;
  json::value json;             // null when the body is not JSON
  double ms = 0;

  bool ok() const { return status / 100 == 2; }
};

// Raised when corral cannot be reached at all: every later step would fail the same way, so the
// demo stops with one clear message instead.
struct unreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

json::value parse_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  return ec ? json::value() : v;
}

double ms_since(steady::time_point start) {
  return std::chrono::duration<double, std::milli>(steady::now() - start).count();
}

std::string describe(const beast::error_code& ec) {
  return ec == beast::error::timeout ? "no answer within 60 s" : ec.message();
}

class client {
 public:
  client(endpoint where, std::string api_key) : where_(std::move(where)), api_key_(std::move(api_key)) {}

  reply exchange(http::verb method, std::string_view target, const std::string& body) {
    auto req = make_request(method, target, body);
    auto start = steady::now();
    std::optional<http::response_parser<http::string_body>> parser;
    auto ec = send(req, parser);
    if (!ec) ec = run([&](auto handler) { http::async_read(stream_, buffer_, *parser, handler); });
    reply r;
    r.ms = ms_since(start);
    if (ec) {
      close();
      r.transport_error = describe(ec);
      return r;
    }
    auto& res = parser->get();
    r.status = res.result_int();
    r.body = std::move(res.body());
    r.json = parse_json(r.body);
    if (!res.keep_alive()) close();
    return r;
  }

  // POSTs `body` and hands each NDJSON line of a 2xx answer to on_line the moment it arrives
  // (on_head first, with the status); any other answer is collected into the reply's body.
  reply stream(std::string_view target, const std::string& body, const std::function<void(unsigned)>& on_head,
               const std::function<void(std::string_view)>& on_line) {
    auto req = make_request(http::verb::post, target, body);
    auto start = steady::now();
    std::optional<http::response_parser<http::buffer_body>> parser;
    auto ec = send(req, parser);
    reply r;
    if (ec) {
      close();
      r.ms = ms_since(start);
      r.transport_error = describe(ec);
      return r;
    }
    r.status = parser->get().result_int();
    on_head(r.status);
    std::string pending;
    std::array<char, 4096> chunk;
    while (!parser->is_done()) {
      parser->get().body().data = chunk.data();
      parser->get().body().size = chunk.size();
      ec = run([&](auto handler) { http::async_read_some(stream_, buffer_, *parser, handler); });
      if (ec == http::error::need_buffer) ec = {};  // the chunk buffer is full: not an error
      if (ec) break;
      std::string_view got(chunk.data(), chunk.size() - parser->get().body().size);
      if (!r.ok()) {
        r.body.append(got);
        continue;
      }
      pending.append(got);
      std::size_t from = 0;
      for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', from)) {
        deliver(std::string_view(pending).substr(from, nl - from), on_line);
        from = nl + 1;
      }
      pending.erase(0, from);
    }
    r.ms = ms_since(start);
    if (ec) {
      close();
      r.transport_error = describe(ec);
      return r;
    }
    if (!pending.empty()) deliver(pending, on_line);  // a last line without its newline
    if (!r.ok()) r.json = parse_json(r.body);
    if (!parser->get().keep_alive()) close();
    return r;
  }

 private:
  static void deliver(std::string_view line, const std::function<void(std::string_view)>& on_line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) on_line(line);
  }

  http::request<http::string_body> make_request(http::verb method, std::string_view target, const std::string& body) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, where_.host_header);
    req.set(http::field::user_agent, "corral-demo");
    req.set(http::field::accept, "application/json, application/x-ndjson");
    if (!api_key_.empty()) req.set(http::field::authorization, "Bearer " + api_key_);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  // Runs one async operation to completion, under the 60 s timeout.
  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result;
    stream_.expires_after(io_timeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  void connect() {
    beast::error_code ec;
    auto endpoints = resolver_.resolve(where_.host, where_.port, ec);
    if (ec) throw unreachable(ec.message());
    ec = run([&](auto handler) { stream_.async_connect(endpoints, handler); });
    if (ec) throw unreachable(describe(ec));
    connected_ = true;
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    connected_ = false;
  }

  // Writes the request and reads the answer's header into a fresh parser. A kept-alive
  // connection the server has meanwhile closed fails with nothing received: only then is the
  // request sent again, on a new connection, so nothing the server saw is ever repeated.
  template <class Parser>
  beast::error_code send(http::request<http::string_body>& req, std::optional<Parser>& parser) {
    for (bool retried = false;; retried = true) {
      bool reused = connected_;
      if (!connected_) connect();
      parser.emplace();
      parser->body_limit(max_body);
      buffer_.clear();
      auto ec = run([&](auto handler) { http::async_write(stream_, req, handler); });
      if (!ec) ec = run([&](auto handler) { http::async_read_header(stream_, buffer_, *parser, handler); });
      if (!ec) return ec;
      close();
      bool stale = ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
                   ec == net::error::broken_pipe;
      if (!reused || retried || !stale || parser->got_some()) return ec;
    }
  }

  endpoint where_;
  std::string api_key_;
  net::io_context ioc_;
  tcp::resolver resolver_{ioc_};
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

// ---------------------------------------------------------------------------------------------
// Reading answers: the server is young, so a missing field prints as "?" rather than failing.

const json::value* find(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* at = &v;
  for (auto key : path) {
    auto* object = at->if_object();
    if (!object) return nullptr;
    at = object->if_contains(key);
    if (!at) return nullptr;
  }
  return at;
}

std::string number(double d) {
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", d);
  return buf;
}

// JSON as sent and shown: compact, like json::serialize, but with numbers as a person writes
// them (0.3, where Boost.JSON 1.81 writes 3E-1).
std::string compact(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_: {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
      return ec == std::errc() ? std::string(buf, end) : json::serialize(v);
    }
    case json::kind::array: {
      std::string out = "[";
      for (auto& item : v.get_array()) out += (out.size() > 1 ? "," : "") + compact(item);
      return out + "]";
    }
    case json::kind::object: {
      std::string out = "{";
      for (auto& [key, item] : v.get_object())
        out += (out.size() > 1 ? "," : "") + json::serialize(json::string_view(key)) + ":" + compact(item);
      return out + "}";
    }
    default: return json::serialize(v);
  }
}

std::string text(const json::value* v) {
  if (!v) return "?";
  switch (v->kind()) {
    case json::kind::string: return std::string(v->get_string());
    case json::kind::int64: return std::to_string(v->get_int64());
    case json::kind::uint64: return std::to_string(v->get_uint64());
    case json::kind::double_: return number(v->get_double());
    case json::kind::bool_: return v->get_bool() ? "true" : "false";
    case json::kind::null: return "?";
    default: return json::serialize(*v);
  }
}

std::string text(const json::value& v, std::initializer_list<std::string_view> path) { return text(find(v, path)); }

// "a, b, c" for an array of strings; "none" for an empty one, "?" when absent or null.
std::string names(const json::value* v) {
  auto* array = v ? v->if_array() : nullptr;
  if (!array) return "?";
  if (array->empty()) return "none";
  std::string out;
  for (auto& item : *array) out += (out.empty() ? "" : ", ") + text(&item);
  return out;
}

bool contains(const json::value* array_value, std::string_view wanted) {
  auto* array = array_value ? array_value->if_array() : nullptr;
  if (!array) return false;
  for (auto& item : *array)
    if (item.is_string() && item.get_string() == wanted) return true;
  return false;
}

// Quoted, on one line, cut at `limit` bytes without splitting a UTF-8 character.
std::string snippet(std::string_view s, std::size_t limit = 80) {
  bool cut = s.size() > limit;
  if (cut) {
    while (limit > 0 && (static_cast<unsigned char>(s[limit]) & 0xC0) == 0x80) --limit;
    s = s.substr(0, limit);
  }
  std::string out = "\"";
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out + (cut ? "...\"" : "\"");
}

std::string human_size(const json::value* v) {
  if (!v || !v->is_number()) return "?";
  double bytes = v->to_number<double>();
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000 && unit < 4) {
    bytes /= 1000;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return buf;
}

// What a failed answer says: Ollama's {"error": "..."}, OpenAI's {"error": {"message"}}, or
// the start of whatever else came back.
std::string error_of(const reply& r) {
  if (!r.transport_error.empty()) return r.transport_error;
  if (auto* e = find(r.json, {"error"})) {
    if (e->is_string()) return std::string(e->get_string());
    if (auto* m = find(*e, {"message"})) return text(m);
  }
  if (r.body.empty()) return "(empty body)";
  return snippet(r.body, 200);
}

// ---------------------------------------------------------------------------------------------
// The steps

enum class outcome { ok, skipped, failed };

class demo {
 public:
  demo(client& c, std::string model) : client_(c), model_(std::move(model)) {}

  int run() {
    std::vector<outcome> results = {status(), models(), presets(), chat(), stream(), embeddings(), batch(),
                                    custom_preset(), stats()};
    int ok = 0, skipped = 0, failed = 0;
    for (auto o : results) (o == outcome::ok ? ok : o == outcome::skipped ? skipped : failed)++;
    std::cout << "\n" << results.size() << " steps, " << ok << " ok, " << skipped << " skipped, " << failed
              << " failed\n";
    return failed == 0 ? 0 : 1;
  }

 private:
  void heading(std::string_view title) { std::cout << "\n== " << ++step_ << ". " << title << "\n"; }

  static void print_request(http::verb method, std::string_view target, const std::string& body) {
    std::cout << "  > " << http::to_string(method) << " " << target << (body.empty() ? "" : " ") << body << "\n";
  }

  static void print_status(const reply& r) {
    if (r.status == 0) std::cout << "  < no answer: " << r.transport_error << "\n";
    else std::cout << "  < " << r.status << " " << status_reason(r.status) << ", " << number(std::round(r.ms)) << " ms\n";
  }

  reply call(http::verb method, std::string_view target, const json::value* body = nullptr) {
    std::string payload = body ? compact(*body) : "";
    print_request(method, target, payload);
    auto r = client_.exchange(method, target, payload);
    print_status(r);
    return r;
  }

  static outcome fail(const reply& r) {
    if (r.status != 0) std::cout << "    error: " << error_of(r) << "\n";
    if (r.status == 401) std::cout << "    (corral wants an API key here: pass --api-key KEY)\n";
    return outcome::failed;
  }

  static outcome skip(std::string_view why) {
    std::cout << "    skipped: " << why << "\n";
    return outcome::skipped;
  }

  // The answer of generate, chat and a stream's last line share one shape; a stream has shown
  // its text already, piece by piece.
  static void print_generation(const json::value& j, bool with_text = true) {
    std::cout << "    model " << text(j, {"model"}) << " on backend " << text(j, {"backend"});
    if (auto* preset = find(j, {"preset"}); preset && preset->is_string()) std::cout << ", preset " << text(preset);
    std::cout << ", request " << text(j, {"request_id"}) << "\n";
    auto* answer = find(j, {"text"});
    if (!answer || !answer->is_string()) answer = find(j, {"message", "content"});
    if (with_text && answer && answer->is_string()) std::cout << "    answer: " << snippet(answer->get_string()) << "\n";
    std::cout << "    tokens: " << text(j, {"usage", "prompt_tokens"}) << " prompt + "
              << text(j, {"usage", "completion_tokens"}) << " completion = " << text(j, {"usage", "total_tokens"})
              << "; ms: " << text(j, {"durations_ms", "total"}) << " total, " << text(j, {"durations_ms", "load"})
              << " load, " << text(j, {"durations_ms", "prompt_eval"}) << " prompt eval, "
              << text(j, {"durations_ms", "eval"}) << " eval; done: " << text(j, {"done_reason"}) << "\n";
  }

  outcome no_model() {
    if (!models_listed_) return skip("no model to use: the model list did not come (pass --model NAME)");
    return skip("no model to use: the fleet lists none that can generate text (pass --model NAME, or "
                "pull one: POST /api/v1/models/pull {\"name\":\"llama3.2\"})");
  }

  outcome status() {
    heading("Check corral and its backends");
    auto r = call(http::verb::get, "/api/v1/status");
    if (!r.ok()) return fail(r);
    std::cout << "    corral " << text(r.json, {"version"}) << " is " << text(r.json, {"status"}) << "\n";
    auto describe_backend = [](std::string_view name, const json::value& b) {
      auto* healthy = find(b, {"healthy"});
      auto* models = find(b, {"models"});
      std::cout << "    backend " << name << ": "
                << (!healthy || !healthy->is_bool() ? "health ?" : healthy->get_bool() ? "healthy" : "unhealthy") << ", "
                << (models && models->is_array() ? std::to_string(models->get_array().size()) : std::string("?"))
                << " models\n";
    };
    auto* backends = find(r.json, {"backends"});
    if (auto* array = backends ? backends->if_array() : nullptr)
      for (auto& b : *array) describe_backend(text(b, {"name"}), b);
    else if (auto* object = backends ? backends->if_object() : nullptr)
      for (auto& [name, b] : *object) describe_backend(name, b);
    else
      std::cout << "    backends: ?\n";
    return outcome::ok;
  }

  outcome models() {
    heading("List the models on the fleet");
    auto r = call(http::verb::get, "/api/v1/models");
    if (!r.ok()) return fail(r);
    models_listed_ = true;
    auto* list = find(r.json, {"models"});
    auto* array = list ? list->if_array() : nullptr;
    if (!array || array->empty()) {
      std::cout << "    the fleet has no models yet; pull one with POST /api/v1/models/pull {\"name\":\"llama3.2\"}\n";
    } else {
      for (auto& m : *array) {
        auto* caps = find(m, {"capabilities"});
        std::cout << "    " << text(m, {"name"}) << " (" << text(m, {"family"}) << ", " << text(m, {"parameter_size"})
                  << ", " << text(m, {"quantization"}) << ", " << human_size(find(m, {"size"}))
                  << ")  can: " << (caps && caps->is_null() ? "unknown" : names(caps))
                  << "  on: " << names(find(m, {"backends"})) << "  loaded on: " << names(find(m, {"loaded_on"}))
                  << "\n";
        // Null capabilities mean the backend's Ollama does not say: such a model may well generate.
        auto* name = find(m, {"name"});
        if (!name || !name->is_string()) continue;
        if (model_.empty() && (!caps || caps->is_null() || contains(caps, "completion"))) {
          model_ = name->get_string();
          chose_model_ = true;
        }
        if (embedding_model_.empty() && contains(caps, "embedding")) embedding_model_ = name->get_string();
      }
    }
    if (chose_model_) std::cout << "    the next steps use " << model_ << " (--model picks another)\n";
    return outcome::ok;
  }

  outcome presets() {
    heading("Generate with each built-in preset");
    static constexpr std::pair<const char*, const char*> prompts[] = {
        {"general", "In one sentence, what does a load balancer do?"},
        {"coding", "Write a C++ function that returns the larger of two ints."},
        {"security", "Name one risk of exposing an LLM API without authentication."},
        {"creative", "Write a two-line poem about a herd of llamas."},
    };
    int ok = 0, failed = 0;
    for (auto [preset, prompt] : prompts) {
      json::value body = {{"preset", preset}, {"prompt", prompt}};
      auto r = call(http::verb::post, "/api/v1/generate", &body);
      if (r.ok()) {
        print_generation(r.json);
        ++ok;
      } else if (r.status == 404) {
        auto* model = find(r.json, {"model"});
        skip(error_of(r));
        std::cout << "    (corral can pull it: POST /api/v1/models/pull {\"name\":\""
                  << (model && model->is_string() ? text(model) : "<the model named above>") << "\"})\n";
      } else {
        fail(r);
        ++failed;
      }
    }
    return failed ? outcome::failed : ok ? outcome::ok : outcome::skipped;
  }

  outcome chat() {
    heading("Chat with a model");
    if (model_.empty()) return no_model();
    json::value body = {{"model", model_},
                        {"messages", json::array{json::object{{"role", "user"}, {"content", "Hello! What can you help me with? One sentence."}}}}};
    auto r = call(http::verb::post, "/api/v1/chat", &body);
    if (!r.ok()) return fail(r);
    print_generation(r.json);
    return outcome::ok;
  }

  outcome stream() {
    heading("Stream a generation as it is written");
    if (model_.empty()) return no_model();
    json::value body = {{"model", model_}, {"prompt", "Count from one to five in words."}};
    std::string payload = compact(body);
    print_request(http::verb::post, "/api/v1/generate/stream", payload);
    auto started = steady::now();
    json::value last;
    std::string stream_error;
    bool mid_line = false;
    auto r = client_.stream(
        "/api/v1/generate/stream", payload,
        [&](unsigned status) {
          std::cout << "  < " << status << " " << status_reason(status) << " after " << number(std::round(ms_since(started)))
                    << " ms" << (status / 100 == 2 ? ", pieces as they arrive:" : "") << "\n";
        },
        [&](std::string_view line) {
          auto j = parse_json(line);
          if (auto* e = find(j, {"error"})) {
            stream_error = text(e);
          } else if (auto* done = find(j, {"done"}); done && done->is_bool() && done->get_bool()) {
            last = std::move(j);
          } else if (auto* piece = find(j, {"text"}); piece && piece->is_string()) {
            if (!mid_line) std::cout << "    ";
            mid_line = true;
            for (char c : piece->get_string()) std::cout << (c == '\n' || c == '\r' ? ' ' : c);
            std::cout << std::flush;
          }
        });
    if (mid_line) std::cout << "\n";
    if (r.status == 0) print_status(r);
    if (!r.ok()) return fail(r);
    if (!stream_error.empty()) {
      std::cout << "    the stream broke: " << stream_error << "\n";
      return outcome::failed;
    }
    if (last.is_null()) {
      std::cout << "    the stream ended without its last {\"done\":true} line\n";
      return outcome::failed;
    }
    print_generation(last, false);
    return outcome::ok;
  }

  outcome embeddings() {
    heading("Embed a sentence");
    if (embedding_model_.empty()) return skip("no model on the fleet lists the \"embedding\" capability");
    json::value body = {{"model", embedding_model_}, {"input", "corral routes requests"}};
    auto r = call(http::verb::post, "/api/v1/embeddings", &body);
    if (!r.ok()) return fail(r);
    std::string dimensions = text(r.json, {"dimensions"});
    auto* vectors = find(r.json, {"embeddings"});
    if (dimensions == "?" && vectors && vectors->is_array() && !vectors->get_array().empty() &&
        vectors->get_array()[0].is_array())
      dimensions = std::to_string(vectors->get_array()[0].get_array().size());
    std::cout << "    " << dimensions << " dimensions, " << text(r.json, {"usage", "prompt_tokens"})
              << " prompt tokens\n";
    return outcome::ok;
  }

  outcome batch() {
    heading("Generate several prompts in one batch");
    if (model_.empty()) return no_model();
    json::value body = {{"model", model_}, {"items", json::array{"Say hi", json::object{{"prompt", "Count to three"}}, "Name a colour"}}};
    auto r = call(http::verb::post, "/api/v1/batch/generate", &body);
    if (!r.ok()) return fail(r);
    std::cout << "    " << text(r.json, {"items"}) << " items: " << text(r.json, {"succeeded"}) << " succeeded, "
              << text(r.json, {"failed"}) << " failed\n";
    bool any_failed = false;
    auto* results = find(r.json, {"results"});
    if (auto* array = results ? results->if_array() : nullptr) {
      for (auto& item : *array) {
        std::cout << "    #" << text(item, {"index"}) << " " << text(item, {"status"}) << " ";
        if (auto* e = find(item, {"error"})) {
          std::cout << "error: " << text(e) << "\n";
          any_failed = true;
        } else {
          std::cout << snippet(text(item, {"text"})) << "\n";
        }
      }
    }
    return any_failed ? outcome::failed : outcome::ok;
  }

  outcome custom_preset() {
    heading("Create a preset, use it, delete it");
    if (model_.empty()) return no_model();
    std::string name = "demo-" + std::to_string(::getpid());
    json::value create = {{"name", name},
                          {"model", model_},
                          {"temperature", 0.3},
                          {"system_prompt", "You answer in one sentence."},
                          {"description", "made by corral demo"},
                          {"template", "Explain {{topic}} briefly."}};
    auto r = call(http::verb::post, "/api/v1/presets", &create);
    if (r.status == 403)
      return skip(error_of(r) + " (creating presets needs an API key with the admin role)");
    if (!r.ok()) return fail(r);
    std::cout << "    preset " << name << " created\n";

    json::value use = {{"preset", name}, {"variables", json::object{{"topic", "load balancing"}}}};
    auto generated = call(http::verb::post, "/api/v1/generate", &use);
    bool ok = generated.ok();
    if (ok) print_generation(generated.json);
    else fail(generated);

    // Deleted even when the generation failed, so a demo leaves nothing behind.
    auto removed = call(http::verb::delete_, "/api/v1/presets/" + name);
    if (removed.ok()) std::cout << "    preset " << name << " deleted\n";
    else fail(removed);
    return ok && removed.ok() ? outcome::ok : outcome::failed;
  }

  outcome stats() {
    heading("Read corral's statistics");
    auto r = call(http::verb::get, "/api/v1/stats");
    if (!r.ok()) return fail(r);
    std::cout << "    requests: " << text(r.json, {"requests", "total"}) << " total; tokens: "
              << text(r.json, {"tokens", "prompt"}) << " prompt, " << text(r.json, {"tokens", "completion"})
              << " completion; latency: p50 " << text(r.json, {"latency_ms", "p50"}) << " ms, p99 "
              << text(r.json, {"latency_ms", "p99"}) << " ms\n";
    return outcome::ok;
  }

  client& client_;
  std::string model_;            // M: --model, or chosen in step 2
  bool chose_model_ = false;     // M came from the fleet, so say which
  bool models_listed_ = false;   // step 2 succeeded: "no model" means the fleet has none
  std::string embedding_model_;  // E
  int step_ = 0;
};

}  // namespace

int run_demo(int argc, char** argv) {
  std::string url = "http://127.0.0.1:9089", api_key, model;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << demo_usage;
      return 0;
    }
    std::string* target = arg == "--url" ? &url : arg == "--api-key" ? &api_key : arg == "--model" ? &model : nullptr;
    if (!target) {
      std::cerr << "corral demo: unknown option '" << arg << "'\n" << demo_usage;
      return 2;
    }
    if (i + 1 >= argc || std::string_view(argv[i + 1]).empty()) {
      std::cerr << "corral demo: " << arg << " needs a value\n" << demo_usage;
      return 2;
    }
    *target = argv[++i];
  }
  auto where = parse_url(url);
  if (!where) {
    std::cerr << "corral demo: --url: expected http://host[:port], got '" << url << "'\n";
    return 2;
  }

  std::cout << "corral demo: a tour of the management API at " << url << "\n";
  try {
    client c(*where, api_key);
    return demo(c, model).run();
  } catch (const unreachable& e) {
    std::cout << std::flush;
    std::cerr << "\ncannot connect to corral at " << url << ": " << e.what()
              << " (is it running? start it with: corral --fake-backends 2)\n";
    return 1;
  }
}

}  // namespace corral
