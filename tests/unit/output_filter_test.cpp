#include "policies/output_filter.hpp"

#include "gateway/core/config.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral {
namespace {

namespace json = boost::json;

class OutputFilterTest : public ::testing::Test {
 protected:
  static std::unique_ptr<policy> make(std::string_view options) {
    auto p = make_output_filter(json::parse(options).as_object());
    p->bind("output_filter", 0, nullptr);
    return p;
  }

  static std::string config_error_of(std::string_view options) {
    try {
      make(options);
    } catch (const config_error& e) {
      return e.what();
    }
    return "(accepted)";
  }

  // One response through the filter: every record in, what the client gets out.
  struct response {
    explicit response(const policy& p, std::string_view content_type = "application/x-ndjson", unsigned status = 200)
        : filter(p) {
      filter.on_response_head(ctx, {status, content_type});
    }

    // False when the filter blocks.
    bool feed(chunk_kind kind, std::string_view record) {
      auto r = filter.on_response_chunk(ctx, kind, record);
      last_action = r.act;
      if (r.act == chunk_result::action::block) {
        blocked = r.message;
        return false;
      }
      outputs.emplace_back(r.act == chunk_result::action::replace ? r.data : record);
      return true;
    }

    const policy& filter;
    request_context ctx;
    std::vector<std::string> outputs;
    std::string blocked;
    chunk_result::action last_action = chunk_result::action::forward;
  };

  static std::string generate_line(std::string_view piece, bool done = false) {
    json::object o{{"model", "llama3.2"}, {"created_at", "2025-01-01T00:00:00.5Z"}, {"response", piece}, {"done", done}};
    if (done) {
      o["done_reason"] = "stop";
      o["eval_count"] = 12;
    }
    return json::serialize(o) + "\n";
  }

  static std::string chat_line(std::string_view content, bool done = false, std::string_view field = "content") {
    json::object message{{"role", "assistant"}, {"content", ""}};
    message[field] = content;
    json::object o{{"model", "llama3.2"}, {"message", message}, {"done", done}};
    return json::serialize(o) + "\n";
  }

  static std::string chat_event(std::string_view content, int index = 0, const char* finish = nullptr) {
    json::object choice{{"index", index}, {"delta", json::object{{"role", "assistant"}, {"content", content}}}};
    choice["finish_reason"] = finish ? json::value(finish) : json::value(nullptr);
    json::object o{{"id", "chatcmpl-7"}, {"object", "chat.completion.chunk"}, {"created", 1700000000},
                   {"model", "llama3.2"}, {"system_fingerprint", "fp_ollama"}, {"choices", json::array{choice}}};
    return "data: " + json::serialize(o) + "\n\n";
  }

  static std::string completion_event(std::string_view text, const char* finish = nullptr) {
    json::object choice{{"index", 0}, {"text", text}};
    choice["finish_reason"] = finish ? json::value(finish) : json::value(nullptr);
    json::object o{{"id", "cmpl-3"}, {"object", "text_completion"}, {"created", 1700000000}, {"model", "llama3.2"},
                   {"choices", json::array{choice}}};
    return "data: " + json::serialize(o) + "\n\n";
  }

  // The string at a dotted path ("message.content"), "" when absent.
  static std::string text_at(const json::value& v, std::string_view path) {
    const json::value* at = &v;
    while (!path.empty()) {
      auto dot = path.find('.');
      auto key = path.substr(0, dot);
      path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
      if (!at->is_object() || !at->as_object().contains(key)) return {};
      at = &at->as_object().at(key);
    }
    return at->is_string() ? std::string(at->as_string()) : std::string{};
  }

  // One field's text over NDJSON output; each record must be one line of valid JSON.
  static std::string ndjson_text(const std::vector<std::string>& lines, std::string_view path) {
    std::string text;
    for (const auto& line : lines) {
      EXPECT_TRUE(line.ends_with('\n')) << line;
      EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
      boost::system::error_code ec;
      auto v = json::parse(line, ec);
      EXPECT_FALSE(ec) << line;
      if (!ec) text += text_at(v, path);
    }
    return text;
  }

  // The JSON payloads of SSE output (each record: whole `data:` events); [DONE] as null.
  static std::vector<json::value> sse_payloads(const std::vector<std::string>& records) {
    std::vector<json::value> out;
    for (const auto& r : records) {
      EXPECT_TRUE(r.ends_with("\n\n")) << r;
      std::string_view rest = r;
      while (!rest.empty()) {
        auto end = rest.find("\n\n");
        EXPECT_NE(end, std::string_view::npos);
        auto event = rest.substr(0, end);
        rest.remove_prefix(end + 2);
        EXPECT_TRUE(event.starts_with("data: ")) << event;
        EXPECT_EQ(event.find('\n'), std::string_view::npos) << event;
        event.remove_prefix(6);
        if (event == "[DONE]") {
          out.emplace_back(nullptr);
          continue;
        }
        boost::system::error_code ec;
        out.push_back(json::parse(event, ec));
        EXPECT_FALSE(ec) << event;
      }
    }
    return out;
  }

  // Choice `index`'s text over SSE output: `field` is "delta.content", "delta.reasoning" or "text".
  static std::string sse_text(const std::vector<std::string>& records, std::int64_t index, std::string_view field) {
    std::string text;
    for (const auto& p : sse_payloads(records)) {
      if (!p.is_object()) continue;
      for (const auto& c : p.at("choices").as_array())
        if (c.at("index").to_number<std::int64_t>() == index) text += text_at(c, field);
    }
    return text;
  }

  // A /api/generate stream of `pieces` and a final record.
  static response generate(const policy& p, const std::vector<std::string>& pieces) {
    response r(p);
    for (const auto& piece : pieces)
      if (!r.feed(chunk_kind::ndjson_line, generate_line(piece))) return r;
    r.feed(chunk_kind::ndjson_line, generate_line("", true));
    return r;
  }

  // `text` as the response of a non-streaming /api/generate answer, after the filter.
  static std::string filtered(const policy& p, std::string_view text) {
    response r(p, "application/json");
    r.feed(chunk_kind::whole_body, generate_line(text, true));
    return text_at(json::parse(r.outputs.back()), "response");
  }

  static void expect_filtered(const policy& p,
                              std::initializer_list<std::pair<std::string_view, std::string_view>> in_out) {
    for (auto [in, out] : in_out) EXPECT_EQ(filtered(p, in), out) << in;
  }

  static constexpr std::string_view email_rules = R"({"hold_back": 12, "builtin": {"email": "redact"}})";
};

TEST_F(OutputFilterTest, EmailRedactedWhereverTheStreamSplitsItInTwo) {
  auto p = make(R"({"hold_back": 24, "builtin": {"email": "redact"}})");
  const std::string text = "write to bob.smith@example.org today, or call";
  for (std::size_t i = 0; i <= text.size(); ++i) {
    auto r = generate(*p, {text.substr(0, i), text.substr(i)});
    EXPECT_EQ(ndjson_text(r.outputs, "response"), "write to [redacted] today, or call") << "split at " << i;
    EXPECT_NE(r.ctx.decisions.find("output_filter:redact:email"), std::string::npos);
  }
}

TEST_F(OutputFilterTest, EmailRedactedForEveryWayOfCuttingTheStreamIntoFiveTokens) {
  auto p = make(email_rules);
  const std::string text = "mail a@b.io or x";
  const std::size_t n = text.size();
  int runs = 0;
  for (std::size_t a = 0; a <= n; ++a)
    for (std::size_t b = a; b <= n; ++b)
      for (std::size_t c = b; c <= n; ++c)
        for (std::size_t d = c; d <= n; ++d) {
          auto r = generate(*p, {text.substr(0, a), text.substr(a, b - a), text.substr(b, c - b), text.substr(c, d - c),
                                 text.substr(d)});
          ASSERT_EQ(ndjson_text(r.outputs, "response"), "mail [redacted] or x") << a << ' ' << b << ' ' << c << ' ' << d;
          ++runs;
        }
  EXPECT_EQ(runs, 4845);  // (n+4 choose 4): four cuts, tokens may be empty
}

TEST_F(OutputFilterTest, WithheldTextNeverExceedsHoldBackAndNeverSplitsACharacter) {
  const std::string text = "Größe ändert sich — ✓ naïve café, 日本語のテキスト and plain ASCII words to finish.";
  for (int hold_back : {1, 3, 8, 40}) {
    auto p = make(R"({"hold_back": )" + std::to_string(hold_back) + R"(, "builtin": {"email": "redact", "card": "redact"}})");
    for (std::size_t token : {1u, 2u, 5u, 11u}) {
      response r(*p);
      std::string in, out;
      std::size_t at = 0;
      while (at < text.size()) {
        std::size_t len = std::min(token, text.size() - at);
        while (at + len < text.size() && (static_cast<unsigned char>(text[at + len]) & 0xC0) == 0x80) ++len;
        in += text.substr(at, len);
        at += len;
        ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, generate_line(in.substr(in.size() - len))));
        out += ndjson_text({r.outputs.back()}, "response");  // parsing checks the UTF-8
        ASSERT_EQ(in.substr(0, out.size()), out);
        ASSERT_LE(in.size() - out.size(), static_cast<std::size_t>(hold_back)) << "hold_back " << hold_back;
      }
      r.feed(chunk_kind::ndjson_line, generate_line("", true));
      EXPECT_EQ(ndjson_text(r.outputs, "response"), text);
    }
  }
}

TEST_F(OutputFilterTest, FinalRecordKeepsItsOtherFields) {
  auto p = make(email_rules);
  auto r = generate(*p, {"hi a@b.io"});
  auto last = json::parse(r.outputs.back()).as_object();
  EXPECT_EQ(last.at("response"), "hi [redacted]");
  EXPECT_EQ(last.at("done"), true);
  EXPECT_EQ(last.at("done_reason"), "stop");
  EXPECT_EQ(last.at("eval_count"), 12);
  EXPECT_EQ(last.at("created_at"), "2025-01-01T00:00:00.5Z");
}

TEST_F(OutputFilterTest, RecordsWithoutTextGoOutAsTheOriginalBytes) {
  auto p = make(email_rules);
  response r(*p);
  const std::string progress = R"({"status":"pulling manifest","completed":1.5e3})" "\n";
  ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, progress));
  EXPECT_EQ(r.last_action, chunk_result::action::forward);
  ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, generate_line("")));
  EXPECT_EQ(r.last_action, chunk_result::action::forward);
}

TEST_F(OutputFilterTest, ChatMessageContentRedactedAndFlushedIntoTheFinalRecord) {
  auto p = make(email_rules);
  response r(*p);
  for (auto piece : {"Reach ", "me at jo", "e@mail.", "example.com", " ok"})
    ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, chat_line(piece)));
  ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, R"({"model":"llama3.2","done":true,"done_reason":"stop"})"));
  EXPECT_EQ(ndjson_text({r.outputs.begin(), r.outputs.end() - 1}, "message.content") +
                text_at(json::parse(r.outputs.back()), "message.content"),
            "Reach me at [redacted] ok");
  // The final record had no message: it gets one, and no line end it did not have.
  EXPECT_FALSE(r.outputs.back().ends_with('\n'));
  EXPECT_EQ(text_at(json::parse(r.outputs.back()), "message.role"), "assistant");
}

TEST_F(OutputFilterTest, ThinkingIsAStreamOfItsOwn) {
  auto p = make(email_rules);
  response r(*p);
  // Interleaved, the two fields would read "bob@exa" "plain" "mple.com": no address across them.
  ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, chat_line("think bob@exa", false, "thinking")));
  ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, chat_line("plain@")));
  ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, chat_line("mple.com", false, "thinking")));
  ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, chat_line(" text", true)));
  EXPECT_EQ(ndjson_text(r.outputs, "message.thinking"), "think [redacted]");
  EXPECT_EQ(ndjson_text(r.outputs, "message.content"), "plain@ text");

  response g(*p);
  ASSERT_TRUE(g.feed(chunk_kind::ndjson_line, R"({"response":"","thinking":"a@b.io and ","done":false})" "\n"));
  ASSERT_TRUE(g.feed(chunk_kind::ndjson_line, R"({"response":"c@d.io","thinking":"","done":true})" "\n"));
  EXPECT_EQ(ndjson_text(g.outputs, "thinking"), "[redacted] and ");
  EXPECT_EQ(ndjson_text(g.outputs, "response"), "[redacted]");
}

TEST_F(OutputFilterTest, SseChatCompletionsRedactedAndFlushedAtFinishReason) {
  auto p = make(email_rules);
  response r(*p, "text/event-stream");
  for (auto piece : {"Write ", "to ann@", "corp.io", " now"}) ASSERT_TRUE(r.feed(chunk_kind::sse_event, chat_event(piece)));
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, chat_event("", 0, "stop")));
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, "data: [DONE]\n\n"));
  EXPECT_EQ(r.last_action, chunk_result::action::forward);
  EXPECT_EQ(sse_text(r.outputs, 0, "delta.content"), "Write to [redacted] now");
  auto payloads = sse_payloads(r.outputs);
  EXPECT_EQ(payloads.back(), nullptr);
  EXPECT_EQ(payloads[payloads.size() - 2].at("choices").at(0).at("finish_reason"), "stop");
}

TEST_F(OutputFilterTest, SseDoneReleasesWithheldTextInOneEventBeforeIt) {
  auto p = make(email_rules);
  response r(*p, "text/event-stream");
  for (auto piece : {"Write ", "to ann@", "corp.io"}) ASSERT_TRUE(r.feed(chunk_kind::sse_event, chat_event(piece)));
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, "data: [DONE]\n\n"));
  EXPECT_EQ(sse_text(r.outputs, 0, "delta.content"), "Write to [redacted]");
  ASSERT_TRUE(r.outputs.back().ends_with("\n\ndata: [DONE]\n\n"));
  auto payloads = sse_payloads({r.outputs.back()});
  ASSERT_EQ(payloads.size(), 2u);
  const auto& chunk = payloads[0].as_object();
  EXPECT_EQ(chunk.at("id"), "chatcmpl-7");
  EXPECT_EQ(chunk.at("object"), "chat.completion.chunk");
  EXPECT_EQ(chunk.at("created"), 1700000000);
  EXPECT_EQ(chunk.at("model"), "llama3.2");
  EXPECT_EQ(chunk.at("choices").at(0).at("delta").at("role"), "assistant");
}

TEST_F(OutputFilterTest, CompletionsTextRedacted) {
  auto p = make(email_rules);
  response r(*p, "text/event-stream; charset=utf-8");
  for (auto piece : {"id: x@", "y.org", "!", " more text follows"})
    ASSERT_TRUE(r.feed(chunk_kind::sse_event, completion_event(piece)));
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, "data: [DONE]\n\n"));
  EXPECT_EQ(sse_text(r.outputs, 0, "text"), "id: [redacted]! more text follows");
  EXPECT_EQ(sse_payloads(r.outputs).size(), 6u);  // four chunks, the released tail, [DONE]
}

TEST_F(OutputFilterTest, ChoiceIndexesAreStreamsOfTheirOwn) {
  auto p = make(email_rules);
  response r(*p, "text/event-stream");
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, chat_event("one bob@exa", 0)));
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, chat_event("two sue@", 1)));
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, chat_event("mple.com", 1)));
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, chat_event("m.net", 0)));
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, chat_event(" end", 1, "stop")));
  ASSERT_TRUE(r.feed(chunk_kind::sse_event, chat_event(" end", 0, "stop")));
  EXPECT_EQ(sse_text(r.outputs, 0, "delta.content"), "one [redacted] end");
  EXPECT_EQ(sse_text(r.outputs, 1, "delta.content"), "two [redacted] end");
}

TEST_F(OutputFilterTest, WholeBodiesFilteredWhole) {
  auto p = make(R"({"builtin": {"email": "redact", "ipv4": "redact"}})");
  {
    response r(*p, "application/json; charset=utf-8");
    ASSERT_TRUE(r.feed(chunk_kind::whole_body, R"({"model":"m","response":"mail a@b.io","thinking":"at 10.0.0.1","done":true})"));
    auto v = json::parse(r.outputs.back());
    EXPECT_EQ(v.at("response"), "mail [redacted]");
    EXPECT_EQ(v.at("thinking"), "at [redacted]");
  }
  {
    response r(*p, "application/json");
    ASSERT_TRUE(r.feed(chunk_kind::whole_body, R"({"message":{"role":"assistant","content":"a@b.io","thinking":"x@y.io"},"done":true})"));
    auto v = json::parse(r.outputs.back());
    EXPECT_EQ(v.at("message").at("content"), "[redacted]");
    EXPECT_EQ(v.at("message").at("thinking"), "[redacted]");
  }
  {
    response r(*p, "application/json");
    ASSERT_TRUE(r.feed(chunk_kind::whole_body,
                       R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"to a@b.io"},"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":"fine"}}]})"));
    auto v = json::parse(r.outputs.back());
    EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "to [redacted]");
    EXPECT_EQ(v.at("choices").at(1).at("message").at("content"), "fine");
  }
  {
    response r(*p, "application/json");
    const std::string body = R"({"embeddings":[[0.1,0.2]]})";
    ASSERT_TRUE(r.feed(chunk_kind::whole_body, body));
    EXPECT_EQ(r.last_action, chunk_result::action::forward);
  }
}

TEST_F(OutputFilterTest, CardNumbersRedactedOnlyWhenLuhnValid) {
  auto p = make(R"({"builtin": {"card": "redact"}})");
  expect_filtered(*p, {{"card 4111 1111 1111 1111.", "card [redacted]."},
                       {"card 4111-1111-1111-1111", "card [redacted]"},
                       {"amex 378282246310005 ok", "amex [redacted] ok"},
                       {"order 4111111111111112 ok", "order 4111111111111112 ok"},
                       {"phone 555-123-4567", "phone 555-123-4567"}});
}

TEST_F(OutputFilterTest, EachSecretShapeRedacted) {
  auto p = make(R"({"mask": "<secret>", "builtin": {"secrets": "redact"}})");
  const std::vector<std::string> secrets = {
      "AKIAIOSFODNN7EXAMPLE",
      "ASIA" + std::string(16, 'Q'),
      "ghp_" + std::string(36, 'a'),
      "gho_" + std::string(30, 'b') + "123456",
      "xoxb-123456789012-abcdefABCDEF",
      "AIza" + std::string(30, 'c') + "_-d9e",
      "-----BEGIN RSA PRIVATE KEY-----",
      "-----BEGIN PRIVATE KEY-----",
      "-----BEGIN OPENSSH PRIVATE KEY-----",
      "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
  };
  for (const auto& s : secrets) EXPECT_EQ(filtered(*p, "key: " + s + " end"), "key: <secret> end") << s;
  response prose(*p, "application/json");
  prose.feed(chunk_kind::whole_body, generate_line("Bearer authentication sends a token", true));
  EXPECT_EQ(prose.last_action, chunk_result::action::forward);
}

TEST_F(OutputFilterTest, Ipv4OctetsAbove255AreNoAddress) {
  auto p = make(R"({"builtin": {"ipv4": "redact"}})");
  expect_filtered(*p, {{"host 192.168.1.254 up", "host [redacted] up"},
                       {"host 256.1.2.3 up", "host 256.1.2.3 up"},
                       {"host 1.2.3.256 up", "host 1.2.3.256 up"}});
}

TEST_F(OutputFilterTest, BlockEndsTheStreamBeforeAnyOfTheMatchGoesOut) {
  auto p = make(R"({"hold_back": 32, "builtin": {"secrets": "block", "email": "redact"}})");
  const std::string before = "your key is ";
  const std::string text = before + "AKIAIOSFODNN7EXAMPLE and more";
  for (std::size_t i = 1; i < text.size(); ++i)
    for (std::size_t j = i; j < text.size(); j += 3) {
      auto r = generate(*p, {text.substr(0, i), text.substr(i, j - i), text.substr(j)});
      ASSERT_EQ(r.blocked, "response blocked by output filter rule \"secrets\"");
      auto out = ndjson_text(r.outputs, "response");
      ASSERT_EQ(before.substr(0, out.size()), out) << i << ' ' << j;
      EXPECT_NE(r.ctx.decisions.find("output_filter:block:secrets"), std::string::npos);
      // The stream stays blocked.
      EXPECT_FALSE(r.feed(chunk_kind::ndjson_line, generate_line("x")));
    }
  response whole(*p, "application/json");
  EXPECT_FALSE(whole.feed(chunk_kind::whole_body, generate_line(text, true)));
}

TEST_F(OutputFilterTest, UserRuleHonoursCaseInsensitiveAndItsMask) {
  auto p = make(R"({"rules": [{"name": "codename", "pattern": "project\\s+falcon", "mask": "[codename]",
                    "case_insensitive": true},
                   {"name": "strict", "pattern": "Secret"}]})");
  auto r = generate(*p, {"About PROJECT  Fal", "con: secret, Secret"});
  EXPECT_EQ(ndjson_text(r.outputs, "response"), "About [codename]: secret, [redacted]");
  EXPECT_NE(r.ctx.decisions.find("output_filter:redact:codename"), std::string::npos);
  EXPECT_NE(r.ctx.decisions.find("output_filter:redact:strict"), std::string::npos);
}

TEST_F(OutputFilterTest, MaskTextIsNeverMatchedAgain) {
  auto p = make(R"({"hold_back": 8, "mask": "z@z.io", "builtin": {"email": "redact"}})");
  auto r = generate(*p, {"a@b.io ", "c@d.io", " e@f.io"});
  EXPECT_EQ(ndjson_text(r.outputs, "response"), "z@z.io z@z.io z@z.io");
}

TEST_F(OutputFilterTest, BadOptionsAreConfigErrorsNamingTheOption) {
  EXPECT_EQ(config_error_of(R"({"hold_bak": 3})").rfind("unknown option 'hold_bak'", 0), 0u);
  EXPECT_EQ(config_error_of(R"({"builtin": {"emial": "redact"}})"), "builtin.emial: unknown rule set (email, card, secrets, ipv4)");
  EXPECT_EQ(config_error_of(R"({"builtin": {"email": "drop"}})").rfind("builtin.email: expected one of redact, block, off", 0), 0u);
  EXPECT_EQ(config_error_of(R"({"rules": [{"name": "a", "pattern": "x", "action": "drop"}]})").rfind("rules[0].action: ", 0), 0u);
  EXPECT_EQ(config_error_of(R"({"rules": [{"name": "a", "pattern": "x"}, {"name": "b", "pattern": "(abc"}]})"),
            "rules[1].pattern: missing ): (abc");
  EXPECT_EQ(config_error_of(R"({"rules": [{"name": "a", "pattern": "x*"}]})"), "rules[0].pattern: matches the empty string");
  EXPECT_EQ(config_error_of(R"({"hold_back": 0})").rfind("hold_back: expected an integer from 1 to 4096", 0), 0u);
  EXPECT_EQ(config_error_of(R"({"hold_back": 4097})").rfind("hold_back: ", 0), 0u);
  EXPECT_EQ(config_error_of(R"({"rules": [{"name": "a", "pattern": "x"}, {"name": "a", "pattern": "y"}]})"),
            "rules[1].name: duplicate rule name 'a'");
  EXPECT_EQ(config_error_of(R"({"rules": [{"name": "a b", "pattern": "x"}]})").rfind("rules[0].name: ", 0), 0u);
  EXPECT_EQ(config_error_of(R"({"rules": [{"pattern": "x"}]})"), "rules[0].name: required");
  EXPECT_EQ(config_error_of(R"({"rules": [{"name": "x", "pattern": "x", "extra": 1}]})").rfind("rules[0]: unknown option", 0), 0u);
  EXPECT_EQ(config_error_of(R"({"hold_back": 4096, "mask": "", "builtin": {"card": "off"}})"), "(accepted)");
}

TEST_F(OutputFilterTest, NotAppliedToOtherStatusesOrContentTypes) {
  auto p = make(email_rules);
  for (auto [status, type] : {std::pair<unsigned, std::string_view>{500, "application/x-ndjson"},
                              {200, "text/plain; charset=utf-8"}}) {
    response r(*p, type, status);
    ASSERT_TRUE(r.feed(chunk_kind::ndjson_line, generate_line("mail a@b.io", true)));
    EXPECT_EQ(r.last_action, chunk_result::action::forward);
    EXPECT_TRUE(r.ctx.policy_states.empty() || !r.ctx.policy_states[0]);
  }
}

TEST_F(OutputFilterTest, NoRulesTakesNoHooks) {
  EXPECT_EQ(make(R"({"builtin": {"email": "off"}})")->hooks(), 0u);
  EXPECT_EQ(make(email_rules)->hooks(), static_cast<unsigned>(hook_response_head | hook_response_chunk));
}

}  // namespace
}  // namespace corral
