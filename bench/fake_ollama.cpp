// fake-ollama: a fast, GPU-less stand-in for an Ollama server.
//
// It serves the Ollama HTTP API (native /api/* and OpenAI-style /v1/*) with canned, deterministic
// token streams, plus fault injection and introspection under /fake/ for tests and load tests.
// See bench/fake_ollama.md for the user-facing description.
//
// Threading: N workers, each one io_context on one thread with its own SO_REUSEPORT acceptor.
// Everything a request touches on the hot path is owned by its worker (counters, buffers, a cached
// model catalog snapshot); cross-worker state is either an atomic (faults, model load times) or an
// immutable catalog snapshot swapped under a mutex that only writers (pull/create/copy/delete) take.
// /fake/stats visits each worker on its own thread instead of locking counters.
//
// GCC 12.2 miscompiles `co_await` inside a condition (`if (!co_await f())`, `while (co_await f())`:
// SIGILL or a crash when the coroutine runs). Every awaited value is bound to a local first.

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

constexpr auto nothrow_awaitable = net::as_tuple(net::use_awaitable);
using nothrow_token = std::decay_t<decltype(nothrow_awaitable)>;
using socket_type = nothrow_token::as_default_on_t<tcp::socket>;
using acceptor_type = nothrow_token::as_default_on_t<tcp::acceptor>;
using timer_type = nothrow_token::as_default_on_t<net::steady_timer>;

constexpr std::size_t json_body_limit = 256u << 20;
constexpr std::size_t header_limit = 1u << 20;
constexpr std::int64_t ns_per_s = 1'000'000'000;
constexpr std::int64_t default_keep_alive_ns = 300 * ns_per_s;
constexpr std::int64_t forever_ns = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t deterministic_unix_s = 1704067200;  // 2024-01-01T00:00:00Z

constexpr std::string_view ct_json = "application/json; charset=utf-8";
constexpr std::string_view ct_ndjson = "application/x-ndjson";
constexpr std::string_view ct_sse = "text/event-stream";
constexpr std::string_view ct_text = "text/plain; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// Options

struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 11434;
  unsigned threads = 1;
  std::vector<std::string> models = {"llama2:latest", "mistral:latest", "codellama:latest",
                                     "nomic-embed-text:latest"};
  std::vector<std::string> loaded;
  std::int64_t tokens = 10;
  std::int64_t token_delay_ms = 0;
  std::int64_t first_byte_delay_ms = 0;
  std::size_t embedding_dim = 8;
  std::string version = "0.12.6";
  std::string name = "fake";
  bool deterministic = false;
  std::optional<std::vector<std::string>> pullable;
};

constexpr std::string_view usage_text =
    R"(usage: fake-ollama [flags]

A fast fake Ollama server for tests, benchmarks and GPU-less load tests.

  --host H                 address to bind (default 127.0.0.1)
  --port N                 port (default 11434; 0 = ephemeral, reported on stdout)
  --threads N              worker threads, one io_context + SO_REUSEPORT acceptor each (default 1)
  --models a,b:7b,...      installed models (default llama2,mistral,codellama,nomic-embed-text)
  --loaded a,...           models initially loaded (shown by /api/ps)
  --tokens N               tokens per generation (default 10)
  --token-delay-ms D       delay between streamed lines (default 0)
  --first-byte-delay-ms D  delay before the response head (default 0)
  --embedding-dim N        embedding length (default 8)
  --version V              version reported by /api/version (default 0.12.6)
  --name S                 value of the X-Fake-Backend response header (default fake)
  --deterministic          constant timestamps, durations and ids: byte-identical bodies
  --pullable a,b           names /api/pull may fetch (default: any name)
  --help                   this text

Prints "listening on <port>" once bound. Per-request overrides: X-Fake-Tokens,
X-Fake-Token-Delay-Ms, X-Fake-Slow-Chunk-Ms, X-Fake-First-Byte-Delay-Ms, X-Fake-Status,
X-Fake-Drop-After. Process-wide: POST /fake/faults, GET /fake/stats (see fake_ollama.md).
)";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "fake-ollama: " << message << "\n(see --help)\n";
  std::exit(2);
}

std::int64_t parse_int_flag(std::string_view flag, std::string_view value, std::int64_t lo, std::int64_t hi) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc{} || ptr != value.data() + value.size() || v < lo || v > hi)
    usage_error(std::string(flag) + ": invalid value '" + std::string(value) + "' (expected " +
                std::to_string(lo) + ".." + std::to_string(hi) + ")");
  return v;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto comma = s.find(',');
    auto item = s.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

options parse_options(int argc, char** argv) {
  options o;
  constexpr std::int64_t max_ms = 24LL * 3600 * 1000;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view flag = arg;
    std::optional<std::string_view> inline_value;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      flag = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    auto value = [&]() -> std::string_view {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) usage_error(std::string(flag) + " needs a value");
      return argv[++i];
    };
    if (flag == "--help" || flag == "-h") {
      std::cout << usage_text;
      std::exit(0);
    } else if (flag == "--deterministic") {
      if (inline_value) usage_error("--deterministic takes no value");
      o.deterministic = true;
    } else if (flag == "--host") {
      o.host = value();
      if (o.host.empty()) usage_error("--host: empty value");
    } else if (flag == "--port") {
      o.port = static_cast<std::uint16_t>(parse_int_flag(flag, value(), 0, 65535));
    } else if (flag == "--threads") {
      o.threads = static_cast<unsigned>(parse_int_flag(flag, value(), 1, 1024));
    } else if (flag == "--models") {
      o.models = split_list(value());
    } else if (flag == "--loaded") {
      o.loaded = split_list(value());
    } else if (flag == "--tokens") {
      o.tokens = parse_int_flag(flag, value(), 0, 100'000'000);
    } else if (flag == "--token-delay-ms") {
      o.token_delay_ms = parse_int_flag(flag, value(), 0, max_ms);
    } else if (flag == "--first-byte-delay-ms") {
      o.first_byte_delay_ms = parse_int_flag(flag, value(), 0, max_ms);
    } else if (flag == "--embedding-dim") {
      o.embedding_dim = static_cast<std::size_t>(parse_int_flag(flag, value(), 1, 65536));
    } else if (flag == "--version") {
      o.version = value();
    } else if (flag == "--name") {
      o.name = value();
      for (char c : o.name)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
          usage_error("--name: control characters are not allowed");
    } else if (flag == "--pullable") {
      o.pullable = split_list(value());
    } else {
      usage_error("unknown flag '" + std::string(arg) + "'");
    }
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Small formatting helpers: everything on the hot path appends to reused strings.

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

void append_float(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

void append_float(std::string& out, float v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out.append(buf, end);
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

std::string json_quote(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  std::int64_t const era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

// RFC 3339 with Go's RFC3339Nano trimming; caches the formatted second per thread.
void append_rfc3339(std::string& out, std::int64_t unix_ns) {
  struct cache {
    std::int64_t sec = std::numeric_limits<std::int64_t>::min();
    char text[40];
    std::size_t size = 0;
  };
  thread_local cache c;
  std::int64_t sec = unix_ns / ns_per_s;
  std::int64_t frac = unix_ns % ns_per_s;
  if (frac < 0) {
    frac += ns_per_s;
    --sec;
  }
  if (sec != c.sec) {
    std::int64_t days = sec / 86400;
    std::int64_t rem = sec % 86400;
    if (rem < 0) {
      rem += 86400;
      --days;
    }
    std::int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    int n = std::snprintf(c.text, sizeof c.text, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(y), m, d,
                          static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                          static_cast<int>(rem % 60));
    c.size = n > 0 ? static_cast<std::size_t>(n) : 0;
    c.sec = sec;
  }
  out.append(c.text, c.size);
  if (frac != 0) {
    char digits[10];
    digits[0] = '.';
    for (int i = 9; i >= 1; --i, frac /= 10) digits[i] = static_cast<char>('0' + frac % 10);
    int len = 10;
    while (digits[len - 1] == '0') --len;
    out.append(digits, static_cast<std::size_t>(len));
  }
  out += 'Z';
}

std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A sha256-looking digest (64 lowercase hex), deterministic in its seed text.
std::string fake_digest(std::string_view seed) {
  static constexpr char hex[] = "0123456789abcdef";
  std::uint64_t state = fnv1a(seed);
  std::string out;
  out.reserve(64);
  for (int word = 0; word < 4; ++word) {
    std::uint64_t v = splitmix64(state);
    for (int i = 0; i < 16; ++i, v >>= 4) out += hex[v & 15];
  }
  return out;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::int64_t count_words(std::string_view s) {
  std::int64_t n = 0;
  bool in_word = false;
  for (char c : s) {
    bool space = is_space(c);
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

void append_base64(std::string& out, const unsigned char* p, std::size_t n) {
  static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (n - i == 1) {
    std::uint32_t v = p[i] << 16;
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (n - i == 2) {
    std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
}

// Go's time.ParseDuration, enough of it for keep_alive ("5m", "1h30m", "300ms", "-1s", "0").
std::optional<std::int64_t> parse_go_duration(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    std::size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) ++i;
    if (i == 0) return std::nullopt;
    double number = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + i, number);
    if (ec != std::errc{} || p != s.data() + i) return std::nullopt;
    s.remove_prefix(i);
    std::size_t j = 0;
    while (j < s.size() && !((s[j] >= '0' && s[j] <= '9') || s[j] == '.')) ++j;
    auto unit = s.substr(0, j);
    s.remove_prefix(j);
    double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else
      return std::nullopt;
    total += number * scale;
  }
  if (total > 9.2e18) total = 9.2e18;
  auto ns = static_cast<std::int64_t>(total);
  return negative ? -ns : ns;
}

// ---------------------------------------------------------------------------------------------
// Model names and the catalog

// Ollama-style: [host/][namespace/]model[:tag], tag defaults to "latest". Writes the normalised
// name into out (reusing its capacity); false (and out empty) for names Ollama would reject.
bool normalise_into(std::string_view in, std::string& out) {
  out.clear();
  if (in.empty() || in.size() > 350) return false;
  for (char c : in) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.' || c == ':' || c == '/';
    if (!ok) return false;
  }
  auto slash = in.rfind('/');
  auto base_start = slash == std::string_view::npos ? 0 : slash + 1;
  auto colon = in.find(':', base_start);
  auto base =
      in.substr(base_start, colon == std::string_view::npos ? std::string_view::npos : colon - base_start);
  if (base.empty() || base.front() == '.' || base.front() == '-') return false;
  if (colon != std::string_view::npos) {
    auto tag = in.substr(colon + 1);
    if (tag.empty() || tag.find(':') != std::string_view::npos) return false;
  }
  out.assign(in);
  if (colon == std::string_view::npos) out += ":latest";
  return true;
}

std::string normalise_model_name(std::string_view in) {
  std::string out;
  normalise_into(in, out);
  return out;
}

// The lookup key: normalised and lower-cased ("" when invalid).
void normalise_key(std::string_view in, std::string& out) {
  if (normalise_into(in, out))
    for (auto& c : out) c = ascii_lower(c);
}

std::string model_key(std::string_view in) {
  std::string out;
  normalise_key(in, out);
  return out;
}

struct model_entry {
  std::string name;  // normalised display name, e.g. "llama2:latest"
  std::string key;   // lower-cased name, the lookup key
  std::string digest;
  std::string family;
  std::string parameter_size;
  std::string quantization;
  std::string format = "gguf";
  std::uint64_t size = 0;
  std::uint64_t parameter_count = 0;
  bool embedding = false;
  std::int64_t modified_ns = 0;
  // 0: not loaded; forever_ns: keep forever; else unix ns. Shared across catalog snapshots.
  mutable std::atomic<std::int64_t> expires_ns{0};
};

using model_ptr = std::shared_ptr<model_entry>;

std::string_view model_base(std::string_view name) {
  auto slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  return name.substr(0, name.find(':'));
}

model_ptr make_model(std::string_view normalised, std::int64_t modified_ns) {
  auto m = std::make_shared<model_entry>();
  m->name = std::string(normalised);
  m->key = lower(normalised);
  m->digest = fake_digest(m->key);
  m->modified_ns = modified_ns;
  auto base = lower(model_base(m->key));
  auto tag = std::string_view(m->key).substr(m->key.rfind(':') + 1);
  m->embedding = base.find("embed") != std::string::npos || base.find("bge") != std::string::npos;
  if (m->embedding) {
    m->family = "nomic-bert";
    m->parameter_count = 137'000'000;
    m->parameter_size = "137M";
    m->quantization = "F16";
    m->size = 274'302'450;
    return m;
  }
  if (base.starts_with("llama") || base.starts_with("codellama") || base.starts_with("mistral") ||
      base.starts_with("mixtral"))
    m->family = "llama";
  else if (base.starts_with("qwen"))
    m->family = "qwen2";
  else if (base.starts_with("gemma"))
    m->family = "gemma";
  else if (base.starts_with("phi"))
    m->family = "phi3";
  else {
    for (char c : base)
      if (c >= 'a' && c <= 'z') m->family += c;
    if (m->family.empty()) m->family = "llama";
  }
  // Parameter size from a tag such as "7b", "13b-q8_0" or "0.5b".
  double billions = 7.0;
  {
    std::size_t i = 0;
    while (i < tag.size() && ((tag[i] >= '0' && tag[i] <= '9') || tag[i] == '.')) ++i;
    double v = 0;
    if (i > 0 && i < tag.size() && (tag[i] == 'b' || tag[i] == 'm') &&
        std::from_chars(tag.data(), tag.data() + i, v).ec == std::errc{} && v > 0)
      billions = tag[i] == 'b' ? v : v / 1000.0;
    else if (base.starts_with("mistral"))
      billions = 7.2;
  }
  m->parameter_count = static_cast<std::uint64_t>(billions * 1e9);
  char buf[32];
  if (billions >= 1.0)
    std::snprintf(buf, sizeof buf, "%.*fB", billions == std::floor(billions) ? 0 : 1, billions);
  else
    std::snprintf(buf, sizeof buf, "%.0fM", billions * 1000);
  m->parameter_size = buf;
  m->quantization = tag.find("q8") != std::string_view::npos ? "Q8_0" : "Q4_0";
  double bytes_per_param = m->quantization == "Q8_0" ? 1.0625 : 0.5625;
  m->size = static_cast<std::uint64_t>(static_cast<double>(m->parameter_count) * bytes_per_param) +
            fnv1a(m->key) % 1'000'000;
  return m;
}

model_ptr clone_model(const model_entry& from, std::string_view normalised, std::int64_t modified_ns) {
  auto m = std::make_shared<model_entry>();
  m->name = std::string(normalised);
  m->key = lower(normalised);
  m->digest = from.digest;
  m->family = from.family;
  m->parameter_size = from.parameter_size;
  m->quantization = from.quantization;
  m->format = from.format;
  m->size = from.size;
  m->parameter_count = from.parameter_count;
  m->embedding = from.embedding;
  m->modified_ns = modified_ns;
  return m;
}

struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct catalog {
  std::vector<model_ptr> list;  // /api/tags order: newest first
  std::unordered_map<std::string, const model_entry*, string_hash, std::equal_to<>> by_key;

  void reindex() {
    by_key.clear();
    for (const auto& m : list) by_key.emplace(m->key, m.get());
  }
  const model_entry* find(std::string_view key) const {
    auto it = by_key.find(key);
    return it == by_key.end() ? nullptr : it->second;
  }
};

// Writers (pull/create/copy/delete) publish a new immutable catalog; readers cache it per worker
// and only re-read when the version moves, so lookups take no lock.
class model_store {
 public:
  explicit model_store(std::shared_ptr<const catalog> initial) : current_(std::move(initial)) {}

  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  std::shared_ptr<const catalog> snapshot() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

  // Adds or replaces a model (newest first, as /api/tags sorts by modification time).
  void put(model_ptr m) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<catalog>(*current_);
    std::erase_if(next->list, [&](const model_ptr& x) { return x->key == m->key; });
    next->list.insert(next->list.begin(), std::move(m));
    publish(std::move(next));
  }

  bool remove(std::string_view key) {
    std::lock_guard lock(mutex_);
    auto next = std::make_shared<catalog>(*current_);
    auto n = std::erase_if(next->list, [&](const model_ptr& x) { return x->key == key; });
    if (n == 0) return false;
    publish(std::move(next));
    return true;
  }

  bool copy(std::string_view source_key, std::string_view destination, std::int64_t now_ns) {
    std::lock_guard lock(mutex_);
    const auto* src = current_->find(source_key);
    if (!src) return false;
    auto m = clone_model(*src, destination, now_ns);
    auto next = std::make_shared<catalog>(*current_);
    std::erase_if(next->list, [&](const model_ptr& x) { return x->key == m->key; });
    next->list.insert(next->list.begin(), std::move(m));
    publish(std::move(next));
    return true;
  }

  void unload(std::string_view key) {
    std::lock_guard lock(mutex_);
    if (const auto* m = current_->find(key)) m->expires_ns.store(0, std::memory_order_relaxed);
  }

  bool has_blob(const std::string& digest) const {
    std::lock_guard lock(mutex_);
    return blobs_.contains(digest);
  }
  // True when newly added.
  bool add_blob(const std::string& digest) {
    std::lock_guard lock(mutex_);
    return blobs_.insert(digest).second;
  }

 private:
  void publish(std::shared_ptr<catalog> next) {
    next->reindex();
    current_ = std::move(next);
    version_.fetch_add(1, std::memory_order_release);
  }

  mutable std::mutex mutex_;
  std::shared_ptr<const catalog> current_;
  std::atomic<std::uint64_t> version_{1};
  std::unordered_set<std::string> blobs_;
};

// ---------------------------------------------------------------------------------------------
// Process-wide fault defaults (POST /fake/faults), read with relaxed loads per request.

struct fault_state {
  std::atomic<int> status{0};
  std::atomic<std::int64_t> first_byte_delay_ms{0};
  std::atomic<std::int64_t> token_delay_ms{0};
  std::atomic<std::int64_t> drop_after{-1};
  std::atomic<std::int64_t> tokens{10};
  std::int64_t startup_first_byte_delay_ms = 0;
};

// ---------------------------------------------------------------------------------------------
// Routes

enum class route : std::uint8_t {
  root,
  version,
  tags,
  ps,
  show,
  generate,
  chat,
  embed,
  embeddings,
  pull,
  push,
  create,
  copy,
  del,
  blobs,
  v1_chat,
  v1_completions,
  v1_embeddings,
  v1_models,
  v1_model,
  unmatched,
  count
};

constexpr std::array<std::string_view, static_cast<std::size_t>(route::count)> route_names = {
    "/",
    "/api/version",
    "/api/tags",
    "/api/ps",
    "/api/show",
    "/api/generate",
    "/api/chat",
    "/api/embed",
    "/api/embeddings",
    "/api/pull",
    "/api/push",
    "/api/create",
    "/api/copy",
    "/api/delete",
    "/api/blobs/:digest",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/models",
    "/v1/models/:model",
    "unmatched"};

route match_route(std::string_view path) {
  if (path.starts_with("/api/blobs/")) return route::blobs;
  if (path.starts_with("/v1/models/")) {
    auto rest = path.substr(11);
    return (rest.empty() || rest.find('/') != std::string_view::npos) ? route::unmatched : route::v1_model;
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(route::unmatched); ++i) {
    auto r = static_cast<route>(i);
    if (r == route::blobs || r == route::v1_model) continue;
    if (route_names[i] == path) return r;
  }
  return route::unmatched;
}

bool method_allowed(route r, http::verb v) {
  switch (r) {
    case route::root:
    case route::version:
    case route::tags:
      return v == http::verb::get || v == http::verb::head;
    case route::ps:
    case route::v1_models:
    case route::v1_model:
      return v == http::verb::get;
    case route::del:
      return v == http::verb::delete_;
    case route::blobs:
      return v == http::verb::head || v == http::verb::post;
    case route::unmatched:
    case route::count:
      return false;
    default:
      return v == http::verb::post;
  }
}

bool is_openai(route r) {
  return r == route::v1_chat || r == route::v1_completions || r == route::v1_embeddings ||
         r == route::v1_models || r == route::v1_model;
}

// ---------------------------------------------------------------------------------------------
// Per-worker counters. Written only by the owning thread; /fake/stats reads them on that thread.

struct worker_stats {
  std::uint64_t requests = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t completed = 0;
  std::uint64_t cancelled = 0;
  std::uint64_t dropped = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(route::count)> by_route{};
  std::unordered_map<std::string, std::uint64_t, string_hash, std::equal_to<>> by_model;
  std::vector<std::pair<std::string, std::string>> last_headers;
  std::size_t last_header_count = 0;
  std::int64_t last_request_steady_ns = -1;
};

struct server;

struct worker {
  worker(server& s, std::size_t i) : srv(s), index(i) {}

  const catalog& models();  // valid until the next co_await

  server& srv;
  std::size_t index;
  worker_stats stats;
  std::shared_ptr<const catalog> cached_catalog;
  std::uint64_t cached_version = 0;
  std::uint64_t rng_state = 0;
  std::thread thread;
  net::io_context ioc{1};  // last: destroyed first, while the members above still live
};

struct server {
  options opt;
  model_store store;
  fault_state faults;
  std::unordered_set<std::string> pullable;  // lower-cased; empty + pull_any = any name
  bool pull_any = true;
  std::string backend_header;  // "X-Fake-Backend: name\r\n"
  std::string version_body;
  std::vector<std::unique_ptr<worker>> workers;

  explicit server(options o, std::shared_ptr<const catalog> initial)
      : opt(std::move(o)), store(std::move(initial)) {}
};

const catalog& worker::models() {
  auto v = srv.store.version();
  if (v != cached_version) {
    cached_catalog = srv.store.snapshot();
    cached_version = v;
  }
  return *cached_catalog;
}

// Marks a model as used now; keeps the shared cache line quiet by skipping sub-second updates.
void touch_model(const model_entry& m, std::int64_t keep_alive_ns) {
  std::int64_t next;
  if (keep_alive_ns < 0)
    next = forever_ns;
  else if (keep_alive_ns == 0)
    next = wall_ns() + ns_per_s;  // unloaded when the request ends
  else {
    auto now = wall_ns();
    next = keep_alive_ns > forever_ns - now ? forever_ns : now + keep_alive_ns;
  }
  auto cur = m.expires_ns.load(std::memory_order_relaxed);
  if (cur == next ||
      (cur != forever_ns && next != forever_ns && cur > next - ns_per_s && cur < next + ns_per_s))
    return;
  m.expires_ns.store(next, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// JSON request field access with Go-like strictness on types.

class fields {
 public:
  explicit fields(const json::object& o) : o_(o) {}

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  const json::value* raw(std::string_view k) const {
    auto it = o_.find(k);
    return (it == o_.end() || it->value().is_null()) ? nullptr : &it->value();
  }
  std::string_view str(std::string_view k) {
    const auto* v = raw(k);
    if (!v) return {};
    if (!v->is_string()) return fail(k, "string"), std::string_view{};
    return v->get_string();
  }
  std::optional<bool> boolean(std::string_view k) {
    const auto* v = raw(k);
    if (!v) return std::nullopt;
    if (!v->is_bool()) return fail(k, "bool"), std::nullopt;
    return v->get_bool();
  }
  std::optional<std::int64_t> integer(std::string_view k) {
    const auto* v = raw(k);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(forever_ns))
      return static_cast<std::int64_t>(v->get_uint64());
    if (v->is_double() && std::floor(v->get_double()) == v->get_double() && std::abs(v->get_double()) < 9e18)
      return static_cast<std::int64_t>(v->get_double());
    return fail(k, "int"), std::nullopt;
  }
  const json::object* object(std::string_view k) {
    const auto* v = raw(k);
    if (!v) return nullptr;
    if (!v->is_object()) return fail(k, "object"), nullptr;
    return &v->get_object();
  }
  const json::array* array(std::string_view k) {
    const auto* v = raw(k);
    if (!v) return nullptr;
    if (!v->is_array()) return fail(k, "array"), nullptr;
    return &v->get_array();
  }
  // keep_alive: seconds as a number, or a Go duration string. nullopt = default.
  std::optional<std::int64_t> keep_alive() {
    const auto* v = raw("keep_alive");
    if (!v) return std::nullopt;
    if (v->is_number()) {
      double s = v->to_number<double>();
      if (s < 0) return -1;
      return static_cast<std::int64_t>(std::min(s * 1e9, 9.2e18));
    }
    if (v->is_string()) {
      auto d = parse_go_duration(v->get_string());
      if (!d) {
        error_ = "time: invalid duration " + json_quote(v->get_string());
        return std::nullopt;
      }
      return *d;
    }
    fail("keep_alive", "duration");
    return std::nullopt;
  }

 private:
  void fail(std::string_view k, std::string_view type) {
    if (error_.empty())
      error_ = "invalid value for field \"" + std::string(k) + "\": expected " + std::string(type);
  }

  const json::object& o_;
  std::string error_;
};

// ---------------------------------------------------------------------------------------------
// One connection: its buffers live for the connection and are reused for every request.

enum class outcome : std::uint8_t { ok, client_gone, dropped };

struct controls {
  int status = 0;
  std::int64_t first_byte_delay_ms = 0;
  std::int64_t token_delay_ms = 0;
  std::int64_t drop_after = -1;
  std::int64_t tokens = 10;
  std::vector<std::string> text;  // X-Fake-Text: the answer's tokens, JSON-escaped; empty: the fox
};

// The default answer's tokens: " " + a word, as Ollama's tokens carry their leading space.
constexpr std::array<std::string_view, 10> spaced_token_words = {" The",  " quick", " brown", " fox", " jumps",
                                                                 " over", " the",   " lazy",  " dog", " again."};

// X-Fake-Text: tokens split at '|' when the text has one (exactly as given, so a test can cut a
// word anywhere), else " " + each word. Escaped for a JSON string.
std::vector<std::string> split_fake_text(std::string_view text) {
  std::vector<std::string> out;
  auto escaped = [](std::string_view piece) {
    std::string e;
    for (char c : piece) {
      if (c == '"' || c == '\\') e += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) e += c;
    }
    return e;
  };
  if (text.find('|') != std::string_view::npos) {
    std::size_t start = 0;
    for (;;) {
      auto bar = text.find('|', start);
      auto piece = text.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
      if (!piece.empty()) out.push_back(escaped(piece));
      if (bar == std::string_view::npos) break;
      start = bar + 1;
    }
    return out;
  }
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    auto end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    if (end > i) out.push_back(" " + escaped(text.substr(i, end - i)));
    i = end;
  }
  return out;
}

enum class gen_kind : std::uint8_t { generate, chat, oai_chat, oai_completion };

struct generation {
  gen_kind kind = gen_kind::generate;
  std::string_view prompt;  // generate only, for "context"
  std::int64_t prompt_words = 0;
  std::int64_t tokens = 0;
  bool capped = false;
  bool stream = true;
  bool include_usage = false;
  std::int64_t created = 0;
  std::int64_t t0 = 0;       // steady ns at request start
  std::int64_t t_first = 0;  // steady ns when the first token was produced
  std::string_view model_key;
  bool unload_after = false;
};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class connection {
 public:
  connection(worker& w, socket_type sock)
      : w_(w),
        srv_(w.srv),
        sock_(std::move(sock)),
        timer_(sock_.get_executor()),
        watch_timer_(sock_.get_executor()) {}

  net::awaitable<void> run();

 private:
  // request reading
  net::awaitable<bool> read_request();
  net::awaitable<bool> read_body(bool keep);
  net::awaitable<void> handle_request();
  net::awaitable<void> respond();
  net::awaitable<void> watch_client();
  net::awaitable<void> drain_input();
  net::awaitable<bool> pause_ms(std::int64_t ms);
  bool parse_controls();
  void record_request();

  // writing
  void start_head(unsigned status);
  net::awaitable<void> reply(unsigned status, std::string_view content_type, std::string_view body);
  net::awaitable<void> reply_json(unsigned status = 200) { return reply(status, ct_json, resp_); }
  net::awaitable<void> reply_error(unsigned status, std::string_view message);
  net::awaitable<bool> write_out(std::string_view a, std::string_view b = {});
  void begin_stream(std::string_view content_type);
  void add_event(std::string_view event);
  void add_last_chunk();
  net::awaitable<bool> flush();
  template <class Step>
  net::awaitable<void> run_stream(std::string_view content_type, std::size_t steps, Step step);

  // route handlers
  net::awaitable<void> dispatch();
  net::awaitable<void> handle_fake();
  net::awaitable<void> handle_tags();
  net::awaitable<void> handle_ps();
  net::awaitable<void> handle_show();
  net::awaitable<void> handle_generation();
  net::awaitable<void> handle_embed();
  net::awaitable<void> handle_pull();
  net::awaitable<void> handle_push();
  net::awaitable<void> handle_create();
  net::awaitable<void> handle_copy();
  net::awaitable<void> handle_delete();
  net::awaitable<void> handle_blob();
  net::awaitable<void> handle_v1_models();
  net::awaitable<void> handle_stats();
  net::awaitable<void> handle_faults();
  template <class OnSuccess>
  net::awaitable<void> progress(const std::vector<std::string>& lines, OnSuccess on_success);

  // helpers
  const json::object* body_object();  // replies are the caller's job when null (error_ set)
  std::string_view body_model(fields& f, bool allow_name);
  const model_entry* find_model(std::string_view normalised_key);
  std::int64_t token_budget(std::optional<std::int64_t> cap, bool& capped) const;
  void build_token(const generation& g, std::int64_t i);
  std::string_view token_text(std::int64_t i) const;  // token i of the answer, JSON-escaped
  void build_final(const generation& g, std::string_view done_reason);
  void build_metrics(const generation& g);
  void append_created_at(std::string& out) const;
  void append_model_details(std::string& out, const model_entry& m) const;
  enum class vec_format : std::uint8_t { f32, f64, base64 };
  void append_embedding(std::string& out, std::string_view text, std::size_t dim, bool normalise,
                        vec_format format);
  std::int64_t now_or_constant_ns() const {
    return srv_.opt.deterministic ? deterministic_unix_s * ns_per_s : wall_ns();
  }

  worker& w_;
  server& srv_;
  socket_type sock_;
  timer_type timer_;
  timer_type watch_timer_;
  beast::flat_buffer in_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::string body_;        // request body (JSON routes)
  std::string out_;         // response head, and framed stream chunks
  std::string resp_;        // non-streaming response body
  std::string line_;        // one stream event
  std::string model_json_;  // the request's model name as a JSON string
  std::string model_key_;   // normalised, lower-cased
  std::vector<char> discard_;
  std::array<unsigned char, 4096> json_buf_{};
  std::optional<json::monotonic_resource> json_mr_;
  std::optional<json::value> body_json_;  // lives in json_mr_
  std::string body_error_;
  std::string control_error_;

  // current request
  http::verb method_ = http::verb::unknown;
  std::string_view path_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool chunked_ = true;
  route route_ = route::unmatched;
  controls ctl_;
  outcome outcome_ = outcome::ok;
  std::int64_t t0_ = 0;
  std::int64_t events_ = 0;
  bool dropping_ = false;
  bool linger_ = false;
};

// ---------------------------------------------------------------------------------------------
// Connection loop and request reading

net::awaitable<void> connection::run() {
  beast::error_code ignored;
  sock_.set_option(tcp::no_delay(true), ignored);
  out_.reserve(4096);
  line_.reserve(512);
  for (;;) {
    bool got = co_await read_request();
    if (!got) break;
    co_await handle_request();
    parser_.reset();
    body_json_.reset();
    json_mr_.reset();
    if (outcome_ != outcome::ok || !keep_alive_) break;
  }
  // Orderly FIN (also after a drop) so the client sees exactly the bytes written so far.
  if (outcome_ != outcome::client_gone) sock_.shutdown(tcp::socket::shutdown_send, ignored);
  if (linger_) {
    // Refused mid-request (400/413/431): unread input at close() would turn the FIN into a RST
    // that can destroy the error reply in flight, so drain for a bounded time first.
    using namespace net::experimental::awaitable_operators;
    watch_timer_.expires_after(std::chrono::milliseconds(500));
    co_await (drain_input() || watch_timer_.async_wait(net::use_awaitable));
  }
  sock_.close(ignored);
}

net::awaitable<void> connection::drain_input() {
  if (discard_.empty()) discard_.resize(64 * 1024);
  for (std::size_t total = 0; total < (16u << 20);) {
    auto [ec, n] = co_await sock_.async_read_some(net::buffer(discard_));
    if (ec) co_return;
    total += n;
  }
}

net::awaitable<bool> connection::read_request() {
  auto& p = parser_.emplace();
  p.header_limit(header_limit);
  p.body_limit(boost::none);
  auto [ec, n] = co_await http::async_read_header(sock_, in_, p);
  if (ec) {
    if (ec != http::error::end_of_stream && ec != net::error::eof && ec != net::error::connection_reset &&
        ec != net::error::operation_aborted && ec != net::error::broken_pipe) {
      // Malformed request: answer like Go's server and hang up.
      version_ = 11;
      method_ = http::verb::unknown;
      keep_alive_ = false;
      linger_ = true;
      ctl_ = controls{};
      unsigned status = ec == http::error::header_limit ? 431 : 400;
      co_await reply(status, ct_text,
                     status == 431 ? "431 Request Header Fields Too Large" : "400 Bad Request");
    }
    co_return false;
  }
  auto& req = p.get();
  method_ = req.method();
  version_ = req.version();
  keep_alive_ = req.keep_alive();
  chunked_ = version_ >= 11;
  auto target = req.target();
  path_ = target.substr(0, target.find('?'));
  route_ = match_route(path_);
  outcome_ = outcome::ok;
  ctl_ = controls{};
  t0_ = steady_ns();
  body_.clear();
  body_error_.clear();
  control_error_.clear();

  if (version_ >= 11) {
    auto expect = req[http::field::expect];
    if (!expect.empty() && iequals(expect, "100-continue")) {
      bool written = co_await write_out("HTTP/1.1 100 Continue\r\n\r\n");
      if (!written) co_return false;
    }
  }
  bool keep = path_.starts_with("/fake/") || (method_allowed(route_, method_) && route_ != route::blobs);
  bool ok = co_await read_body(keep);
  co_return ok;
}

// Reads the body into body_ (keep) or discards it in fixed-size pieces (blobs, unknown routes).
net::awaitable<bool> connection::read_body(bool keep) {
  auto& p = *parser_;
  if (p.is_done()) co_return true;
  auto& body = p.get().body();
  if (!keep) {
    if (discard_.empty()) discard_.resize(64 * 1024);
    while (!p.is_done()) {
      body.data = discard_.data();
      body.size = discard_.size();
      auto [ec, n] = co_await http::async_read(sock_, in_, p);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return false;
    }
    co_return true;
  }
  std::size_t used = 0;
  if (auto cl = p.content_length()) {
    if (*cl > json_body_limit) {
      keep_alive_ = false;
      linger_ = true;
      co_await reply(413, ct_json, R"({"error":"request body too large"})");
      co_return false;
    }
    body_.resize(static_cast<std::size_t>(*cl));
  }
  while (!p.is_done()) {
    if (used == body_.size()) {
      if (body_.size() >= json_body_limit) {
        keep_alive_ = false;
      linger_ = true;
        co_await reply(413, ct_json, R"({"error":"request body too large"})");
        co_return false;
      }
      body_.resize(std::min(json_body_limit, std::max<std::size_t>(body_.size() * 2, 16384)));
    }
    body.data = body_.data() + used;
    body.size = body_.size() - used;
    auto [ec, n] = co_await http::async_read(sock_, in_, p);
    if (ec == http::error::need_buffer) ec = {};
    used = body_.size() - body.size;
    if (ec) co_return false;
  }
  body_.resize(used);
  co_return true;
}

// Header controls: X-Fake-* override the process defaults. Also snapshots the headers for stats.
bool connection::parse_controls() {
  auto& f = srv_.faults;
  ctl_.status = f.status.load(std::memory_order_relaxed);
  ctl_.first_byte_delay_ms = f.first_byte_delay_ms.load(std::memory_order_relaxed);
  ctl_.token_delay_ms = f.token_delay_ms.load(std::memory_order_relaxed);
  ctl_.drop_after = f.drop_after.load(std::memory_order_relaxed);
  ctl_.tokens = f.tokens.load(std::memory_order_relaxed);
  ctl_.text.clear();
  bool tokens_given = false;

  auto& st = w_.stats;
  std::size_t n = 0;
  bool ok = true;
  for (const auto& field : parser_->get()) {
    auto name = field.name_string();
    auto value = field.value();
    if (st.last_headers.size() <= n) st.last_headers.emplace_back();
    auto& slot = st.last_headers[n++];
    slot.first.assign(name.data(), name.size());
    for (auto& c : slot.first) c = ascii_lower(c);
    slot.second.assign(value.data(), value.size());
    if (name.size() < 7 || !iequals(name.substr(0, 7), "x-fake-")) continue;
    auto key = std::string_view(slot.first).substr(7);
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    bool parsed = ec == std::errc{} && ptr == value.data() + value.size();
    if (key == "text") {
      ctl_.text = split_fake_text(value);
    } else if (key == "tokens") {
      ok &= parsed && v >= 0;
      ctl_.tokens = v;
      tokens_given = true;
    } else if (key == "token-delay-ms" || key == "slow-chunk-ms") {
      ok &= parsed && v >= 0;
      ctl_.token_delay_ms = v;
    } else if (key == "first-byte-delay-ms") {
      ok &= parsed && v >= 0;
      ctl_.first_byte_delay_ms = v;
    } else if (key == "status") {
      ok &= parsed && v >= 0 && v <= 599;
      ctl_.status = static_cast<int>(v);
    } else if (key == "drop-after") {
      ok &= parsed;
      ctl_.drop_after = v < 0 ? -1 : v;
    }
    if (!ok && control_error_.empty()) control_error_ = "invalid " + std::string(name) + " header";
  }
  if (!ctl_.text.empty() && !tokens_given) ctl_.tokens = static_cast<std::int64_t>(ctl_.text.size());
  st.last_header_count = n;
  st.last_request_steady_ns = t0_;
  return ok;
}

void connection::record_request() {
  auto& st = w_.stats;
  ++st.requests;
  ++st.by_route[static_cast<std::size_t>(route_)];
}

net::awaitable<void> connection::handle_request() {
  if (path_.starts_with("/fake/")) {
    co_await handle_fake();
    co_return;
  }
  record_request();
  auto& st = w_.stats;
  if (route_ == route::unmatched || !method_allowed(route_, method_)) {
    // Router level, like gin: no faults, no delays. Trailing slash → redirect.
    if (route_ == route::unmatched && path_.size() > 1 && path_.back() == '/' &&
        match_route(path_.substr(0, path_.size() - 1)) != route::unmatched) {
      start_head(method_ == http::verb::get ? 301 : 307);
      out_ += "Location: ";
      out_ += path_.substr(0, path_.size() - 1);
      out_ += "\r\nContent-Length: 0\r\n\r\n";
      bool written = co_await write_out(out_);
      if (written) ++st.completed;
      co_return;
    }
    if (route_ == route::unmatched)
      co_await reply(404, ct_text, "404 page not found");
    else
      co_await reply(405, ct_text, "405 method not allowed");
    if (outcome_ == outcome::ok)
      ++st.completed;
    else
      ++st.cancelled;
    co_return;
  }
  ++st.in_flight;
  struct in_flight_guard {
    worker_stats& s;
    ~in_flight_guard() { --s.in_flight; }
  } guard{st};

  bool controls_ok = parse_controls();
  if (!controls_ok) ctl_ = controls{0, 0, 0, -1, ctl_.tokens, {}};

  // Parse the JSON body up front so stats can count the model even for faulted requests.
  body_json_.reset();
  json_mr_.emplace(json_buf_.data(), json_buf_.size());
  model_key_.clear();
  if (!body_.empty()) {
    boost::system::error_code ec;
    body_json_.emplace(json::parse(body_, ec, json::storage_ptr(&*json_mr_)));
    if (ec) body_error_ = ec.message();
  }
  if (body_json_ && body_json_->is_object()) {
    const auto& o = body_json_->get_object();
    std::string_view name;
    const char* keys[] = {"model", "name", "source"};
    for (const auto* k : keys) {
      auto it = o.find(k);
      if (it != o.end() && it->value().is_string() && !it->value().get_string().empty()) {
        name = it->value().get_string();
        break;
      }
    }
    normalise_key(name, model_key_);
  } else if (route_ == route::v1_model) {
    normalise_key(path_.substr(11), model_key_);
  }
  if (!model_key_.empty()) {
    auto it = st.by_model.find(model_key_);
    if (it == st.by_model.end())
      st.by_model.emplace(model_key_, 1);
    else
      ++it->second;
  }

  if (ctl_.first_byte_delay_ms > 0 || ctl_.token_delay_ms > 0) {
    using namespace net::experimental::awaitable_operators;
    auto r = co_await (respond() || watch_client());
    if (r.index() == 1) outcome_ = outcome::client_gone;
  } else {
    co_await respond();
  }
  switch (outcome_) {
    case outcome::ok:
      ++st.completed;
      break;
    case outcome::client_gone:
      ++st.cancelled;
      break;
    case outcome::dropped:
      ++st.dropped;
      break;
  }
}

// Runs beside a response that waits: a closed client ends the race at once. Bytes of a pipelined
// next request land in in_, where the next read_request finds them.
net::awaitable<void> connection::watch_client() {
  for (;;) {
    if (in_.size() >= header_limit) {
      watch_timer_.expires_at(net::steady_timer::time_point::max());
      co_await watch_timer_.async_wait();
      co_return;  // only reached when cancelled: the loser's return is ignored
    }
    auto [ec, n] = co_await sock_.async_read_some(in_.prepare(4096));
    in_.commit(n);
    if (ec) co_return;  // EOF/reset: client gone (or cancelled because respond() won)
  }
}

net::awaitable<bool> connection::pause_ms(std::int64_t ms) {
  if (ms <= 0) co_return true;
  timer_.expires_after(std::chrono::milliseconds(ms));
  auto [ec] = co_await timer_.async_wait();
  if (ec) outcome_ = outcome::client_gone;
  co_return !ec;
}

net::awaitable<void> connection::respond() {
  bool waited = co_await pause_ms(ctl_.first_byte_delay_ms);
  if (!waited) co_return;
  if (!control_error_.empty()) {
    co_await reply_error(400, control_error_);
    co_return;
  }
  if (ctl_.status >= 400) {
    co_await reply_error(static_cast<unsigned>(ctl_.status),
                         "fake fault: status " + std::to_string(ctl_.status));
    co_return;
  }
  co_await dispatch();
}

// ---------------------------------------------------------------------------------------------
// Writing

void connection::start_head(unsigned status) {
  out_.clear();
  out_ += version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  append_int(out_, status);
  out_ += ' ';
  out_ += http::obsolete_reason(static_cast<http::status>(status));
  out_ += "\r\n";
  out_ += srv_.backend_header;
  if (!keep_alive_)
    out_ += "Connection: close\r\n";
  else if (version_ == 10)
    out_ += "Connection: keep-alive\r\n";
}

net::awaitable<bool> connection::write_out(std::string_view a, std::string_view b) {
  std::array<net::const_buffer, 2> bufs{net::buffer(a), net::buffer(b)};
  auto [ec, n] = co_await net::async_write(sock_, bufs);
  if (ec) {
    outcome_ = outcome::client_gone;
    co_return false;
  }
  co_return true;
}

net::awaitable<void> connection::reply(unsigned status, std::string_view content_type,
                                       std::string_view body) {
  start_head(status);
  if (!content_type.empty()) {
    out_ += "Content-Type: ";
    out_ += content_type;
    out_ += "\r\n";
  }
  out_ += "Content-Length: ";
  append_int(out_, body.size());
  out_ += "\r\n\r\n";
  if (ctl_.drop_after == 0) {
    // A non-streaming body counts as one chunk: drop-after 0 sends the head only.
    bool written = co_await write_out(out_);
    if (written) outcome_ = outcome::dropped;
    co_return;
  }
  co_await write_out(out_, method_ == http::verb::head ? std::string_view{} : body);
}

net::awaitable<void> connection::reply_error(unsigned status, std::string_view message) {
  if (is_openai(route_)) {
    resp_.clear();
    resp_ += R"({"error":{"message":)";
    append_json_string(resp_, message);
    resp_ += R"(,"type":")";
    resp_ += status == 400 ? "invalid_request_error" : status == 404 ? "not_found_error" : "api_error";
    resp_ += R"(","param":null,"code":null}})";
  } else {
    resp_.clear();
    resp_ += R"({"error":)";
    append_json_string(resp_, message);
    resp_ += '}';
  }
  co_await reply(status, ct_json, resp_);
}

void connection::begin_stream(std::string_view content_type) {
  if (!chunked_) keep_alive_ = false;  // HTTP/1.0: body ends at close
  start_head(200);
  out_ += "Content-Type: ";
  out_ += content_type;
  out_ += chunked_ ? "\r\nTransfer-Encoding: chunked\r\n\r\n" : "\r\n\r\n";
  events_ = 0;
  dropping_ = false;
}

void connection::add_event(std::string_view event) {
  if (dropping_) return;
  if (ctl_.drop_after >= 0 && events_ == ctl_.drop_after) {
    dropping_ = true;
    return;
  }
  if (chunked_) {
    char hex[20];
    auto [end, ec] = std::to_chars(hex, hex + sizeof hex, event.size(), 16);
    (void)ec;
    out_.append(hex, end);
    out_ += "\r\n";
    out_ += event;
    out_ += "\r\n";
  } else {
    out_ += event;
  }
  ++events_;
}

void connection::add_last_chunk() {
  if (!dropping_ && chunked_) out_ += "0\r\n\r\n";
}

net::awaitable<bool> connection::flush() {
  bool ok = true;
  if (!out_.empty()) ok = co_await write_out(out_);
  out_.clear();
  if (ok && dropping_) {
    outcome_ = outcome::dropped;
    co_return false;
  }
  co_return ok;
}

// Each step appends its events; the head goes out with the first step (as Go's server does) and
// the terminating chunk with the last. Steps after the first wait the token delay.
template <class Step>
net::awaitable<void> connection::run_stream(std::string_view content_type, std::size_t steps, Step step) {
  begin_stream(content_type);
  for (std::size_t i = 0; i < steps; ++i) {
    if (i > 0) {
      bool waited = co_await pause_ms(ctl_.token_delay_ms);
      if (!waited) co_return;
    }
    step(i);
    if (i + 1 == steps) add_last_chunk();
    bool flushed = co_await flush();
    if (!flushed) co_return;
  }
}

// ---------------------------------------------------------------------------------------------
// Dispatch and shared request helpers

net::awaitable<void> connection::dispatch() {
  switch (route_) {
    case route::root:
      co_await reply(200, ct_text, "Ollama is running");
      break;
    case route::version:
      co_await reply(200, ct_json, srv_.version_body);
      break;
    case route::tags:
      co_await handle_tags();
      break;
    case route::ps:
      co_await handle_ps();
      break;
    case route::show:
      co_await handle_show();
      break;
    case route::generate:
    case route::chat:
    case route::v1_chat:
    case route::v1_completions:
      co_await handle_generation();
      break;
    case route::embed:
    case route::embeddings:
    case route::v1_embeddings:
      co_await handle_embed();
      break;
    case route::pull:
      co_await handle_pull();
      break;
    case route::push:
      co_await handle_push();
      break;
    case route::create:
      co_await handle_create();
      break;
    case route::copy:
      co_await handle_copy();
      break;
    case route::del:
      co_await handle_delete();
      break;
    case route::blobs:
      co_await handle_blob();
      break;
    case route::v1_models:
    case route::v1_model:
      co_await handle_v1_models();
      break;
    case route::unmatched:
    case route::count:
      co_await reply(404, ct_text, "404 page not found");
      break;
  }
}

const json::object* connection::body_object() {
  if (body_.empty()) {
    body_error_ = "missing request body";
    return nullptr;
  }
  if (!body_error_.empty()) return nullptr;
  if (!body_json_ || !body_json_->is_object()) {
    const auto* v = body_json_ ? &*body_json_ : nullptr;
    body_error_ = "json: cannot unmarshal " +
                  std::string(v && v->is_array()    ? "array"
                              : v && v->is_string() ? "string"
                                                    : "value") +
                  " into request object";
    return nullptr;
  }
  return &body_json_->get_object();
}

// The request's model name: JSON string kept in model_json_, normalised key in model_key_.
std::string_view connection::body_model(fields& f, bool allow_name) {
  auto name = f.str("model");
  if (name.empty() && allow_name) name = f.str("name");
  model_json_.clear();
  append_json_string(model_json_, name);
  return name;
}

const model_entry* connection::find_model(std::string_view key) {
  return key.empty() ? nullptr : w_.models().find(key);
}

std::int64_t connection::token_budget(std::optional<std::int64_t> cap, bool& capped) const {
  capped = false;
  std::int64_t n = ctl_.tokens;
  if (cap && *cap > 0 && *cap < n) {
    n = *cap;
    capped = true;
  }
  return n;
}

void connection::append_created_at(std::string& out) const {
  if (srv_.opt.deterministic)
    out += "2024-01-01T00:00:00Z";
  else
    append_rfc3339(out, wall_ns());
}

void connection::append_model_details(std::string& out, const model_entry& m) const {
  out += R"("details":{"parent_model":"","format":)";
  append_json_string(out, m.format);
  out += R"(,"family":)";
  append_json_string(out, m.family);
  out += R"(,"families":[)";
  append_json_string(out, m.family);
  out += R"(],"parameter_size":)";
  append_json_string(out, m.parameter_size);
  out += R"(,"quantization_level":)";
  append_json_string(out, m.quantization);
  out += '}';
}

// ---------------------------------------------------------------------------------------------
// Generation: /api/generate, /api/chat, /v1/chat/completions, /v1/completions

std::string_view connection::token_text(std::int64_t i) const {
  if (!ctl_.text.empty()) return ctl_.text[static_cast<std::size_t>(i) % ctl_.text.size()];
  return spaced_token_words[static_cast<std::size_t>(i) % spaced_token_words.size()];
}

void connection::build_token(const generation& g, std::int64_t i) {
  auto word = token_text(i);
  line_.clear();
  switch (g.kind) {
    case gen_kind::generate:
      line_ += R"({"model":)";
      line_ += model_json_;
      line_ += R"(,"created_at":")";
      append_created_at(line_);
      line_ += R"(","response":")";
      line_ += word;
      line_ += "\",\"done\":false}\n";
      break;
    case gen_kind::chat:
      line_ += R"({"model":)";
      line_ += model_json_;
      line_ += R"(,"created_at":")";
      append_created_at(line_);
      line_ += R"(","message":{"role":"assistant","content":")";
      line_ += word;
      line_ += "\"},\"done\":false}\n";
      break;
    case gen_kind::oai_chat:
      line_ += R"(data: {"id":")";
      line_ += resp_;  // the completion id
      line_ += R"(","object":"chat.completion.chunk","created":)";
      append_int(line_, g.created);
      line_ += R"(,"model":)";
      line_ += model_json_;
      line_ +=
          R"(,"system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":")";
      line_ += word;
      line_ += "\"},\"finish_reason\":null}]}\n\n";
      break;
    case gen_kind::oai_completion:
      line_ += R"(data: {"id":")";
      line_ += resp_;
      line_ += R"(","object":"text_completion","created":)";
      append_int(line_, g.created);
      line_ += R"(,"model":)";
      line_ += model_json_;
      line_ += R"(,"system_fingerprint":"fp_ollama","choices":[{"text":")";
      line_ += word;
      line_ += R"(","index":0,"finish_reason":null}])";
      if (g.include_usage) line_ += R"(,"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0})";
      line_ += "}\n\n";
      break;
  }
}

// Appends ,"total_duration":... to line_ (native metrics in Ollama's field order).
void connection::build_metrics(const generation& g) {
  std::int64_t load, prompt_eval, eval, total;
  if (srv_.opt.deterministic) {
    load = 1'000'000;
    prompt_eval = 2'000'000;
    eval = 5'000'000 * std::max<std::int64_t>(g.tokens, 1);
    total = load + prompt_eval + eval;
  } else {
    auto now = steady_ns();
    auto first = g.t_first ? g.t_first : now;
    auto before = std::max<std::int64_t>(first - g.t0, 2);
    load = std::max<std::int64_t>(before / 2, 1);
    prompt_eval = std::max<std::int64_t>(before - load, 1);
    eval = std::max<std::int64_t>(now - first, 1);
    total = load + prompt_eval + eval;
  }
  line_ += R"(,"total_duration":)";
  append_int(line_, total);
  line_ += R"(,"load_duration":)";
  append_int(line_, load);
  line_ += R"(,"prompt_eval_count":)";
  append_int(line_, g.prompt_words);
  line_ += R"(,"prompt_eval_duration":)";
  append_int(line_, prompt_eval);
  line_ += R"(,"eval_count":)";
  append_int(line_, g.tokens);
  line_ += R"(,"eval_duration":)";
  append_int(line_, eval);
}

// The final native object, or the finish (+usage) events and [DONE] on /v1, into line_.
// Non-streaming bodies reuse this with the concatenated text already in resp_'s tail.
void connection::build_final(const generation& g, std::string_view done_reason) {
  line_.clear();
  auto usage = [&] {
    line_ += R"("usage":{"prompt_tokens":)";
    append_int(line_, g.prompt_words);
    line_ += R"(,"completion_tokens":)";
    append_int(line_, g.tokens);
    line_ += R"(,"total_tokens":)";
    append_int(line_, g.prompt_words + g.tokens);
    line_ += '}';
  };
  auto oai_prefix = [&](std::string_view object) {
    line_ += R"(data: {"id":")";
    line_ += resp_;
    line_ += R"(","object":")";
    line_ += object;
    line_ += R"(","created":)";
    append_int(line_, g.created);
    line_ += R"(,"model":)";
    line_ += model_json_;
    line_ += R"(,"system_fingerprint":"fp_ollama",)";
  };
  switch (g.kind) {
    case gen_kind::generate:
      line_ += R"({"model":)";
      line_ += model_json_;
      line_ += R"(,"created_at":")";
      append_created_at(line_);
      line_ += R"(","response":"","done":true,"done_reason":")";
      line_ += done_reason;
      line_ += R"(","context":[)";
      {
        bool first = true;
        auto emit = [&](std::uint64_t id) {
          if (!first) line_ += ',';
          first = false;
          append_int(line_, id);
        };
        std::string_view p = g.prompt;
        while (!p.empty()) {
          while (!p.empty() && is_space(p.front())) p.remove_prefix(1);
          std::size_t n = 0;
          while (n < p.size() && !is_space(p[n])) ++n;
          if (n) emit(100 + fnv1a(p.substr(0, n)) % 31900);
          p.remove_prefix(n);
        }
        for (std::int64_t i = 0; i < g.tokens; ++i)
          emit(32000 + static_cast<std::uint64_t>(i) % spaced_token_words.size());
      }
      line_ += ']';
      build_metrics(g);
      line_ += "}\n";
      break;
    case gen_kind::chat:
      line_ += R"({"model":)";
      line_ += model_json_;
      line_ += R"(,"created_at":")";
      append_created_at(line_);
      line_ += R"(","message":{"role":"assistant","content":""},"done":true,"done_reason":")";
      line_ += done_reason;
      line_ += '"';
      build_metrics(g);
      line_ += "}\n";
      break;
    case gen_kind::oai_chat:
      oai_prefix("chat.completion.chunk");
      line_ += R"("choices":[{"index":0,"delta":{},"finish_reason":")";
      line_ += done_reason;
      line_ += "\"}]}\n\n";
      if (g.include_usage) {
        oai_prefix("chat.completion.chunk");
        line_ += R"("choices":[],)";
        usage();
        line_ += "}\n\n";
      }
      line_ += "data: [DONE]\n\n";
      break;
    case gen_kind::oai_completion:
      oai_prefix("text_completion");
      line_ += R"("choices":[{"text":"","index":0,"finish_reason":")";
      line_ += done_reason;
      line_ += '"';
      line_ += "}]";
      if (g.include_usage) line_ += R"(,"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0})";
      line_ += "}\n\n";
      if (g.include_usage) {
        oai_prefix("text_completion");
        line_ += R"("choices":[],)";
        usage();
        line_ += "}\n\n";
      }
      line_ += "data: [DONE]\n\n";
      break;
  }
}

net::awaitable<void> connection::handle_generation() {
  const auto* obj = body_object();
  if (!obj) {
    co_await reply_error(400, body_error_);
    co_return;
  }
  fields f(*obj);
  generation g;
  g.t0 = t0_;
  bool openai = route_ == route::v1_chat || route_ == route::v1_completions;
  g.kind = route_ == route::generate  ? gen_kind::generate
           : route_ == route::chat    ? gen_kind::chat
           : route_ == route::v1_chat ? gen_kind::oai_chat
                                      : gen_kind::oai_completion;
  auto name = body_model(f, false);
  bool empty_input = false;
  std::optional<std::int64_t> cap;
  std::optional<std::int64_t> keep_alive;

  switch (g.kind) {
    case gen_kind::generate: {
      g.prompt = f.str("prompt");
      g.prompt_words = count_words(g.prompt);
      empty_input = g.prompt.empty();
      break;
    }
    case gen_kind::chat:
    case gen_kind::oai_chat: {
      const auto* msgs = f.array("messages");
      if (msgs) {
        for (const auto& m : *msgs) {
          if (!m.is_object()) {
            co_await reply_error(400, "invalid message: expected object");
            co_return;
          }
          const auto* content = m.get_object().if_contains("content");
          if (!content) continue;
          if (content->is_string())
            g.prompt_words += count_words(content->get_string());
          else if (content->is_array() && openai)
            for (const auto& part : content->get_array())
              if (const auto* po = part.if_object())
                if (const auto* t = po->if_contains("text"); t && t->is_string())
                  g.prompt_words += count_words(t->get_string());
        }
      }
      empty_input = !msgs || msgs->empty();
      if (openai && empty_input && !f.failed()) {
        if (name.empty()) break;
        co_await reply_error(400, "[] is too short - 'messages'");
        co_return;
      }
      break;
    }
    case gen_kind::oai_completion: {
      const auto* p = f.raw("prompt");
      if (p && !p->is_string()) {
        co_await reply_error(400, "invalid prompt: expected string");
        co_return;
      }
      g.prompt = f.str("prompt");
      g.prompt_words = count_words(g.prompt);
      break;
    }
  }
  if (openai) {
    g.stream = f.boolean("stream").value_or(false);
    if (const auto* so = f.object("stream_options"))
      if (const auto* iu = so->if_contains("include_usage"); iu && iu->is_bool())
        g.include_usage = iu->get_bool() && g.stream;
    cap = f.integer("max_tokens");
    if (!cap) cap = f.integer("max_completion_tokens");
  } else {
    g.stream = f.boolean("stream").value_or(true);
    if (const auto* o = f.object("options")) {
      fields of(*o);
      cap = of.integer("num_predict");
      if (of.failed()) {
        co_await reply_error(400, of.error());
        co_return;
      }
    }
    keep_alive = f.keep_alive();
  }
  if (f.failed()) {
    co_await reply_error(400, f.error());
    co_return;
  }
  if (name.empty()) {
    co_await reply_error(400, "model is required");
    co_return;
  }
  const auto* model = find_model(model_key_);
  if (!model) {
    co_await reply_error(404, "model " + json_quote(name) + " not found, try pulling it first");
    co_return;
  }
  if (model->embedding) {
    co_await reply_error(
        400, json_quote(name) + (g.kind == gen_kind::generate || g.kind == gen_kind::oai_completion
                                     ? " does not support generate"
                                     : " does not support chat"));
    co_return;
  }
  std::int64_t ka = keep_alive.value_or(default_keep_alive_ns);
  touch_model(*model, ka);
  g.model_key = model_key_;
  g.unload_after = ka == 0;

  if (empty_input && !openai) {
    // Load (or unload with keep_alive 0): one JSON object even when streaming.
    bool unload = ka == 0;
    if (unload) srv_.store.unload(model_key_);
    resp_.clear();
    resp_ += R"({"model":)";
    resp_ += model_json_;
    resp_ += R"(,"created_at":")";
    append_created_at(resp_);
    resp_ += g.kind == gen_kind::generate
                 ? R"(","response":"","done":true,"done_reason":")"
                 : R"(","message":{"role":"assistant","content":""},"done":true,"done_reason":")";
    resp_ += unload ? "unload" : "load";
    resp_ += "\"}";
    co_await reply_json();
    co_return;
  }

  g.tokens = token_budget(cap, g.capped);
  std::string_view done_reason = g.capped ? "length" : "stop";
  g.created = srv_.opt.deterministic ? deterministic_unix_s
                                     : std::chrono::duration_cast<std::chrono::seconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count();
  // resp_ holds the /v1 completion id while streaming.
  resp_ = g.kind == gen_kind::oai_chat ? "chatcmpl-" : "cmpl-";
  append_int(resp_, srv_.opt.deterministic ? 123 : splitmix64(w_.rng_state) % 1000);

  if (g.stream) {
    auto ctype = openai ? ct_sse : ct_ndjson;
    co_await run_stream(ctype, static_cast<std::size_t>(g.tokens) + 1, [&](std::size_t i) {
      if (i == 0) g.t_first = steady_ns();
      if (static_cast<std::int64_t>(i) < g.tokens) {
        build_token(g, static_cast<std::int64_t>(i));
        add_event(line_);
        return;
      }
      build_final(g, done_reason);
      // A /v1 final step holds several events: frame each on its own.
      if (!openai) {
        add_event(line_);
        return;
      }
      std::string_view rest = line_;
      while (!rest.empty()) {
        auto end = rest.find("\n\n");
        auto ev = rest.substr(0, end + 2);
        add_event(ev);
        rest.remove_prefix(ev.size());
      }
    });
  } else {
    g.t_first = steady_ns();
    bool waited = co_await pause_ms(ctl_.token_delay_ms * g.tokens);
    if (!waited) co_return;
    std::string id = resp_;
    std::string text;
    text.reserve(static_cast<std::size_t>(g.tokens) * 7);
    for (std::int64_t i = 0; i < g.tokens; ++i) text += token_text(i);
    resp_.clear();
    switch (g.kind) {
      case gen_kind::generate:
      case gen_kind::chat: {
        build_final(g, done_reason);  // line_: the final object with "" content
        line_.pop_back();             // no newline in a plain JSON body
        std::string_view needle = g.kind == gen_kind::generate ? R"("response":"")" : R"("content":"")";
        auto at = line_.find(needle) + needle.size() - 1;
        resp_.append(line_, 0, at);
        resp_ += text;
        resp_.append(line_, at);
        break;
      }
      case gen_kind::oai_chat:
      case gen_kind::oai_completion: {
        bool chat = g.kind == gen_kind::oai_chat;
        resp_ += R"({"id":")";
        resp_ += id;
        resp_ += chat ? R"(","object":"chat.completion","created":)"
                      : R"(","object":"text_completion","created":)";
        append_int(resp_, g.created);
        resp_ += R"(,"model":)";
        resp_ += model_json_;
        resp_ += R"(,"system_fingerprint":"fp_ollama","choices":[{)";
        if (chat) {
          resp_ += R"("index":0,"message":{"role":"assistant","content":)";
          append_json_string(resp_, text);
          resp_ += R"(},"finish_reason":")";
        } else {
          resp_ += R"("text":)";
          append_json_string(resp_, text);
          resp_ += R"(,"index":0,"finish_reason":")";
        }
        resp_ += done_reason;
        resp_ += R"("}],"usage":{"prompt_tokens":)";
        append_int(resp_, g.prompt_words);
        resp_ += R"(,"completion_tokens":)";
        append_int(resp_, g.tokens);
        resp_ += R"(,"total_tokens":)";
        append_int(resp_, g.prompt_words + g.tokens);
        resp_ += "}}";
        break;
      }
    }
    co_await reply_json();
  }
  if (g.unload_after) srv_.store.unload(g.model_key);
}

// ---------------------------------------------------------------------------------------------
// Embeddings: /api/embed, /api/embeddings, /v1/embeddings

void connection::append_embedding(std::string& out, std::string_view text, std::size_t dim, bool normalise,
                                  vec_format format) {
  thread_local std::vector<float> values;
  values.resize(dim);
  std::uint64_t state = fnv1a(text, fnv1a(model_key_));
  double norm = 0;
  for (auto& v : values) {
    v = static_cast<float>(static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-52 - 1.0);
    norm += static_cast<double>(v) * v;
  }
  if (normalise && norm > 0) {
    auto inv = 1.0 / std::sqrt(norm);
    for (auto& v : values) v = static_cast<float>(v * inv);
  }
  if (format == vec_format::base64) {  // little-endian float32, as OpenAI's SDKs decode it
    out += '"';
    append_base64(out, reinterpret_cast<const unsigned char*>(values.data()), dim * sizeof(float));
    out += '"';
    return;
  }
  out += '[';
  for (std::size_t i = 0; i < dim; ++i) {
    if (i) out += ',';
    if (format == vec_format::f64)
      append_float(out, static_cast<double>(values[i]));
    else
      append_float(out, values[i]);
  }
  out += ']';
}

net::awaitable<void> connection::handle_embed() {
  const auto* obj = body_object();
  if (!obj) {
    co_await reply_error(400, body_error_);
    co_return;
  }
  fields f(*obj);
  auto name = body_model(f, false);
  std::vector<std::string_view> inputs;
  bool legacy = route_ == route::embeddings;
  bool openai = route_ == route::v1_embeddings;
  bool base64 = false;
  if (legacy) {
    auto p = f.str("prompt");
    if (!p.empty()) inputs.push_back(p);
  } else if (const auto* in = f.raw("input")) {
    if (in->is_string()) {
      if (!in->get_string().empty() || openai) inputs.push_back(in->get_string());
    } else if (in->is_array()) {
      for (const auto& v : in->get_array()) {
        if (!v.is_string()) {
          co_await reply_error(400, "invalid input type");
          co_return;
        }
        inputs.push_back(v.get_string());
      }
      if (openai && inputs.empty()) {
        co_await reply_error(400, "invalid input");
        co_return;
      }
    } else {
      co_await reply_error(400, "invalid input type");
      co_return;
    }
  } else if (openai) {
    co_await reply_error(400, "invalid input");
    co_return;
  }
  if (openai) {
    auto enc = f.str("encoding_format");
    if (!enc.empty() && enc != "float" && enc != "base64") {
      co_await reply_error(400, "invalid encoding format: " + std::string(enc));
      co_return;
    }
    base64 = enc == "base64";
  }
  auto dims = f.integer("dimensions");
  std::optional<std::int64_t> keep_alive;
  if (!openai) keep_alive = f.keep_alive();
  if (f.failed()) {
    co_await reply_error(400, f.error());
    co_return;
  }
  if (name.empty()) {
    co_await reply_error(400, "model is required");
    co_return;
  }
  const auto* model = find_model(model_key_);
  if (!model) {
    co_await reply_error(404, "model " + json_quote(name) + " not found, try pulling it first");
    co_return;
  }
  std::size_t dim = srv_.opt.embedding_dim;
  if (dims && !legacy) {
    if (*dims < 1 || static_cast<std::size_t>(*dims) > dim) {
      co_await reply_error(400, "invalid dimensions: must be between 1 and " + std::to_string(dim));
      co_return;
    }
    dim = static_cast<std::size_t>(*dims);
  }
  std::int64_t ka = keep_alive.value_or(default_keep_alive_ns);
  touch_model(*model, ka);
  std::int64_t words = 0;
  for (auto s : inputs) words += count_words(s);

  resp_.clear();
  if (legacy) {
    resp_ += R"({"embedding":)";
    if (inputs.empty())
      resp_ += "[]";
    else
      append_embedding(resp_, inputs[0], dim, false, vec_format::f64);
    resp_ += '}';
  } else if (openai) {
    resp_ += R"({"object":"list","data":[)";
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (i) resp_ += ',';
      resp_ += R"({"object":"embedding","embedding":)";
      append_embedding(resp_, inputs[i], dim, true, base64 ? vec_format::base64 : vec_format::f32);
      resp_ += R"(,"index":)";
      append_int(resp_, i);
      resp_ += '}';
    }
    resp_ += R"(],"model":)";
    resp_ += model_json_;
    resp_ += R"(,"usage":{"prompt_tokens":)";
    append_int(resp_, words);
    resp_ += R"(,"total_tokens":)";
    append_int(resp_, words);
    resp_ += "}}";
  } else {
    resp_ += R"({"model":)";
    resp_ += model_json_;
    resp_ += R"(,"embeddings":[)";
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (i) resp_ += ',';
      append_embedding(resp_, inputs[i], dim, true, vec_format::f32);
    }
    resp_ += ']';
    if (!inputs.empty()) {
      std::int64_t total = srv_.opt.deterministic ? 3'000'000 : std::max<std::int64_t>(steady_ns() - t0_, 2);
      std::int64_t load = srv_.opt.deterministic ? 1'000'000 : std::max<std::int64_t>(total / 2, 1);
      resp_ += R"(,"total_duration":)";
      append_int(resp_, total);
      resp_ += R"(,"load_duration":)";
      append_int(resp_, load);
      resp_ += R"(,"prompt_eval_count":)";
      append_int(resp_, words);
    }
    resp_ += '}';
  }
  co_await reply_json();
  if (ka == 0) srv_.store.unload(model_key_);
}

// ---------------------------------------------------------------------------------------------
// Catalog views: /api/tags, /api/ps, /api/show, /v1/models

net::awaitable<void> connection::handle_tags() {
  resp_.clear();
  resp_ += R"({"models":[)";
  bool first = true;
  for (const auto& m : w_.models().list) {
    if (!first) resp_ += ',';
    first = false;
    resp_ += R"({"name":)";
    append_json_string(resp_, m->name);
    resp_ += R"(,"model":)";
    append_json_string(resp_, m->name);
    resp_ += R"(,"modified_at":")";
    append_rfc3339(resp_, m->modified_ns);
    resp_ += R"(","size":)";
    append_int(resp_, m->size);
    resp_ += R"(,"digest":")";
    resp_ += m->digest;
    resp_ += "\",";
    append_model_details(resp_, *m);
    resp_ += '}';
  }
  resp_ += "]}";
  co_await reply_json();
}

net::awaitable<void> connection::handle_ps() {
  auto now = wall_ns();
  bool det = srv_.opt.deterministic;
  std::vector<std::pair<std::int64_t, const model_entry*>> loaded;
  for (const auto& m : w_.models().list) {
    auto e = m->expires_ns.load(std::memory_order_relaxed);
    if (e != 0 && (det || e > now)) loaded.emplace_back(e, m.get());
  }
  if (det)
    std::sort(loaded.begin(), loaded.end(),
              [](const auto& a, const auto& b) { return a.second->name < b.second->name; });
  else
    std::stable_sort(loaded.begin(), loaded.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
  resp_.clear();
  resp_ += R"({"models":[)";
  bool first = true;
  for (const auto& [expires, m] : loaded) {
    if (!first) resp_ += ',';
    first = false;
    resp_ += R"({"name":)";
    append_json_string(resp_, m->name);
    resp_ += R"(,"model":)";
    append_json_string(resp_, m->name);
    resp_ += R"(,"size":)";
    append_int(resp_, m->size);
    resp_ += R"(,"digest":")";
    resp_ += m->digest;
    resp_ += "\",";
    append_model_details(resp_, *m);
    resp_ += R"(,"expires_at":")";
    if (det)
      resp_ += expires == forever_ns ? "2318-01-01T00:00:00Z" : "2024-01-01T00:05:00Z";
    else
      append_rfc3339(resp_, expires);
    resp_ += R"(","size_vram":)";
    append_int(resp_, m->size);
    resp_ += R"(,"context_length":4096})";
  }
  resp_ += "]}";
  co_await reply_json();
}

net::awaitable<void> connection::handle_show() {
  const auto* obj = body_object();
  if (!obj) {
    co_await reply_error(400, body_error_);
    co_return;
  }
  fields f(*obj);
  auto name = body_model(f, true);
  if (f.failed()) {
    co_await reply_error(400, f.error());
    co_return;
  }
  if (name.empty()) {
    co_await reply_error(400, "model is required");
    co_return;
  }
  const auto* m = find_model(model_key_);
  if (!m) {
    co_await reply_error(404, "model " + json_quote(name) + " not found, try pulling it first");
    co_return;
  }
  json::object o;
  o["license"] = "Fake license: this model was never trained.";
  o["modelfile"] =
      "# Modelfile generated by \"ollama show\"\n# To build a new Modelfile based on "
      "this, replace FROM with:\n# FROM " +
      m->name + "\n\nFROM /root/.ollama/models/blobs/sha256-" + m->digest + "\nTEMPLATE \"{{ .Prompt }}\"\n";
  if (!m->embedding) {
    o["parameters"] = "stop                           \"</s>\"";
    o["template"] = "{{ .Prompt }}";
  }
  json::object details;
  details["parent_model"] = "";
  details["format"] = m->format;
  details["family"] = m->family;
  details["families"] = json::array{json::value(m->family)};
  details["parameter_size"] = m->parameter_size;
  details["quantization_level"] = m->quantization;
  o["details"] = std::move(details);
  json::object info;
  info["general.architecture"] = m->family;
  info["general.file_type"] = m->quantization == "F16" ? 1 : 2;
  info["general.parameter_count"] = m->parameter_count;
  info["general.quantization_version"] = 2;
  info[m->family + ".context_length"] = 4096;
  info[m->family + ".embedding_length"] = m->embedding ? srv_.opt.embedding_dim : 4096;
  info[m->family + ".block_count"] = 32;
  o["model_info"] = std::move(info);
  o["capabilities"] = m->embedding ? json::array{"embedding"} : json::array{"completion"};
  std::string modified;
  append_rfc3339(modified, m->modified_ns);
  o["modified_at"] = modified;
  resp_ = json::serialize(o);
  co_await reply_json();
}

net::awaitable<void> connection::handle_v1_models() {
  resp_.clear();
  auto append_model = [&](const model_entry& m) {
    resp_ += R"({"id":)";
    append_json_string(resp_, m.name);
    resp_ += R"(,"object":"model","created":)";
    append_int(resp_, m.modified_ns / ns_per_s);
    resp_ += R"(,"owned_by":)";
    auto slash = m.name.rfind('/');
    if (slash == std::string::npos) {
      resp_ += "\"library\"";
    } else {
      auto ns = std::string_view(m.name).substr(0, slash);
      if (auto s = ns.rfind('/'); s != std::string_view::npos) ns.remove_prefix(s + 1);
      append_json_string(resp_, ns);
    }
    resp_ += '}';
  };
  if (route_ == route::v1_model) {
    std::string raw;
    auto seg = path_.substr(11);
    for (std::size_t i = 0; i < seg.size(); ++i) {  // percent-decode the one segment
      if (seg[i] == '%' && i + 2 < seg.size()) {
        unsigned v = 0;
        if (std::from_chars(seg.data() + i + 1, seg.data() + i + 3, v, 16).ec == std::errc{}) {
          raw += static_cast<char>(v);
          i += 2;
          continue;
        }
      }
      raw += seg[i];
    }
    const auto* m = find_model(model_key(raw));
    if (!m) {
      co_await reply_error(404, "model " + json_quote(raw) + " not found, try pulling it first");
      co_return;
    }
    append_model(*m);
    co_await reply_json();
    co_return;
  }
  const auto& list = w_.models().list;
  resp_ += R"({"object":"list","data":)";
  if (list.empty()) {
    resp_ += "null";
  } else {
    resp_ += '[';
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i) resp_ += ',';
      append_model(*list[i]);
    }
    resp_ += ']';
  }
  resp_ += '}';
  co_await reply_json();
}

// ---------------------------------------------------------------------------------------------
// Model management: pull, push, create, copy, delete, blobs

// Streams progress lines (one per step, token delay between), or with stream:false answers the
// last one. on_success runs just before the final line, so a client that leaves mid-way changes
// nothing.
template <class OnSuccess>
net::awaitable<void> connection::progress(const std::vector<std::string>& lines, OnSuccess on_success) {
  const auto* obj = body_object();
  bool stream = true;
  if (obj)
    if (const auto* s = obj->if_contains("stream"); s && s->is_bool()) stream = s->get_bool();
  if (!stream) {
    bool waited = co_await pause_ms(ctl_.token_delay_ms * static_cast<std::int64_t>(lines.size() - 1));
    if (!waited) co_return;
    on_success();
    resp_ = lines.back();
    resp_.pop_back();
    co_await reply_json();
    co_return;
  }
  co_await run_stream(ct_ndjson, lines.size(), [&](std::size_t i) {
    if (i + 1 == lines.size()) on_success();
    add_event(lines[i]);
  });
}

std::string progress_line(std::string_view status, std::string_view digest = {}, std::uint64_t total = 0,
                          std::uint64_t completed = 0) {
  std::string s = R"({"status":)";
  append_json_string(s, status);
  if (!digest.empty()) {
    s += R"(,"digest":"sha256:)";
    s += digest;
    s += '"';
  }
  if (total) {
    s += R"(,"total":)";
    append_int(s, total);
  }
  if (completed) {
    s += R"(,"completed":)";
    append_int(s, completed);
  }
  s += "}\n";
  return s;
}

void layer_lines(std::vector<std::string>& lines, std::string_view verb, std::string_view seed,
                 std::uint64_t model_size) {
  std::array<std::uint64_t, 3> sizes = {model_size, 1192, 487};
  for (std::size_t l = 0; l < sizes.size(); ++l) {
    auto digest = fake_digest(std::string(seed) + "#layer" + std::to_string(l));
    auto status = std::string(verb) + " " + digest.substr(0, 12);
    lines.push_back(progress_line(status, digest, sizes[l]));
    if (sizes[l] > 4096) lines.push_back(progress_line(status, digest, sizes[l], sizes[l] / 2));
    lines.push_back(progress_line(status, digest, sizes[l], sizes[l]));
  }
}

net::awaitable<void> connection::handle_pull() {
  const auto* obj = body_object();
  if (!obj) {
    co_await reply_error(400, body_error_);
    co_return;
  }
  fields f(*obj);
  auto name = body_model(f, true);
  (void)f.boolean("stream");
  if (f.failed()) {
    co_await reply_error(400, f.error());
    co_return;
  }
  if (name.empty()) {
    co_await reply_error(400, "model is required");
    co_return;
  }
  auto normalised = normalise_model_name(name);
  if (normalised.empty()) {
    co_await reply_error(400, "invalid model name");
    co_return;
  }
  if (!srv_.pull_any && !srv_.pullable.contains(model_key_)) {
    bool stream = f.boolean("stream").value_or(true);
    if (!stream) {
      co_await reply_error(500, "pull model manifest: file does not exist");
      co_return;
    }
    std::vector<std::string> lines = {progress_line("pulling manifest"),
                                      R"({"error":"pull model manifest: file does not exist"})"
                                      "\n"};
    co_await run_stream(ct_ndjson, lines.size(), [&](std::size_t i) { add_event(lines[i]); });
    co_return;
  }
  auto model = make_model(normalised, now_or_constant_ns());
  std::vector<std::string> lines;
  lines.push_back(progress_line("pulling manifest"));
  layer_lines(lines, "pulling", model->key, model->size);
  lines.push_back(progress_line("verifying sha256 digest"));
  lines.push_back(progress_line("writing manifest"));
  lines.push_back(progress_line("removing unused layers"));
  lines.push_back(progress_line("success"));
  co_await progress(lines, [&] { srv_.store.put(model); });
}

net::awaitable<void> connection::handle_push() {
  const auto* obj = body_object();
  if (!obj) {
    co_await reply_error(400, body_error_);
    co_return;
  }
  fields f(*obj);
  auto name = body_model(f, true);
  (void)f.boolean("stream");
  if (f.failed()) {
    co_await reply_error(400, f.error());
    co_return;
  }
  if (name.empty()) {
    co_await reply_error(400, "model is required");
    co_return;
  }
  const auto* m = find_model(model_key_);
  if (!m) {
    co_await reply_error(404, "model '" + std::string(name) + "' not found");
    co_return;
  }
  std::vector<std::string> lines;
  lines.push_back(progress_line("retrieving manifest"));
  layer_lines(lines, "pushing", m->key, m->size);
  lines.push_back(progress_line("pushing manifest"));
  lines.push_back(progress_line("success"));
  co_await progress(lines, [] {});
}

net::awaitable<void> connection::handle_create() {
  const auto* obj = body_object();
  if (!obj) {
    co_await reply_error(400, body_error_);
    co_return;
  }
  fields f(*obj);
  auto name = body_model(f, true);
  auto from = f.str("from");
  const auto* files = f.object("files");
  auto quantize = f.str("quantize");
  (void)f.boolean("stream");
  if (f.failed()) {
    co_await reply_error(400, f.error());
    co_return;
  }
  if (name.empty()) {
    co_await reply_error(400, "model is required");
    co_return;
  }
  auto normalised = normalise_model_name(name);
  if (normalised.empty()) {
    co_await reply_error(400, "invalid model name");
    co_return;
  }
  if (from.empty() && (!files || files->empty())) {
    co_await reply_error(400, "neither 'from' or 'files' was specified");
    co_return;
  }
  std::vector<std::string> lines;
  model_ptr model;
  if (!from.empty()) {
    const auto* src = find_model(model_key(from));
    if (!src) {
      co_await reply_error(404, "model '" + std::string(from) + "' not found");
      co_return;
    }
    model = clone_model(*src, normalised, now_or_constant_ns());
    model->digest = fake_digest(model->key);
    for (int l = 0; l < 2; ++l)
      lines.push_back(progress_line("using existing layer sha256:" +
                                    fake_digest(src->key + "#layer" + std::to_string(l))));
  } else {
    lines.push_back(progress_line("parsing GGUF"));
    for (const auto& [file, digest] : *files) {
      if (!digest.is_string()) {
        co_await reply_error(400, "invalid digest for file " + std::string(file));
        co_return;
      }
      std::string d(digest.get_string());
      if (d.size() == 71 && d[6] == '-') d[6] = ':';
      for (auto& c : d) c = ascii_lower(c);
      if (!srv_.store.has_blob(d)) {
        co_await reply_error(400, "blob " + d + " not found; upload it with POST /api/blobs/" + d);
        co_return;
      }
      lines.push_back(progress_line("using existing layer " + d));
    }
    model = make_model(normalised, now_or_constant_ns());
  }
  if (!quantize.empty()) {
    std::string q(quantize);
    for (auto& c : q)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    auto digest = fake_digest(model->key + "#quantized");
    auto status = "quantizing F16 model to " + q;
    lines.push_back(progress_line(status, digest, model->size));
    lines.push_back(progress_line(status, digest, model->size, model->size));
    model->quantization = q;
  }
  const auto* system = obj->if_contains("system");
  const auto* tmpl = obj->if_contains("template");
  if ((system && system->is_string()) || (tmpl && tmpl->is_string()))
    lines.push_back(progress_line("creating new layer sha256:" + fake_digest(model->key + "#config")));
  lines.push_back(progress_line("writing manifest"));
  lines.push_back(progress_line("success"));
  co_await progress(lines, [&] { srv_.store.put(model); });
}

net::awaitable<void> connection::handle_copy() {
  const auto* obj = body_object();
  if (!obj) {
    co_await reply_error(400, body_error_);
    co_return;
  }
  fields f(*obj);
  auto source = f.str("source");
  auto destination = f.str("destination");
  if (f.failed()) {
    co_await reply_error(400, f.error());
    co_return;
  }
  if (source.empty() || destination.empty()) {
    co_await reply_error(400, "source and destination are required");
    co_return;
  }
  auto dest = normalise_model_name(destination);
  if (dest.empty()) {
    co_await reply_error(400, "destination " + json_quote(destination) + " is invalid");
    co_return;
  }
  if (!srv_.store.copy(model_key(source), dest, now_or_constant_ns())) {
    co_await reply_error(404, "model '" + std::string(source) + "' not found");
    co_return;
  }
  co_await reply(200, {}, {});
}

net::awaitable<void> connection::handle_delete() {
  const auto* obj = body_object();
  if (!obj) {
    co_await reply_error(400, body_error_);
    co_return;
  }
  fields f(*obj);
  auto name = body_model(f, true);
  if (f.failed()) {
    co_await reply_error(400, f.error());
    co_return;
  }
  if (name.empty()) {
    co_await reply_error(400, "model is required");
    co_return;
  }
  if (!srv_.store.remove(model_key_)) {
    co_await reply_error(404, "model '" + std::string(name) + "' not found");
    co_return;
  }
  co_await reply(200, {}, {});
}

net::awaitable<void> connection::handle_blob() {
  auto digest = path_.substr(11);
  bool valid = digest.size() == 71 && digest.starts_with("sha256") && (digest[6] == ':' || digest[6] == '-');
  for (std::size_t i = 7; valid && i < digest.size(); ++i) {
    char c = ascii_lower(digest[i]);
    valid = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  }
  if (!valid) {
    co_await reply_error(400, "invalid digest format");
    co_return;
  }
  std::string key = lower(digest);
  key[6] = ':';
  if (method_ == http::verb::head) {
    co_await reply(srv_.store.has_blob(key) ? 200 : 404, {}, {});
    co_return;
  }
  // The body was already read and discarded: the fake keeps digests, never bytes.
  co_await reply(srv_.store.add_blob(key) ? 201 : 200, {}, {});
}

// ---------------------------------------------------------------------------------------------
// /fake/: faults and stats (not counted as Ollama requests)

// Run on the owning worker's thread, so counters need neither atomics nor locks.
net::awaitable<worker_stats> copy_stats(worker& w) { co_return w.stats; }

net::awaitable<void> reset_stats(worker& w) {
  auto in_flight = w.stats.in_flight;
  w.stats = worker_stats{};
  w.stats.in_flight = in_flight;
  co_return;
}

net::awaitable<void> connection::handle_fake() {
  bool stats = path_ == "/fake/stats";
  bool faults = path_ == "/fake/faults";
  if (!stats && !faults) {
    co_await reply(404, ct_text, "404 page not found");
  } else if (stats && method_ == http::verb::get) {
    co_await handle_stats();
  } else if (stats && method_ == http::verb::delete_) {
    for (auto& w : srv_.workers) co_await net::co_spawn(w->ioc, reset_stats(*w), net::use_awaitable);
    co_await reply(200, ct_json, "{}");
  } else if (faults && (method_ == http::verb::get || method_ == http::verb::post)) {
    co_await handle_faults();
  } else {
    co_await reply(405, ct_text, "405 method not allowed");
  }
}

net::awaitable<void> connection::handle_stats() {
  std::uint64_t requests = 0, in_flight = 0, completed = 0, cancelled = 0, dropped = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(route::count)> by_route{};
  std::map<std::string, std::uint64_t> by_model;
  json::object headers;
  std::int64_t last = -1;
  for (auto& w : srv_.workers) {
    auto s = co_await net::co_spawn(w->ioc, copy_stats(*w), net::use_awaitable);
    requests += s.requests;
    in_flight += s.in_flight;
    completed += s.completed;
    cancelled += s.cancelled;
    dropped += s.dropped;
    for (std::size_t i = 0; i < by_route.size(); ++i) by_route[i] += s.by_route[i];
    for (const auto& [model, n] : s.by_model) by_model[model] += n;
    if (s.last_request_steady_ns > last) {
      last = s.last_request_steady_ns;
      headers.clear();
      for (std::size_t i = 0; i < s.last_header_count; ++i) {
        const auto& [name, value] = s.last_headers[i];
        if (auto* v = headers.if_contains(name))
          v->as_string().append(", ").append(value);
        else
          headers[name] = value;
      }
    }
  }
  json::object o;
  o["requests"] = requests;
  json::object routes;
  for (std::size_t i = 0; i < by_route.size(); ++i)
    if (by_route[i]) routes[route_names[i]] = by_route[i];
  o["by_route"] = std::move(routes);
  json::object models;
  for (const auto& [model, n] : by_model) models[model] = n;
  o["by_model"] = std::move(models);
  o["in_flight"] = in_flight;
  o["completed"] = completed;
  o["cancelled"] = cancelled;
  o["dropped"] = dropped;
  o["workers"] = srv_.workers.size();
  o["last_request_headers"] = std::move(headers);
  resp_ = json::serialize(o);
  co_await reply_json();
}

net::awaitable<void> connection::handle_faults() {
  auto& f = srv_.faults;
  if (method_ == http::verb::post) {
    json::object empty;
    const json::object* obj = &empty;
    if (!body_.empty()) {
      boost::system::error_code ec;
      body_json_.emplace(json::parse(body_, ec));
      if (ec || !body_json_->is_object()) {
        // Built before the co_await: GCC 12 double-destroys conditional temporaries across it.
        std::string message = ec ? ec.message() : "expected a JSON object";
        co_await reply_error(400, message);
        co_return;
      }
      obj = &body_json_->get_object();
    }
    // Validate everything before changing anything.
    std::string error;
    auto number = [&](std::string_view key, const json::value& v, std::int64_t lo,
                      std::int64_t hi) -> std::optional<std::int64_t> {
      std::int64_t n = 0;
      if (v.is_int64())
        n = v.get_int64();
      else if (v.is_uint64() && v.get_uint64() < 1ULL << 62)
        n = static_cast<std::int64_t>(v.get_uint64());
      else if (!v.is_null()) {
        error = "invalid value for field \"" + std::string(key) + "\": expected integer";
        return std::nullopt;
      }
      if (!v.is_null() && (n < lo || n > hi)) {
        error = "field \"" + std::string(key) + "\" out of range";
        return std::nullopt;
      }
      return n;
    };
    for (const auto& [key, v] : *obj) {
      if (key == "status")
        number(key, v, 0, 599);
      else if (key == "first_byte_delay_ms" || key == "token_delay_ms")
        number(key, v, 0, 86'400'000);
      else if (key == "drop_after")
        number(key, v, -1, std::numeric_limits<std::int64_t>::max());
      else if (key == "tokens")
        number(key, v, 0, 100'000'000);
      else
        error = "unknown field \"" + std::string(key) + "\"";
      if (!error.empty()) break;
    }
    if (!error.empty()) {
      co_await reply_error(400, error);
      co_return;
    }
    if (obj->empty()) {
      f.status.store(0);
      f.drop_after.store(-1);
      f.first_byte_delay_ms.store(srv_.opt.first_byte_delay_ms);
    }
    for (const auto& [key, v] : *obj) {
      bool null = v.is_null();
      auto n = null ? 0
                    : *number(key, v, std::numeric_limits<std::int64_t>::min(),
                              std::numeric_limits<std::int64_t>::max());
      if (key == "status")
        f.status.store(static_cast<int>(n));
      else if (key == "first_byte_delay_ms")
        f.first_byte_delay_ms.store(null ? srv_.opt.first_byte_delay_ms : n);
      else if (key == "token_delay_ms")
        f.token_delay_ms.store(null ? srv_.opt.token_delay_ms : n);
      else if (key == "drop_after")
        f.drop_after.store(null || n < 0 ? -1 : n);
      else if (key == "tokens")
        f.tokens.store(null ? srv_.opt.tokens : n);
    }
    co_await reply(200, ct_json, "{}");
    co_return;
  }
  json::object o;
  o["status"] = f.status.load();
  o["first_byte_delay_ms"] = f.first_byte_delay_ms.load();
  o["token_delay_ms"] = f.token_delay_ms.load();
  o["drop_after"] = f.drop_after.load();
  o["tokens"] = f.tokens.load();
  resp_ = json::serialize(o);
  co_await reply_json();
}

// ---------------------------------------------------------------------------------------------
// Listening and start-up

void log_escaped_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    std::cerr << "fake-ollama: unexpected error: " << x.what() << '\n';
  }
}

net::awaitable<void> serve(worker& w, socket_type sock) {
  connection c(w, std::move(sock));
  co_await c.run();
}

net::awaitable<void> accept_loop(worker& w, acceptor_type acceptor) {
  timer_type backoff(acceptor.get_executor());
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept();
    if (ec == net::error::operation_aborted) co_return;
    if (ec) {  // EMFILE and friends: wait for descriptors to free up
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait();
      continue;
    }
    net::co_spawn(acceptor.get_executor(), serve(w, std::move(sock)), log_escaped_exception);
  }
}

acceptor_type bind_acceptor(net::io_context& ioc, const tcp::endpoint& ep) {
  acceptor_type acceptor(ioc);
  acceptor.open(ep.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  using reuse_port = net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  acceptor.set_option(reuse_port(true));
  acceptor.bind(ep);
  acceptor.listen(net::socket_base::max_listen_connections);
  return acceptor;
}

std::shared_ptr<const catalog> initial_catalog(const options& opt, std::int64_t now_ns) {
  auto cat = std::make_shared<catalog>();
  auto add = [&](const std::string& name) -> const model_entry* {
    auto normalised = normalise_model_name(name);
    if (normalised.empty()) usage_error("invalid model name '" + name + "'");
    auto key = model_key(normalised);
    for (auto const& m : cat->list)
      if (m->key == key) return m.get();
    cat->list.push_back(make_model(normalised, now_ns));
    return cat->list.back().get();
  };
  for (const auto& name : opt.models) add(name);
  for (const auto& name : opt.loaded) {
    const auto* m = add(name);
    m->expires_ns.store(wall_ns() + default_keep_alive_ns);
  }
  cat->reindex();
  return cat;
}

}  // namespace

int main(int argc, char** argv) {
  auto opt = parse_options(argc, argv);
  auto start_ns = opt.deterministic ? deterministic_unix_s * ns_per_s : wall_ns();
  auto initial = initial_catalog(opt, start_ns);
  server srv(opt, std::move(initial));
  srv.faults.tokens = opt.tokens;
  srv.faults.token_delay_ms = opt.token_delay_ms;
  srv.faults.first_byte_delay_ms = opt.first_byte_delay_ms;
  if (opt.pullable) {
    srv.pull_any = false;
    for (const auto& name : *opt.pullable) {
      auto key = model_key(name);
      if (key.empty()) usage_error("invalid model name '" + name + "' in --pullable");
      srv.pullable.insert(key);
    }
  }
  srv.backend_header = "X-Fake-Backend: " + opt.name + "\r\n";
  srv.version_body = "{\"version\":" + json_quote(opt.version) + "}";

  for (unsigned i = 0; i < opt.threads; ++i) {
    srv.workers.push_back(std::make_unique<worker>(srv, i));
    srv.workers.back()->rng_state = opt.deterministic ? i : static_cast<std::uint64_t>(wall_ns()) + i;
  }

  std::vector<acceptor_type> acceptors;
  try {
    tcp::resolver resolver(srv.workers[0]->ioc);
    auto results = resolver.resolve(opt.host, std::to_string(opt.port), tcp::resolver::passive);
    tcp::endpoint ep = *results.begin();
    for (auto& w : srv.workers) {
      acceptors.push_back(bind_acceptor(w->ioc, ep));
      ep.port(acceptors.front().local_endpoint().port());  // --port 0: all share the first
    }
  } catch (const std::exception& e) {
    std::cerr << "fake-ollama: cannot listen on " << opt.host << ':' << opt.port << ": " << e.what() << '\n';
    return 1;
  }
  auto port = acceptors.front().local_endpoint().port();
  for (std::size_t i = 0; i < srv.workers.size(); ++i)
    net::co_spawn(srv.workers[i]->ioc, accept_loop(*srv.workers[i], std::move(acceptors[i])),
                  log_escaped_exception);

  net::signal_set signals(srv.workers[0]->ioc, SIGINT, SIGTERM);
  signals.async_wait([&srv](const boost::system::error_code&, int) {
    for (auto& w : srv.workers) w->ioc.stop();
  });

  std::cout << "listening on " << port << std::endl;

  for (std::size_t i = 1; i < srv.workers.size(); ++i) {
    auto& w = *srv.workers[i];
    w.thread = std::thread([&w] { w.ioc.run(); });
  }
  srv.workers[0]->ioc.run();
  for (std::size_t i = 1; i < srv.workers.size(); ++i) srv.workers[i]->thread.join();
  return 0;
}
