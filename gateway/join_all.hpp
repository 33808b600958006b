#pragma once
// Runs several coroutines at once on the current executor and waits for all of them.
//
// Why not asio::experimental::make_parallel_group over a range: in Boost 1.81 the ranged group
// crashed here (cancellation_slot::clear on a freed slot inside a Beast composed read). The
// tasks bind no cancellation slot; each must own what it uses (values, shared_ptrs, long-lived
// objects), because a cancelled caller stops waiting while its tasks run to their own end
// (each bounded by its own timeouts). Not a template: GCC 12 miscompiles coroutine lambdas in
// templates (discarded COMDAT frames).
#include <boost/asio/awaitable.hpp>

#include <vector>

namespace corral {

boost::asio::awaitable<void> join_all(std::vector<boost::asio::awaitable<void>> tasks);

}  // namespace corral
