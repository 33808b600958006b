#pragma once
// JSON as text for people and programs alike. Boost.JSON 1.81 writes doubles in scientific
// notation (0.7 as 7E-1, 12.5 as 1.25E1): valid, but hard to read in a curl answer. This writer
// prints the shortest decimal that reads back as the same double, keeping a '.0' on integral
// values so they stay doubles (a preset's `temperature: 1.0` must stay 1.0 through GET and PUT).
#include <boost/json/fwd.hpp>

#include <string>
#include <string_view>

namespace corral {

// Compact, or indented two spaces per level as `jq .` prints it.
std::string json_text(const boost::json::value& v, bool pretty = false);
std::string json_text(const boost::json::object& o, bool pretty = false);
// Compact, appended to `out` (a stream's records, one after another).
void append_json_text(std::string& out, const boost::json::object& o);
void append_json_text(std::string& out, const boost::json::value& v);
// One string literal (quoted, escaped), or one number, appended to `out`.
void append_json_string(std::string& out, std::string_view s);
void append_json_number(std::string& out, double d);

}  // namespace corral
