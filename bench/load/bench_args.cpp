#include "bench/load/bench_args.hpp"

#include <boost/json/parse.hpp>

#include <charconv>
#include <cmath>

namespace corral::bench {
namespace {

struct endpoint_entry {
  std::string_view path;
  api_kind api;
};
constexpr endpoint_entry endpoints[] = {
    {"/api/generate", api_kind::ollama_generate},   {"/api/chat", api_kind::ollama_chat},
    {"/api/embed", api_kind::ollama_embed},         {"/v1/chat/completions", api_kind::openai_chat},
    {"/v1/completions", api_kind::openai_completions}, {"/v1/embeddings", api_kind::openai_embeddings},
};

[[noreturn]] void fail(const std::string& argument, const std::string& problem) {
  throw usage_error(argument + ": " + problem);
}

std::uint64_t parse_count(const std::string& text, const std::string& argument, std::uint64_t min) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < min)
    fail(argument, "wants a whole number >= " + std::to_string(min) + ", got '" + text + "'");
  return v;
}

double parse_positive(const std::string& text, const std::string& argument) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || !(v > 0) || !std::isfinite(v))
    fail(argument, "wants a number > 0, got '" + text + "'");
  return v;
}

// Seconds, with an optional unit: 30, 30s, 500ms, 2m.
double parse_seconds(std::string text, const std::string& argument) {
  double scale = 1;
  if (text.ends_with("ms")) {
    scale = 0.001;
    text.resize(text.size() - 2);
  } else if (text.ends_with("s")) {
    text.pop_back();
  } else if (text.ends_with("m")) {
    scale = 60;
    text.pop_back();
  }
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !(v > 0) || !std::isfinite(v))
    fail(argument, "wants a duration such as 10, 10s, 500ms or 2m");
  return v * scale;
}

std::vector<std::string> split_list(const std::string& text, const std::string& argument) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.empty()) fail(argument, "has an empty item in '" + text + "'");
    out.push_back(std::move(item));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

}  // namespace

std::string_view endpoint_path(api_kind api) {
  for (const auto& e : endpoints)
    if (e.api == api) return e.path;
  return {};
}

bool is_openai(api_kind api) {
  return api == api_kind::openai_chat || api == api_kind::openai_completions || api == api_kind::openai_embeddings;
}

bool is_embedding(api_kind api) { return api == api_kind::ollama_embed || api == api_kind::openai_embeddings; }

base_url parse_base_url(const std::string& text, const std::string& argument) {
  constexpr std::string_view scheme = "http://";
  if (!text.starts_with(scheme)) fail(argument, "wants an http:// URL, got '" + text + "'");
  base_url u;
  u.text = text;
  std::string rest = text.substr(scheme.size());
  auto slash = rest.find('/');
  if (slash != std::string::npos) {
    u.prefix = rest.substr(slash);
    while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
    rest.resize(slash);
  }
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) {
    u.host = rest;
    u.port = "80";
  } else {
    u.host = rest.substr(0, colon);
    u.port = rest.substr(colon + 1);
    parse_count(u.port, argument + " port", 1);
  }
  if (u.host.empty()) fail(argument, "has no host in '" + text + "'");
  return u;
}

length_spec parse_length_spec(const std::string& text, const std::string& argument) {
  length_spec s;
  if (text.starts_with("uniform:")) {
    auto colon = text.find(':', 8);
    if (colon == std::string::npos) fail(argument, "wants uniform:MIN:MAX, got '" + text + "'");
    s.min = static_cast<unsigned>(parse_count(text.substr(8, colon - 8), argument, 1));
    s.max = static_cast<unsigned>(parse_count(text.substr(colon + 1), argument, 1));
    if (s.max < s.min) fail(argument, "wants MIN <= MAX in '" + text + "'");
    return s;
  }
  s.min = s.max = static_cast<unsigned>(parse_count(text, argument, 1));
  return s;
}

bench_options parse_args(const std::vector<std::string>& args) {
  bench_options o;
  bool have_url = false, models_given = false, have_concurrency = false, have_rate = false;
  bool have_prompt_tokens = false, have_arrivals = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string value;
    bool inline_value = false;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      inline_value = true;
    }
    auto next = [&]() -> std::string {
      if (inline_value) return value;
      if (i + 1 >= args.size()) fail(arg, "wants a value");
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (arg == "--url") {
      o.url = parse_base_url(next(), arg);
      have_url = true;
    } else if (arg == "--compare") {
      o.compare = parse_base_url(next(), arg);
    } else if (arg == "--endpoint") {
      std::string path = next();
      bool found = false;
      for (const auto& e : endpoints)
        if (e.path == path) {
          o.api = e.api;
          found = true;
        }
      if (!found)
        fail(arg, "wants one of /api/generate, /api/chat, /api/embed, /v1/chat/completions, "
                  "/v1/completions, /v1/embeddings; got '" + path + "'");
    } else if (arg == "--model") {
      if (!models_given) o.models.clear();
      models_given = true;
      for (auto& m : split_list(next(), arg)) o.models.push_back(std::move(m));
    } else if (arg == "--stream") {
      o.stream = true;
    } else if (arg == "--no-stream") {
      o.stream = false;
    } else if (arg == "--concurrency" || arg == "--sweep-concurrency") {
      if (have_concurrency) fail(arg, "given twice (--concurrency and --sweep-concurrency are one setting)");
      have_concurrency = true;
      o.concurrency.clear();
      for (const auto& c : split_list(next(), arg))
        o.concurrency.push_back(static_cast<unsigned>(parse_count(c, arg, 1)));
      if (arg == "--concurrency" && o.concurrency.size() != 1) fail(arg, "takes one value; use --sweep-concurrency for several");
    } else if (arg == "--rate" || arg == "--sweep-rate") {
      if (have_rate) fail(arg, "given twice (--rate and --sweep-rate are one setting)");
      have_rate = true;
      for (const auto& r : split_list(next(), arg)) o.rates.push_back(parse_positive(r, arg));
      if (arg == "--rate" && o.rates.size() != 1) fail(arg, "takes one value; use --sweep-rate for several");
      o.open_loop = true;
    } else if (arg == "--arrivals") {
      std::string a = next();
      have_arrivals = true;
      if (a == "constant") o.arrival = arrivals::constant;
      else if (a == "poisson") o.arrival = arrivals::poisson;
      else fail(arg, "wants constant or poisson, got '" + a + "'");
    } else if (arg == "--duration") {
      o.duration_s = parse_seconds(next(), arg);
    } else if (arg == "--requests") {
      o.requests = parse_count(next(), arg, 1);
    } else if (arg == "--timeout") {
      o.timeout_s = parse_seconds(next(), arg);
    } else if (arg == "--prompts") {
      o.prompts_file = next();
      if (o.prompts_file.empty()) fail(arg, "wants a file name");
    } else if (arg == "--prompt-tokens") {
      o.prompt_words = parse_length_spec(next(), arg);
      have_prompt_tokens = true;
    } else if (arg == "--options") {
      o.options_json = next();
      boost::system::error_code ec;
      auto v = boost::json::parse(o.options_json, ec);
      if (ec || !v.is_object()) fail(arg, "wants a JSON object such as '{\"temperature\":0}'");
    } else if (arg == "--max-tokens") {
      o.max_tokens = static_cast<unsigned>(parse_count(next(), arg, 1));
    } else if (arg == "--api-key") {
      o.api_key = next();
      if (o.api_key.empty()) fail(arg, "wants a key");
    } else if (arg == "--header") {
      std::string h = next();
      auto colon = h.find(':');
      if (colon == std::string::npos || colon == 0) fail(arg, "wants NAME:VALUE, got '" + h + "'");
      std::string v = h.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      if (h.find_first_of("\r\n") != std::string::npos) fail(arg, "must not hold a line break");
      o.headers.emplace_back(h.substr(0, colon), std::move(v));
    } else if (arg == "--threads") {
      o.threads = static_cast<unsigned>(parse_count(next(), arg, 1));
    } else if (arg == "--seed") {
      o.seed = parse_count(next(), arg, 0);
    } else if (arg == "--json") {
      o.json_file = next();
    } else if (arg == "--html") {
      o.html_file = next();
    } else if (arg == "--quiet") {
      o.quiet = true;
    } else {
      fail(arg, "unknown argument (see --help)");
    }
  }
  if (o.help) return o;
  if (!have_url) fail("--url", "is required (the base address, e.g. http://127.0.0.1:9089)");
  if (have_rate && have_concurrency) fail("--rate", "and --concurrency exclude each other (open or closed loop)");
  if (have_arrivals && !have_rate) fail("--arrivals", "needs --rate or --sweep-rate");
  if (have_prompt_tokens && !o.prompts_file.empty()) fail("--prompt-tokens", "and --prompts exclude each other");
  if (o.duration_s == 0 && o.requests == 0) o.duration_s = 10;
  return o;
}

std::string usage_text() {
  return R"(usage: corral-bench --url http://HOST:PORT [options]

Drives an Ollama-native or OpenAI-compatible endpoint and reports latency and throughput.

target
  --url URL                base address of the server (required)
  --compare URL            a second server, run with the same load after the first; the report shows ratios
  --endpoint PATH          /api/generate (default), /api/chat, /api/embed,
                           /v1/chat/completions, /v1/completions, /v1/embeddings
  --model M[,M...]         model(s), taken in turn (repeatable; default llama2)
  --stream | --no-stream   streamed answers (default) or whole ones
  --api-key KEY            sent as Authorization: Bearer KEY
  --header NAME:VALUE      an extra request header (repeatable)
load
  --concurrency N          closed loop: N requests in flight, each sent when the last answer ends (default 1)
  --sweep-concurrency A,B  one run per value
  --rate R                 open loop: R requests/s, whatever the answers do
  --sweep-rate A,B         one run per value
  --arrivals KIND          constant (default) or poisson spacing of open-loop arrivals
  --duration T             each run lasts T (10, 10s, 500ms, 2m); in-flight answers are awaited
  --requests N             each run sends N requests (with --duration: whichever comes first)
  --timeout T              per request (default 60s)
  --threads N              event loops, one per thread (default 1)
prompts
  --prompts FILE           JSONL, one {"prompt": "..."} or {"messages": [...]} per line
  --prompt-tokens SPEC     generated prompts of N words, or uniform:MIN:MAX (default 128)
  --options JSON           native: the "options" object; OpenAI: fields merged into the body
  --max-tokens N           num_predict (native) or max_tokens (OpenAI)
  --seed N                 seed for generated prompts and Poisson arrivals (default 1)
output
  --json FILE              every figure as JSON
  --html FILE              a self-contained page with latency-against-throughput curves (inline SVG)
  --quiet                  no progress on stderr
  --help

Exit status: 0 when every request succeeded, 1 when some failed, 2 for a bad command line.
)";
}

}  // namespace corral::bench
