#pragma once
// The request bodies a run sends: prompts read from JSONL or generated, shaped for the chosen
// endpoint. Everything is built before the load starts, so sending a request is a buffer write.
#include "bench/load/bench_args.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace corral::bench {

// One prompt: a string, or a chat history (an array of {"role","content"} objects).
using prompt = boost::json::value;

// Reads a JSONL file of {"prompt": "..."} or {"messages": [...]} lines (blank lines skipped).
// Throws usage_error naming the file and line on anything else.
std::vector<prompt> load_prompts(const std::string& file);

// `count` prompts of words drawn from a fixed vocabulary, lengths uniform in [min, max].
// The same seed gives the same prompts.
std::vector<prompt> generate_prompts(const length_spec& words, std::size_t count, std::uint64_t seed);

// The JSON body for `api`: a chat history becomes one prompt (contents joined by newlines) for
// prompt endpoints, a prompt becomes one user message for chat endpoints.
std::string request_body(const bench_options& o, const std::string& model, const prompt& p);

// A complete HTTP/1.1 request (head and body) for `target` on `o.url`'s host, keep-alive.
std::string http_request(const bench_options& o, const base_url& url, const std::string& body);

// Every request text of a run: prompts × models, built once (prompt i goes with model i % M).
std::vector<std::string> build_requests(const bench_options& o, const base_url& url);

}  // namespace corral::bench
