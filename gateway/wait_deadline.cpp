#include "gateway/wait_deadline.hpp"

namespace corral {

struct wait_deadline::state {
  state(const boost::asio::any_io_executor& ex, boost::asio::ip::tcp::socket& s, millis l)
      : timer(ex), socket(&s), limit(l) {}
  boost::asio::steady_timer timer;
  boost::asio::ip::tcp::socket* socket;  // null once the owner is gone
  millis limit;
  std::chrono::steady_clock::time_point since{};
  bool waiting = false;
  bool armed = false;
  bool expired = false;
};

wait_deadline::wait_deadline(const boost::asio::any_io_executor& ex, boost::asio::ip::tcp::socket& socket,
                             millis limit)
    : st_(std::make_shared<state>(ex, socket, limit)) {}

wait_deadline::~wait_deadline() {
  st_->socket = nullptr;
  if (st_->armed) st_->timer.cancel();
}

void wait_deadline::begin() noexcept {
  st_->since = std::chrono::steady_clock::now();
  st_->waiting = true;
  st_->expired = false;
  if (!st_->armed) arm(st_, st_->since + st_->limit);
}

void wait_deadline::end() noexcept { st_->waiting = false; }

bool wait_deadline::expired() const noexcept { return st_->expired; }

void wait_deadline::arm(const std::shared_ptr<state>& st, std::chrono::steady_clock::time_point at) {
  st->armed = true;
  st->timer.expires_at(at);
  st->timer.async_wait([st](const boost::system::error_code& ec) {
    st->armed = false;
    if (ec || !st->socket) return;
    if (!st->waiting) return;  // nothing to bound; the next begin() arms again
    auto deadline = st->since + st->limit;
    if (std::chrono::steady_clock::now() >= deadline) {
      st->expired = true;
      boost::system::error_code ignored;
      st->socket->cancel(ignored);
      return;
    }
    arm(st, deadline);
  });
}

}  // namespace corral
