#pragma once
// What /api/show said about each model, kept per (name, digest): the fleet-wide model list shows
// capabilities and details without asking a backend for every model on every call. A model
// re-pulled under the same name has a new digest, so a stale entry is never served; entries
// whose digest no backend lists any more are dropped on the next prune.
#include <boost/json/object.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace corral {

class model_info_cache {
 public:
  std::shared_ptr<const boost::json::object> find(const std::string& name, const std::string& digest) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name + '@' + digest);
    return it == entries_.end() ? nullptr : it->second;
  }
  void put(const std::string& name, const std::string& digest, boost::json::object show) {
    std::lock_guard lock(mu_);
    entries_[name + '@' + digest] = std::make_shared<const boost::json::object>(std::move(show));
  }
  // Keeps only the entries whose "name@digest" is in `live`.
  void prune(const std::set<std::string>& live) {
    std::lock_guard lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();)
      it = live.count(it->first) ? std::next(it) : entries_.erase(it);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const boost::json::object>> entries_;
};

}  // namespace corral
