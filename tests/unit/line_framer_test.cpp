#include "gateway/line_framer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace corral {
namespace {

class line_framer_test : public ::testing::Test {
 protected:
  // What the relay does with a framer: keep the bytes not yet forwarded, ask for the complete
  // prefix, forward it, carry the rest.
  struct relay {
    explicit relay(framing kind) : framer(kind) {}

    void feed(std::string_view bytes) {
      pending.append(bytes);
      std::size_t n = framer.complete_prefix(pending, scanned);
      EXPECT_LE(n, pending.size());
      if (n > 0) {
        forwarded_prefixes.push_back(pending.substr(0, n));
        forwarded.append(pending, 0, n);
        pending.erase(0, n);
      }
      scanned = pending.size();
    }

    line_framer framer;
    std::string pending;
    std::size_t scanned = 0;
    std::string forwarded;
    std::vector<std::string> forwarded_prefixes;
  };

  // True when `text` ends on a record boundary of `kind`.
  static bool ends_on_boundary(framing kind, std::string_view text) {
    if (kind == framing::ndjson) return text.ends_with('\n');
    return text.ends_with("\n\n") || text.ends_with("\n\r\n");
  }

  // The length of `text` up to and including its last complete record.
  static std::size_t complete_length(framing kind, std::string_view text) {
    for (std::size_t n = text.size(); n > 0; --n)
      if (ends_on_boundary(kind, text.substr(0, n))) return n;
    return 0;
  }

  static std::vector<std::string> records(framing kind, std::string_view complete) {
    std::vector<std::string> out;
    for_each_record(kind, complete, [&](std::string_view r) { out.emplace_back(r); });
    return out;
  }

  // Feeds `input` in two pieces split at every byte position and checks what the relay forwards.
  static void check_every_split(framing kind, std::string_view input) {
    const std::size_t want = complete_length(kind, input);
    ASSERT_GT(want, 0u) << "test input has no complete record";
    for (std::size_t split = 0; split <= input.size(); ++split) {
      SCOPED_TRACE("split at " + std::to_string(split));
      relay r(kind);
      r.feed(input.substr(0, split));
      // Everything complete in the first piece is forwarded at once, nothing more.
      EXPECT_EQ(r.forwarded, input.substr(0, complete_length(kind, input.substr(0, split))));
      r.feed(input.substr(split));
      EXPECT_EQ(r.forwarded, input.substr(0, want));
      EXPECT_EQ(r.pending, input.substr(want));
      for (const auto& p : r.forwarded_prefixes) EXPECT_TRUE(ends_on_boundary(kind, p)) << p;
    }
  }

  static void check_byte_by_byte(framing kind, std::string_view input) {
    relay r(kind);
    for (std::size_t i = 0; i < input.size(); ++i) {
      r.feed(input.substr(i, 1));
      ASSERT_EQ(r.forwarded, input.substr(0, complete_length(kind, input.substr(0, i + 1))))
          << "after byte " << i;
    }
  }
};

TEST_F(line_framer_test, ndjson_complete_prefix_ends_after_the_last_newline) {
  line_framer f(framing::ndjson);
  EXPECT_EQ(f.kind(), framing::ndjson);
  EXPECT_EQ(f.complete_prefix("", 0), 0u);
  EXPECT_EQ(f.complete_prefix("{\"a\":1}", 0), 0u);
  EXPECT_EQ(f.complete_prefix("{\"a\":1}\n", 0), 8u);
  EXPECT_EQ(f.complete_prefix("{\"a\":1}\n{\"b\":2}\n{\"c\"", 0), 16u);
}

TEST_F(line_framer_test, ndjson_complete_prefix_finds_a_newline_arriving_after_scanned_bytes) {
  line_framer f(framing::ndjson);
  // The first 7 bytes were seen before; the newline is new.
  EXPECT_EQ(f.complete_prefix("{\"a\":1}\n", 7), 8u);
  // Nothing new: nothing completes.
  EXPECT_EQ(f.complete_prefix("{\"a\":1}", 7), 0u);
  // A scanned count past the end is clamped, not trusted.
  EXPECT_EQ(f.complete_prefix("{\"a\":1}", 100), 0u);
}

TEST_F(line_framer_test, sse_complete_prefix_ends_after_the_last_blank_line) {
  line_framer f(framing::sse);
  EXPECT_EQ(f.kind(), framing::sse);
  EXPECT_EQ(f.complete_prefix("", 0), 0u);
  EXPECT_EQ(f.complete_prefix("data: 1\n", 0), 0u);
  EXPECT_EQ(f.complete_prefix("data: 1\n\n", 0), 9u);
  EXPECT_EQ(f.complete_prefix("event: x\ndata: 1\n\ndata: 2\n\ndata: 3\n", 0), 27u);
}

TEST_F(line_framer_test, sse_single_newlines_inside_an_event_are_not_boundaries) {
  line_framer f(framing::sse);
  EXPECT_EQ(f.complete_prefix("event: message\ndata: a\ndata: b\n", 0), 0u);
  EXPECT_EQ(f.complete_prefix("data: a\r\ndata: b\r\n", 0), 0u);
}

TEST_F(line_framer_test, ndjson_crlf_lines_end_after_the_lf_so_no_carriage_return_is_left_behind) {
  line_framer f(framing::ndjson);
  std::string_view in = "{\"a\":1}\r\n{\"b\":2}\r\n{\"c\":";
  EXPECT_EQ(f.complete_prefix(in, 0), 18u);
  EXPECT_EQ(in.substr(18), "{\"c\":");
  // A CR alone is not the end of a line.
  EXPECT_EQ(f.complete_prefix("{\"a\":1}\r", 0), 0u);
}

TEST_F(line_framer_test, sse_crlf_blank_line_ends_an_event) {
  line_framer f(framing::sse);
  EXPECT_EQ(f.complete_prefix("data: 1\r\n\r\n", 0), 11u);
  EXPECT_EQ(f.complete_prefix("data: 1\r\n\r\ndata: 2\r\n", 0), 11u);
  EXPECT_EQ(f.complete_prefix("data: 1\r\n\r", 0), 0u);
}

TEST_F(line_framer_test, ndjson_stream_split_at_every_byte_forwards_whole_lines_only) {
  check_every_split(framing::ndjson,
                    "{\"model\":\"m\",\"response\":\"a\"}\n"
                    "{\"model\":\"m\",\"response\":\"\\n\"}\n"
                    "{\"model\":\"m\",\"done\":true}\n"
                    "{\"partial\":");
}

TEST_F(line_framer_test, ndjson_crlf_stream_split_at_every_byte_forwards_whole_lines_only) {
  check_every_split(framing::ndjson, "{\"a\":1}\r\n{\"b\":2}\r\n\r\n{\"c\":3}\r\n{\"d\"\r");
}

TEST_F(line_framer_test, sse_stream_split_at_every_byte_forwards_whole_events_only) {
  check_every_split(framing::sse,
                    "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                    "event: message\ndata: {\"x\":1}\n\n"
                    "data: [DONE]\n\n"
                    "data: {\"partial\"\n");
}

TEST_F(line_framer_test, sse_crlf_terminator_straddling_two_reads_is_found_at_every_position) {
  // Each event ends with "\r\n\r\n"; every split point inside a terminator is covered.
  check_every_split(framing::sse, "data: {\"a\":1}\r\n\r\ndata: {\"b\":2}\r\n\r\nid: 3\r\ndata: x\r\n\r");
}

TEST_F(line_framer_test, streams_fed_one_byte_at_a_time_forward_each_record_as_it_completes) {
  check_byte_by_byte(framing::ndjson, "{\"a\":1}\n{\"b\":2}\r\n{\"c\":3}\n{");
  check_byte_by_byte(framing::sse, "data: a\n\ndata: b\r\n\r\nevent: e\ndata: c\n\ndata");
}

TEST_F(line_framer_test, one_mebibyte_ndjson_line_in_4k_reads_is_forwarded_whole_when_it_ends) {
  std::string line = "{\"response\":\"";
  line.append(std::size_t{1} << 20, 'x');
  line += "\"}\n";
  relay r(framing::ndjson);
  constexpr std::size_t read_size = 4096;
  std::size_t offset = 0;
  for (; offset + read_size < line.size(); offset += read_size) {
    r.feed(std::string_view(line).substr(offset, read_size));
    ASSERT_TRUE(r.forwarded.empty()) << "forwarded part of a line at offset " << offset;
  }
  r.feed(std::string_view(line).substr(offset));
  ASSERT_EQ(r.forwarded_prefixes.size(), 1u);
  EXPECT_EQ(r.forwarded.size(), line.size());
  EXPECT_EQ(r.forwarded, line);
  EXPECT_TRUE(r.pending.empty());
}

TEST_F(line_framer_test, one_mebibyte_sse_event_in_4k_reads_is_forwarded_whole_when_it_ends) {
  std::string event = "data: ";
  event.append(std::size_t{1} << 20, 'y');
  event += "\r\n\r\n";
  // The next event starts in the read that completes this one.
  std::string input = event + "data: next";
  relay r(framing::sse);
  constexpr std::size_t read_size = 4096;
  for (std::size_t offset = 0; offset < input.size(); offset += read_size) {
    r.feed(std::string_view(input).substr(offset, read_size));
    if (offset + read_size < event.size()) {
      ASSERT_TRUE(r.forwarded.empty()) << "at offset " << offset;
    }
  }
  ASSERT_EQ(r.forwarded_prefixes.size(), 1u);
  EXPECT_EQ(r.forwarded, event);
  EXPECT_EQ(r.pending, "data: next");
}

TEST_F(line_framer_test, for_each_record_splits_ndjson_into_lines_with_their_terminators) {
  EXPECT_EQ(records(framing::ndjson, "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n"),
            (std::vector<std::string>{"{\"a\":1}\n", "{\"b\":2}\r\n", "\n", "{\"c\":3}\n"}));
  EXPECT_TRUE(records(framing::ndjson, "").empty());
}

TEST_F(line_framer_test, for_each_record_splits_sse_into_events_with_their_blank_lines) {
  EXPECT_EQ(records(framing::sse, "data: a\n\nevent: e\ndata: b\r\n\r\ndata: [DONE]\n\n"),
            (std::vector<std::string>{"data: a\n\n", "event: e\ndata: b\r\n\r\n", "data: [DONE]\n\n"}));
  EXPECT_TRUE(records(framing::sse, "").empty());
}

TEST_F(line_framer_test, for_each_record_of_a_complete_prefix_reassembles_the_prefix) {
  for (framing kind : {framing::ndjson, framing::sse}) {
    std::string_view in = kind == framing::ndjson ? std::string_view("a\nb\r\nc\nd")
                                                  : std::string_view("data: a\n\ndata: b\r\n\r\ndata: c");
    line_framer f(kind);
    auto n = f.complete_prefix(in, 0);
    std::string joined;
    for (const auto& r : records(kind, in.substr(0, n))) {
      EXPECT_TRUE(ends_on_boundary(kind, r)) << r;
      joined += r;
    }
    EXPECT_EQ(joined, in.substr(0, n));
  }
}

}  // namespace
}  // namespace corral
