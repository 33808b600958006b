#include "gateway/gateway_state.hpp"

#include "gateway/model_info_cache.hpp"
#include "gateway/preset_store.hpp"
#include "gateway/presets.hpp"
#include "gateway/route_table.hpp"
#include "gateway/usage_stats.hpp"

#include <cstdlib>
#include <stdexcept>

namespace corral {

namespace {

// Where API-made changes (custom presets) are kept when management.state_dir is not set:
// systemd's StateDirectory, else the XDG state directory, else ./corral-state.
std::filesystem::path default_state_dir() {
  if (const char* d = std::getenv("STATE_DIRECTORY"); d && *d) return d;
  if (const char* d = std::getenv("XDG_STATE_HOME"); d && *d) return std::filesystem::path(d) / "corral";
  if (const char* d = std::getenv("HOME"); d && *d) return std::filesystem::path(d) / ".local/state/corral";
  return "corral-state";
}

}  // namespace

std::filesystem::path state_dir_of(const config& cfg) {
  return cfg.management.state_dir.empty() ? default_state_dir() : std::filesystem::path(cfg.management.state_dir);
}

std::vector<preset> configured_presets(const config& cfg) {
  std::vector<preset> out;
  for (const auto& spec : cfg.presets) {
    auto parsed = parse_preset(boost::json::value(*spec.fields), "");
    if (!parsed.error.empty()) throw config_error(spec.where + ": " + parsed.error);
    parsed.value.read_only = true;
    out.push_back(std::move(parsed.value));
  }
  return out;
}

gateway_state::gateway_state(std::shared_ptr<const config> cfg, std::size_t workers, std::string version)
    : cfg_(cfg),
      decisions_(workers),
      metrics_(workers, cfg->ollama.backends.size()),
      usage_(std::make_unique<usage_stats>(workers)),
      model_info_(std::make_unique<model_info_cache>()),
      version_(std::move(version)) {
  if (cfg->ollama.backends.size() > static_cast<std::size_t>(max_backends))
    throw config_error("ollama: at most " + std::to_string(max_backends) + " backends are supported");
  int i = 0;
  for (const auto& b : cfg->ollama.backends) backends_.push_back(std::make_unique<backend>(b, i++, cfg->upstream));
  catalog_ = std::make_shared<const model_catalog>(std::vector<backend_models>(backends_.size()));
  chain_ = policy_chain::build(cfg->policies, &decisions_, is_route_label);
  try {
    presets_ = std::make_unique<preset_registry>(std::make_unique<file_preset_store>(state_dir_of(*cfg)),
                                                 configured_presets(*cfg));
  } catch (const config_error&) {
    throw;
  } catch (const std::exception& e) {
    throw config_error(std::string("presets: ") + e.what());
  }
}

gateway_state::~gateway_state() = default;

void gateway_state::set_config(std::shared_ptr<const config> cfg, std::shared_ptr<const policy_chain> chain) {
  std::lock_guard lock(snapshot_mu_);
  cfg_ = std::move(cfg);
  chain_ = std::move(chain);
  cfg_version_.fetch_add(1, std::memory_order_acq_rel);
  chain_version_.fetch_add(1, std::memory_order_acq_rel);
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
