// json_cursor (gateway/core/json_scan.hpp): members and elements with their text, and the
// checking that makes that text safe to copy into an answer.
#include "gateway/core/json_scan.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

namespace corral {
namespace {

std::vector<std::pair<std::string, std::string>> members(std::string_view text, bool* ok = nullptr) {
  std::vector<std::pair<std::string, std::string>> out;
  json_cursor c(text);
  std::string_view k, v;
  while (c.next_member(k, v)) out.emplace_back(k, v);
  if (ok) *ok = c.ok();
  return out;
}

bool well_formed(std::string_view text) {
  bool ok = false;
  members(text, &ok);
  return ok;
}

TEST(json_cursor, hands_out_each_member_with_its_values_own_text) {
  bool ok = false;
  auto m = members(R"( { "a" : 1 , "b":"x\"y" ,"c":[1, {"d": null}], "e":{"f":true} ,"g":-0.5e+3 } )", &ok);
  ASSERT_TRUE(ok);
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0], (std::pair<std::string, std::string>{"a", "1"}));
  EXPECT_EQ(m[1], (std::pair<std::string, std::string>{"b", R"("x\"y")"}));
  EXPECT_EQ(m[2], (std::pair<std::string, std::string>{"c", R"([1, {"d": null}])"}));
  EXPECT_EQ(m[3], (std::pair<std::string, std::string>{"e", R"({"f":true})"}));
  EXPECT_EQ(m[4], (std::pair<std::string, std::string>{"g", "-0.5e+3"}));
}

TEST(json_cursor, an_empty_object_has_no_members_and_is_well_formed) {
  bool ok = false;
  EXPECT_TRUE(members("{}", &ok).empty());
  EXPECT_TRUE(ok);
  EXPECT_TRUE(members(" {\n} \r\n", &ok).empty());
  EXPECT_TRUE(ok);
}

TEST(json_cursor, keys_are_given_as_written) {
  auto m = members(R"({"a\u0062":1,"\"q\"":2})");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].first, R"(a\u0062)") << "escapes are not decoded";
  EXPECT_EQ(m[1].first, R"(\"q\")");
}

TEST(json_cursor, walks_an_arrays_elements) {
  json_cursor c(R"([1, "two", [3], {"four": 4}, null])");
  std::vector<std::string> got;
  std::string_view v;
  while (c.next_element(v)) got.emplace_back(v);
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(got, (std::vector<std::string>{"1", R"("two")", "[3]", R"({"four": 4})", "null"}));
  EXPECT_EQ(json_array_size("[[1,2],[3]]"), 2u);
  EXPECT_EQ(json_array_size("[]"), 0u);
  EXPECT_EQ(json_array_size(R"("not an array")"), 0u);
}

TEST(json_cursor, an_object_read_as_an_array_or_the_reverse_is_malformed) {
  json_cursor a("[1]");
  std::string_view k, v;
  EXPECT_FALSE(a.next_member(k, v));
  EXPECT_FALSE(a.ok());
  json_cursor o(R"({"a":1})");
  EXPECT_FALSE(o.next_element(v));
  EXPECT_FALSE(o.ok());
}

TEST(json_cursor, refuses_malformed_text_of_every_kind) {
  for (std::string_view bad : {
           "", "   ", "1", R"("a")", "{", "}", R"({"a")", R"({"a":})", R"({"a":1,})", R"({"a" 1})", R"({a:1})",
           R"({"a":1}x)", R"({"a":1}{})", R"({"a":01})", R"({"a":1.})", R"({"a":.5})", R"({"a":1e})", R"({"a":+1})",
           R"({"a":-})", R"({"a":tru})", R"({"a":nul})", R"({"a":True})", R"({"a":[1,]})", R"({"a":[1 2]})",
           R"({"a":{"b"}})", R"({"a":"\x"})", R"({"a":"\u12g4"})", R"({"a":"\u123"})", "{\"a\":\"tab\there\"}",
           "{\"a\":\"nl\nhere\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\xaf\"}",
           "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xe2\x82\"}", R"({"a":"open})",
           R"({"a":"\uD800"})", R"({"a":"\udc00"})", R"({"a":"\uD800\u0041"})", R"({"a":"\uD800x"})",
           R"({"a":"\uDBFF\uDBFF"})"}) {
    EXPECT_FALSE(well_formed(bad)) << bad;
  }
}

TEST(json_cursor, accepts_what_rfc_8259_allows) {
  for (std::string_view good : {
           R"({"a":0})", R"({"a":-0})", R"({"a":1.25E-7})", R"({"a":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"})",
           "{\"a\":\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf\"}", R"({"a":[]})", R"({"a":{}})",
           R"({"a":[[[[[]]]]]})", R"({"":""})", R"({"a":1,"a":2})"}) {
    EXPECT_TRUE(well_formed(good)) << good;
  }
}

TEST(json_cursor, nesting_is_bounded) {
  std::string deep = R"({"a":)" + std::string(300, '[') + std::string(300, ']') + "}";
  EXPECT_FALSE(well_formed(deep));
  std::string fine = R"({"a":)" + std::string(200, '[') + std::string(200, ']') + "}";
  EXPECT_TRUE(well_formed(fine));
}

TEST(json_cursor, long_strings_are_checked_past_the_word_at_a_time_path) {
  std::string text = R"({"a":")" + std::string(64, 'x') + "\x01" + std::string(64, 'y') + "\"}";
  EXPECT_FALSE(well_formed(text)) << "a control byte after 64 plain ones";
  text = R"({"a":")" + std::string(61, 'x') + "\xe2\x82\xac" + std::string(13, 'y') + "\"}";
  auto m = members(text);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].second.size(), 61u + 3u + 13u + 2u);
}

// Random damage to well-formed answers: the cursor must judge each text as Boost.JSON's parser
// does, \u escapes and their surrogate pairs included.
TEST(json_cursor, judges_damaged_text_as_a_full_parser_does) {
  const std::vector<std::string> seeds = {
      R"({"model":"llama2","created_at":"2026-01-01T00:00:00Z","response":" The","done":false})",
      R"({"model":"m","message":{"role":"assistant","content":"Hi \"you\"\n","tool_calls":[{"function":{"name":"f","arguments":{"x":[1,2.5,-3e2]}}}]},"done":true,"eval_count":10,"total_duration":12345})",
      R"({"embeddings":[[0.1,-0.2,3e-4],[1,2,3]],"prompt_eval_count":4,"ok":null,"t":true})",
      "{\"text\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"n\":[ ],\"o\":{ }}",
      R"({"e":"\u00e9\uD83D\uDE00\ud83d\ude00 \\u \"","f":"\udbff\udfff"})"};
  static constexpr char bytes[] = "{}[]\":,\\ 0123456789-+.eEtrunlfasuUdDcCbB\n\t\x01\x7f\x80\xbf\xc3\xe2\xf0\xff";
  const std::string alphabet(bytes, sizeof bytes - 1);
  std::mt19937 rng(20261125);
  boost::json::parse_options opts;
  opts.max_depth = 256;
  int checked = 0;
  for (const auto& seed : seeds) {
    for (int round = 0; round < 4000; ++round) {
      std::string text = seed;
      int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        auto at = rng() % text.size();
        switch (rng() % 3) {
          case 0: text[at] = alphabet[rng() % alphabet.size()]; break;
          case 1: text.erase(at, 1); break;
          default: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
        }
        if (text.empty()) text = "{";
      }
      boost::system::error_code ec;
      auto v = boost::json::parse(text, ec, {}, opts);
      bool boost_ok = !ec && v.is_object();
      ASSERT_EQ(well_formed(text), boost_ok) << text;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 20000);
}

TEST(json_values, numbers_and_counts) {
  EXPECT_EQ(json_number("12.5"), 12.5);
  EXPECT_EQ(json_number("-3e2"), -300.0);
  EXPECT_FALSE(json_number(R"("12")"));
  EXPECT_FALSE(json_number("null"));
  EXPECT_EQ(json_count("42"), 42u);
  EXPECT_EQ(json_count("18446744073709551615"), 18446744073709551615ull);
  EXPECT_EQ(json_count("12.0"), 12u) << "a count written as a double";
  EXPECT_FALSE(json_count("12.5"));
  EXPECT_FALSE(json_count("-1"));
  EXPECT_FALSE(json_count("true"));
  EXPECT_TRUE(json_is_string(R"("x")"));
  EXPECT_TRUE(json_is_object("{}"));
  EXPECT_TRUE(json_is_array("[]"));
  EXPECT_FALSE(json_is_string(""));
}

}  // namespace
}  // namespace corral
