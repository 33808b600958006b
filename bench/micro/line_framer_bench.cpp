// line_framer::complete_prefix driven the way the relay drives it (gateway/proxy.cpp): each
// upstream read extends `pending`, the complete prefix is consumed, the rest stays as scanned.
// One iteration = one upstream read, so Time is the framing cost per read.
#include "gateway/line_framer.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using corral::framing;

constexpr std::string_view words[] = {" The", " quick", " brown", " fox", " jumps",
                                      " over", " the", " lazy", " dog", "."};

std::string ndjson_token(std::size_t i) {
  return R"({"model":"llama2","created_at":"2024-01-01T00:00:00Z","response":")" +
         std::string(words[i % std::size(words)]) + "\",\"done\":false}\n";
}

std::string sse_token(std::size_t i) {
  return R"(data: {"id":"chatcmpl-42","object":"chat.completion.chunk","created":1704067200,)"
         R"("model":"llama2","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":)"
         R"({"role":"assistant","content":")" +
         std::string(words[i % std::size(words)]) + "\"},\"finish_reason\":null}]}\n\n";
}

// One /api/embed answer: a single ~64 KiB line.
std::string embed_line(std::size_t) {
  std::string s = R"({"model":"nomic-embed-text","embeddings":[[)";
  while (s.size() < 64 * 1024) s += "0.0123456789,";
  s.back() = ']';
  return s + "]}\n";
}

struct stream {
  std::string bytes;               // ~256 KiB of records
  std::vector<std::size_t> reads;  // successive upstream read sizes, summing to bytes.size()
};

// `read_size` 0: one record per read.
template <class Record>
stream make_stream(Record record, std::size_t read_size) {
  stream s;
  for (std::size_t i = 0; s.bytes.size() < 256 * 1024; ++i) {
    auto r = record(i);
    s.bytes += r;
    if (read_size == 0) s.reads.push_back(r.size());
  }
  for (std::size_t at = 0; read_size != 0 && at < s.bytes.size(); at += read_size)
    s.reads.push_back(std::min(read_size, s.bytes.size() - at));
  return s;
}

template <class Record>
void bm_complete_prefix(benchmark::State& state, framing kind, Record record, std::size_t read_size) {
  const stream s = make_stream(record, read_size);
  const corral::line_framer framer(kind);
  std::size_t begin = 0, end = 0, scanned = 0, next = 0;
  std::int64_t bytes = 0;
  for (auto _ : state) {
    if (next == s.reads.size()) {  // every record framed: replay the stream
      if (begin != s.bytes.size()) {
        state.SkipWithError("the stream did not frame completely");
        break;
      }
      begin = end = scanned = next = 0;
    }
    end += s.reads[next];
    bytes += static_cast<std::int64_t>(s.reads[next++]);
    std::string_view pending(s.bytes.data() + begin, end - begin);
    benchmark::DoNotOptimize(pending);
    auto ready = framer.complete_prefix(pending, scanned);
    benchmark::DoNotOptimize(ready);
    begin += ready;
    scanned = end - begin;
  }
  state.SetBytesProcessed(bytes);
}

BENCHMARK_CAPTURE(bm_complete_prefix, ndjson_line_per_read, framing::ndjson, ndjson_token, 0);
BENCHMARK_CAPTURE(bm_complete_prefix, ndjson_16KiB_reads, framing::ndjson, ndjson_token, 16 * 1024);
BENCHMARK_CAPTURE(bm_complete_prefix, sse_event_per_read, framing::sse, sse_token, 0);
BENCHMARK_CAPTURE(bm_complete_prefix, sse_16KiB_reads, framing::sse, sse_token, 16 * 1024);
// A record longer than a read: every read is scanned whole and completes nothing.
BENCHMARK_CAPTURE(bm_complete_prefix, ndjson_64KiB_line_1460B_reads, framing::ndjson, embed_line, 1460);

}  // namespace
