#include "gateway/gateway_state.hpp"

#include "gateway/route_table.hpp"

#include <stdexcept>

namespace corral {

gateway_state::gateway_state(std::shared_ptr<const config> cfg, std::size_t workers, std::string version)
    : cfg_(cfg), decisions_(workers), metrics_(workers, cfg->ollama.backends.size()), version_(std::move(version)) {
  if (cfg->ollama.backends.size() > static_cast<std::size_t>(max_backends))
    throw config_error("ollama: at most " + std::to_string(max_backends) + " backends are supported");
  int i = 0;
  for (const auto& b : cfg->ollama.backends) backends_.push_back(std::make_unique<backend>(b, i++, cfg->upstream));
  catalog_ = std::make_shared<const model_catalog>(std::vector<backend_models>(backends_.size()));
  chain_ = policy_chain::build(cfg->policies, &decisions_, is_route_label);
}

void gateway_state::set_chain(std::shared_ptr<const policy_chain> chain) {
  std::lock_guard lock(snapshot_mu_);
  chain_ = std::move(chain);
  chain_version_.fetch_add(1, std::memory_order_acq_rel);
}

void gateway_state::update_backend_models(std::size_t index, backend_models models) {
  // Writers are rare (polls, fleet changes): build under the lock so no update is lost.
  std::lock_guard lock(snapshot_mu_);
  catalog_ = std::make_shared<const model_catalog>(catalog_->with_backend(index, std::move(models)));
  catalog_version_.fetch_add(1, std::memory_order_acq_rel);
}

backend_mask gateway_state::healthy_mask() const {
  backend_mask m = 0;
  auto now = steady_clock::now();
  for (const auto& b : backends_)
    if (b->healthy(now)) m |= backend_mask{1} << b->index();
  return m;
}

worker::worker(gateway_state& s, int idx)
    : state(s), index(idx), pool(ioc.get_executor(), s.backends().size(), s.cfg()->upstream.max_idle_per_backend) {}

}  // namespace corral
