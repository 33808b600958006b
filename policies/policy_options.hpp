#pragma once
// Reading a policy's options (its config entry, YAML read as JSON) with errors that name the
// option's path, e.g. `keys[1].role: expected "admin" or "user"`. Throws config_error; the chain
// prefixes the entry's file, line and index.
#include <boost/json/object.hpp>

#include <initializer_list>
#include <string>
#include <string_view>

namespace corral::options {

// Rejects a key of `obj` not in `known`, naming it (with `path` as prefix, may be "").
void only_known(const boost::json::object& obj, std::initializer_list<std::string_view> known, std::string_view path = {});

// `path.key` joined.
std::string join(std::string_view path, std::string_view key);

const boost::json::object& as_object(const boost::json::value& v, std::string_view path);
const boost::json::array& as_array(const boost::json::value& v, std::string_view path);
std::string as_string(const boost::json::value& v, std::string_view path);  // non-empty
bool as_bool(const boost::json::value& v, std::string_view path);
long long as_integer(const boost::json::value& v, std::string_view path, long long lo, long long hi);

// One of `choices`, else an error listing them.
std::string as_choice(const boost::json::value& v, std::string_view path, std::initializer_list<std::string_view> choices);

[[noreturn]] void fail(std::string_view path, std::string_view problem);

}  // namespace corral::options
