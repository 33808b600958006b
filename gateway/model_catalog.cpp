#include "gateway/model_catalog.hpp"

#include "gateway/core/model_name.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <ctime>
#include <unordered_set>

namespace corral {
namespace json = boost::json;

namespace {

std::string entry_name(const json::value& v) {
  const auto* o = v.if_object();
  if (!o) return {};
  for (const char* key : {"name", "model"}) {
    auto it = o->find(key);
    if (it != o->end() && it->value().is_string())
      return normalize_model_name(it->value().get_string());
  }
  return {};
}

std::string_view string_field(const json::value& v, std::string_view key) {
  const auto* o = v.if_object();
  if (!o) return {};
  auto it = o->find(key);
  if (it == o->end() || !it->value().is_string()) return {};
  return it->value().get_string();
}

// RFC 3339 timestamps compare correctly as text only when they share a zone and precision;
// Ollama hosts may differ in both, so compare parsed instants (seconds, then the fraction).
struct instant {
  std::int64_t seconds = 0;
  double fraction = 0;
  auto operator<=>(const instant&) const = default;
};

instant parse_rfc3339(std::string_view s) {
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  if (s.size() < 19 ||
      std::sscanf(std::string(s.substr(0, 19)).c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6)
    return {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  instant out;
  out.seconds = static_cast<std::int64_t>(timegm(&tm));
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    std::size_t start = i;
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    out.fraction = std::atof(std::string(s.substr(start, i - start)).c_str());
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-') && i + 5 < s.size() + 1) {
    int sign = s[i] == '+' ? 1 : -1;
    int oh = 0, om = 0;
    std::sscanf(std::string(s.substr(i + 1)).c_str(), "%d:%d", &oh, &om);
    out.seconds -= sign * (oh * 3600 + om * 60);
  }
  return out;
}

json::object merge_sorted_by(const std::vector<const json::array*>& lists, std::string_view time_key) {
  std::unordered_set<std::string> seen;
  std::vector<std::pair<instant, const json::value*>> entries;
  for (const auto* list : lists) {
    if (!list) continue;
    for (const auto& v : *list) {
      auto name = entry_name(v);
      if (name.empty() || !seen.insert(name).second) continue;
      entries.emplace_back(parse_rfc3339(string_field(v, time_key)), &v);
    }
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  json::array models;
  models.reserve(entries.size());
  for (const auto& e : entries) models.push_back(*e.second);
  json::object out;
  out["models"] = std::move(models);
  return out;
}

}  // namespace

model_catalog::model_catalog(std::vector<backend_models> per_backend)
    : per_backend_(std::move(per_backend)) {
  for (std::size_t i = 0; i < per_backend_.size() && i < max_backends; ++i) {
    backend_mask bit = backend_mask{1} << i;
    for (const auto& v : per_backend_[i].tags) {
      auto name = entry_name(v);
      if (!name.empty()) index_[name].installed |= bit;
    }
    for (const auto& v : per_backend_[i].running) {
      auto name = entry_name(v);
      if (!name.empty()) index_[name].loaded |= bit;
    }
  }
}

backend_mask model_catalog::installed_on(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? 0 : it->second.installed;
}

backend_mask model_catalog::loaded_on(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? 0 : it->second.loaded;
}

model_catalog model_catalog::with_backend(std::size_t index, backend_models models) const {
  auto copy = per_backend_;
  if (index >= copy.size()) copy.resize(index + 1);
  copy[index] = std::move(models);
  return model_catalog(std::move(copy));
}

json::array models_in(std::string_view body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return {};
  auto* models = v.get_object().if_contains("models");
  if (!models || !models->is_array()) return {};
  return std::move(models->get_array());
}

json::object merge_tags(const std::vector<const json::array*>& lists) {
  return merge_sorted_by(lists, "modified_at");
}

json::object merge_running(const std::vector<const json::array*>& lists) {
  return merge_sorted_by(lists, "expires_at");
}

json::object openai_model(const json::object& tag_entry) {
  json::value as_value(tag_entry);
  std::string id;
  if (auto it = tag_entry.find("name"); it != tag_entry.end() && it->value().is_string())
    id = it->value().get_string();
  else if (auto m = tag_entry.find("model"); m != tag_entry.end() && m->value().is_string())
    id = m->value().get_string();
  std::string owner = "library";
  if (auto slash = id.rfind('/'); slash != std::string::npos) {
    auto ns = id.substr(0, slash);
    auto prev = ns.rfind('/');
    owner = prev == std::string::npos ? ns : ns.substr(prev + 1);
  }
  json::object o;
  o["id"] = id;
  o["object"] = "model";
  o["created"] = parse_rfc3339(string_field(as_value, "modified_at")).seconds;
  o["owned_by"] = owner;
  return o;
}

json::object openai_model_list(const json::object& merged_tags) {
  json::object out;
  out["object"] = "list";
  const auto* models = merged_tags.if_contains("models");
  if (!models || !models->is_array() || models->get_array().empty()) {
    out["data"] = nullptr;
    return out;
  }
  json::array data;
  for (const auto& v : models->get_array())
    if (v.is_object()) data.push_back(openai_model(v.get_object()));
  out["data"] = std::move(data);
  return out;
}

}  // namespace corral
