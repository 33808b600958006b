#include "gateway/join_all.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>

namespace corral {
namespace net = boost::asio;

namespace {

struct join_state {
  join_state(const net::any_io_executor& ex, std::size_t n)
      : pending(n), done(ex, std::chrono::steady_clock::time_point::max()) {}
  std::size_t pending;
  net::steady_timer done;
};

net::awaitable<void> run_one(std::shared_ptr<join_state> st, net::awaitable<void> task) {
  struct count_down {  // also when the task throws: the caller must not wait forever
    join_state& st;
    ~count_down() {
      if (--st.pending == 0) st.done.cancel();
    }
  } done{*st};
  co_await std::move(task);
}

}  // namespace

net::awaitable<void> join_all(std::vector<net::awaitable<void>> tasks) {
  if (tasks.empty()) co_return;
  auto ex = co_await net::this_coro::executor;
  auto st = std::make_shared<join_state>(ex, tasks.size());
  for (auto& t : tasks) net::co_spawn(ex, run_one(st, std::move(t)), net::detached);
  while (st->pending > 0) co_await st->done.async_wait(net::as_tuple(net::use_awaitable));
}

}  // namespace corral
