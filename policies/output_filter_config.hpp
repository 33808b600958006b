#pragma once
// The output filter's options (schema in output_filter.hpp), read and checked in one place.
#include "policies/text_rules.hpp"

#include <boost/json/fwd.hpp>

#include <cstddef>
#include <memory>

namespace corral {

struct output_filter_config {
  std::size_t hold_back = 64;
  std::unique_ptr<const text_rules> rules;  // built-in sets first, then user rules; never null
};

// Throws config_error naming the option's path, e.g. `rules[0].pattern: missing ): (abc`.
output_filter_config read_output_filter_config(const boost::json::object& options);

}  // namespace corral
