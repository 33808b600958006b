#pragma once
// corral-bench's command line: what a run is asked to do, parsed and checked in one pure
// function so every bad argument is caught before a connection is opened.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace corral::bench {

// A bad command line: the message names the argument and says what it wants (exit code 2).
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The endpoint's API family decides the body's shape and the stream's framing.
enum class api_kind { ollama_generate, ollama_chat, ollama_embed, openai_chat, openai_completions, openai_embeddings };

std::string_view endpoint_path(api_kind api);
bool is_openai(api_kind api);
bool is_embedding(api_kind api);

// An http:// base address (no TLS): host, port and an optional path prefix without trailing '/'.
struct base_url {
  std::string text;  // as given, for the report
  std::string host;
  std::string port;
  std::string prefix;
};
base_url parse_base_url(const std::string& text, const std::string& argument);

// How long generated prompts are, in words (about one token each).
struct length_spec {
  unsigned min = 128;
  unsigned max = 128;  // min == max: fixed length
};
length_spec parse_length_spec(const std::string& text, const std::string& argument);

enum class arrivals { constant, poisson };

struct bench_options {
  base_url url;
  std::optional<base_url> compare;
  api_kind api = api_kind::ollama_generate;
  std::vector<std::string> models{"llama2"};
  bool stream = true;

  // Load: closed loop over `concurrency` (each value of the sweep), or open loop at `rates`.
  bool open_loop = false;
  std::vector<unsigned> concurrency{1};
  std::vector<double> rates;
  arrivals arrival = arrivals::constant;

  // Bounds of each point: either or both; with neither, 10 s.
  double duration_s = 0;
  std::uint64_t requests = 0;
  double timeout_s = 60;

  std::string prompts_file;
  length_spec prompt_words;
  std::string options_json;  // a JSON object
  unsigned max_tokens = 0;   // 0: the server's own limit
  std::string api_key;
  std::vector<std::pair<std::string, std::string>> headers;

  unsigned threads = 1;
  std::uint64_t seed = 1;
  std::string json_file;
  std::string html_file;
  bool quiet = false;  // no progress output
  bool help = false;
};

// Parses argv[1..argc); throws usage_error on the first bad argument.
bench_options parse_args(const std::vector<std::string>& args);

// The --help text.
std::string usage_text();

}  // namespace corral::bench
