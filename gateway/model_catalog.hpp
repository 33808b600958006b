#pragma once
// The fleet's model catalog: which backend has which model installed (/api/tags) and loaded
// (/api/ps). Immutable once built; the monitor builds a new one and swaps it in atomically, so
// readers on any thread take a consistent snapshot without locks on their own data.
//
// Also the pure merge functions that answer the fleet routes (/api/tags, /api/ps, /v1/models)
// from per-backend answers.
#include "gateway/core/string_hash.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corral {

// Bit i = backend index i (a fleet has at most 64 backends).
using backend_mask = std::uint64_t;
inline constexpr int max_backends = 64;

struct backend_models {
  bool known = false;          // a poll succeeded at least once
  boost::json::array tags;     // /api/tags "models" entries, as the backend sent them
  boost::json::array running;  // /api/ps "models" entries
};

class model_catalog {
 public:
  model_catalog() = default;
  explicit model_catalog(std::vector<backend_models> per_backend);

  // Backends that have `normalized_name` installed / loaded.
  backend_mask installed_on(std::string_view normalized_name) const;
  backend_mask loaded_on(std::string_view normalized_name) const;

  const std::vector<backend_models>& per_backend() const noexcept { return per_backend_; }

  // A copy with one backend's entry replaced (for refreshes after pull/delete/copy).
  model_catalog with_backend(std::size_t index, backend_models models) const;

 private:
  struct presence {
    backend_mask installed = 0;
    backend_mask loaded = 0;
  };
  std::vector<backend_models> per_backend_;
  string_map<presence> index_;
};

// The "models" array of an /api/tags or /api/ps answer body (empty when the body has none).
boost::json::array models_in(std::string_view body);

// {"models":[...]} from several /api/tags answers: one entry per model name (case-insensitive),
// newest `modified_at` first, as Ollama orders them.
boost::json::object merge_tags(const std::vector<const boost::json::array*>& lists);

// {"models":[...]} from several /api/ps answers: one entry per model name, the longest remaining
// `expires_at` first.
boost::json::object merge_running(const std::vector<const boost::json::array*>& lists);

// OpenAI's {"object":"list","data":[...]} from /api/tags entries (data is null when empty, as
// Ollama answers).
boost::json::object openai_model_list(const boost::json::object& merged_tags);

// One OpenAI model object from a /api/tags entry.
boost::json::object openai_model(const boost::json::object& tag_entry);

}  // namespace corral
