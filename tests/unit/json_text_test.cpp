#include "gateway/core/json_text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <charconv>
#include <string>

namespace corral {
namespace {

namespace json = boost::json;

TEST(json_text_test, doubles_are_plain_decimals_that_stay_doubles) {
  EXPECT_EQ(json_text(json::value(0.7)), "0.7");
  EXPECT_EQ(json_text(json::value(12.5)), "12.5");
  EXPECT_EQ(json_text(json::value(1.0)), "1.0") << "integral doubles keep their '.0'";
  EXPECT_EQ(json_text(json::value(-3)), "-3");
  EXPECT_EQ(json_text(json::value(std::uint64_t{18446744073709551615u})), "18446744073709551615");
  auto back = json::parse(json_text(json::value(1.0)));
  EXPECT_TRUE(back.is_double());
}

TEST(json_text_test, doubles_of_up_to_three_decimals_are_written_as_the_shortest_form_is) {
  // The integer fast path must say exactly what the shortest-form conversion says, and every
  // double must read back unchanged either way.
  auto shortest = [](double d) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    std::string text(buf, end);
    if (text.find_first_of(".e") == std::string::npos) text += ".0";
    return text;
  };
  for (long k = -200'000; k <= 200'000; k += 7) {
    double d = static_cast<double>(k) / 1000;
    if (d == 0) continue;
    ASSERT_EQ(json_text(json::value(d)), shortest(d)) << k;
  }
  for (double d : {0.1 + 0.2, 1e-4, 123456.789, 0.0015, 2.0 / 3, 1e-300, 5e8 + 0.125, 999999999.999, -0.0, 1e9,
                   -1234.5678, 4503599627370497.0}) {
    auto text = json_text(json::value(d));
    EXPECT_EQ(json::parse(text).as_double(), d) << text;
    EXPECT_NE(text.find_first_of(".e"), std::string::npos) << text << " stays a double";
  }
  EXPECT_EQ(json_text(json::value(0.1 + 0.2)), "0.30000000000000004") << "not the nearest three decimals";
  EXPECT_EQ(json_text(json::value(-0.0)), "-0.0");
}

TEST(json_text_test, strings_are_escaped_and_read_back_the_same) {
  std::string nasty = "quote \" backslash \\ newline \n tab \t bell \x07 unicode \xc3\xa9";
  json::object o;
  o[nasty] = nasty;
  auto text = json_text(o);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_NE(text.find("\\u0007"), std::string::npos) << text;
  auto back = json::parse(text);
  EXPECT_EQ(back.at(nasty).as_string(), nasty);
}

TEST(json_text_test, every_byte_at_every_offset_of_a_long_string_reads_back) {
  // The writer skips 8 bytes at a time when none needs escaping: a special byte must be caught
  // wherever it falls in a word.
  for (int c = 0; c < 128; ++c) {
    for (std::size_t at = 0; at < 20; ++at) {
      std::string text(20, 'a');
      text[at] = static_cast<char>(c);
      auto back = json::parse(json_text(json::value(text)));
      ASSERT_EQ(back.as_string(), text) << "byte " << c << " at " << at;
    }
  }
  std::string utf8 = "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 \xf0\x9f\xa6\x99 long enough to span words";
  EXPECT_EQ(json_text(json::value(utf8)), "\"" + utf8 + "\"") << "UTF-8 passes through unescaped";
}

TEST(json_text_test, compact_and_pretty_hold_the_same_document) {
  auto doc = json::parse(R"({"a":[1,2.5,{"b":null,"c":true}],"d":{},"e":[],"f":"x"})");
  auto compact = json_text(doc);
  EXPECT_EQ(compact, R"({"a":[1,2.5,{"b":null,"c":true}],"d":{},"e":[],"f":"x"})");
  auto pretty = json_text(doc, true);
  EXPECT_NE(pretty.find("\n  \"a\": ["), std::string::npos) << pretty;
  EXPECT_EQ(json::parse(pretty), doc);
  std::string appended = "x";
  append_json_text(appended, doc.as_object());
  EXPECT_EQ(appended, "x" + compact);
  EXPECT_EQ(json_text(doc.as_object(), true), pretty);
}

}  // namespace
}  // namespace corral
