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

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace corral {

class gateway_state {
 public:
  gateway_state(std::shared_ptr<const config> cfg, std::size_t workers, std::string version);

  std::shared_ptr<const config> cfg() const {
    std::lock_guard lock(snapshot_mu_);
    return cfg_;
  }

  const std::vector<std::unique_ptr<backend>>& backends() const noexcept { return backends_; }

  std::shared_ptr<const model_catalog> catalog() const {
    std::lock_guard lock(snapshot_mu_);
    return catalog_;
  }
  // Replaces one backend's models in the catalog (copy-on-write, safe from any thread).
  void update_backend_models(std::size_t index, backend_models models);

  metrics_registry& metrics() noexcept { return metrics_; }
  const std::string& version() const noexcept { return version_; }
  steady_clock::time_point started() const noexcept { return started_; }

  // Backends healthy now, as a mask.
  backend_mask healthy_mask() const;

 private:
  // Guards only the two pointers: a reader copies one (an atomic increment) and lets go.
  // (libstdc++ 12's std::atomic<std::shared_ptr> takes a lock internally too.)
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const config> cfg_;
  std::vector<std::unique_ptr<backend>> backends_;
  std::shared_ptr<const model_catalog> catalog_;
  metrics_registry metrics_;
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
};

}  // namespace corral
