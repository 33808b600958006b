#pragma once
// What every worker thread shares: the config snapshot, the backends, the model catalog and the
// metrics registry; and what each worker owns (its io_context and upstream pool).
//
// Thread-safety: config and catalog are immutable snapshots; readers take a shared_ptr copy,
// writers build a new snapshot and swap it in. Backends synchronise themselves (backend.hpp). A worker
// is only touched by coroutines running on its own io_context.
#include "gateway/backend.hpp"
#include "gateway/core/config.hpp"
#include "gateway/metrics.hpp"
#include "gateway/model_catalog.hpp"
#include "gateway/upstream_pool.hpp"
#include "policies/policy_chain.hpp"
#include "policies/policy_counters.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace corral {

class preset_registry;
class usage_stats;
class model_info_cache;
struct preset;

// management.state_dir, or the default location when it is not set.
std::filesystem::path state_dir_of(const config& cfg);
// The presets of the config file's `presets:` list (read-only). Throws config_error naming the entry.
std::vector<preset> configured_presets(const config& cfg);

class gateway_state {
 public:
  gateway_state(std::shared_ptr<const config> cfg, std::size_t workers, std::string version);
  ~gateway_state();

  // The running configuration: an immutable snapshot, replaced whole by a reload or PUT
  // /api/v1/config (config_reload.hpp). Workers keep a copy (worker::cfg()).
  std::shared_ptr<const config> cfg() const {
    std::lock_guard lock(snapshot_mu_);
    return cfg_;
  }
  std::uint64_t cfg_version() const noexcept { return cfg_version_.load(std::memory_order_acquire); }
  // Swaps in a new configuration and its chain together. Only config_reload.cpp calls it.
  void set_config(std::shared_ptr<const config> cfg, std::shared_ptr<const policy_chain> chain);

  const std::vector<std::unique_ptr<backend>>& backends() const noexcept { return backends_; }

  std::shared_ptr<const model_catalog> catalog() const {
    std::lock_guard lock(snapshot_mu_);
    return catalog_;
  }
  // Bumped on every catalog change, so workers can keep a copy and skip the lock.
  std::uint64_t catalog_version() const noexcept { return catalog_version_.load(std::memory_order_acquire); }
  // Replaces one backend's models in the catalog (copy-on-write, safe from any thread).
  void update_backend_models(std::size_t index, backend_models models);

  // The policy chain: built from cfg()->policies at start, replaced on reload.
  std::shared_ptr<const policy_chain> chain() const {
    std::lock_guard lock(snapshot_mu_);
    return chain_;
  }
  std::uint64_t chain_version() const noexcept { return chain_version_.load(std::memory_order_acquire); }
  void set_chain(std::shared_ptr<const policy_chain> chain);
  policy_counters& decisions() noexcept { return decisions_; }

  metrics_registry& metrics() noexcept { return metrics_; }
  usage_stats& usage() noexcept { return *usage_; }
  preset_registry& presets() noexcept { return *presets_; }
  model_info_cache& model_info() noexcept { return *model_info_; }
  // One thread for work that blocks (the preset store's write and fsync), so that it never
  // stalls a worker's event loop.
  boost::asio::thread_pool& blocking() noexcept { return blocking_; }
  const std::string& version() const noexcept { return version_; }
  steady_clock::time_point started() const noexcept { return started_; }

  // Backends healthy now, as a mask.
  backend_mask healthy_mask() const;

  // Set when the process is stopping: sessions finish their current request and close.
  std::atomic<bool> stopping{false};

 private:
  // Guards the snapshot pointers: a reader copies one (an atomic increment) and lets go.
  // (libstdc++ 12's std::atomic<std::shared_ptr> takes a lock internally too.)
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const config> cfg_;
  std::atomic<std::uint64_t> cfg_version_{1};
  std::vector<std::unique_ptr<backend>> backends_;
  std::shared_ptr<const model_catalog> catalog_;
  std::atomic<std::uint64_t> catalog_version_{1};
  policy_counters decisions_;
  std::shared_ptr<const policy_chain> chain_;
  std::atomic<std::uint64_t> chain_version_{1};
  metrics_registry metrics_;
  std::unique_ptr<usage_stats> usage_;
  std::unique_ptr<preset_registry> presets_;
  std::unique_ptr<model_info_cache> model_info_;
  boost::asio::thread_pool blocking_{1};
  std::string version_;
  steady_clock::time_point started_ = steady_clock::now();
};

// One worker thread's own parts.
struct worker {
  worker(gateway_state& s, int idx);
  gateway_state& state;
  int index;
  boost::asio::io_context ioc{1};
  upstream_pool pool;
  std::uint32_t rotation = 0;  // balancer tie-breaking
  steady_clock::time_point last_catalog_refresh{};  // unknown-model refreshes, at most 1/s

  // The catalog, configuration and policy chain as this worker last saw them; each is fetched
  // again (under the state's lock) only when the state's copy has changed since.
  std::shared_ptr<const model_catalog> catalog() {
    return catalog_.get(state.catalog_version(), [this] { return state.catalog(); });
  }
  const std::shared_ptr<const config>& cfg() {
    return cfg_.get(state.cfg_version(), [this] { return state.cfg(); });
  }
  const std::shared_ptr<const policy_chain>& chain() {
    return chain_.get(state.chain_version(), [this] { return state.chain(); });
  }

 private:
  // One shared snapshot and the version of it held.
  template <class T>
  class cached {
   public:
    template <class Fetch>
    const std::shared_ptr<const T>& get(std::uint64_t version, Fetch&& fetch) {
      if (version != version_) {
        value_ = fetch();
        version_ = version;
      }
      return value_;
    }

   private:
    std::shared_ptr<const T> value_;
    std::uint64_t version_ = 0;
  };
  cached<model_catalog> catalog_;
  cached<config> cfg_;
  cached<policy_chain> chain_;
};

}  // namespace corral
