#pragma once
// The balancer's choice, as a pure function over a snapshot of the candidates: among healthy
// backends that have the model and are under their concurrency cap, prefer one where the model
// is loaded, then the fewest requests in flight, then the highest configured weight; remaining
// ties rotate so equal backends share the load.
#include "gateway/model_catalog.hpp"

#include <cstdint>
#include <span>

namespace corral {

struct balancer_candidate {
  int index = 0;           // backend index
  bool healthy = false;
  bool has_model = false;
  bool loaded = false;
  int in_flight = 0;
  int weight = 1;
};

struct balancer_choice {
  int index = -1;          // -1: none
  // Why none: no backend has the model, none of those is healthy, or all are at their cap.
  enum class none_reason { none, unknown_model, no_healthy_backend, all_busy } reason = none_reason::none;
};

// `excluded`: backends already tried for this request. `max_in_flight` 0 = no cap.
// `rotation`: any counter that changes between calls (ties go to rotation-th of the equals).
balancer_choice choose_backend(std::span<const balancer_candidate> candidates,
                               backend_mask excluded, int max_in_flight, std::uint32_t rotation);

}  // namespace corral
