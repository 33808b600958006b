#include "harness.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <cctype>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral::test {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

process::process(std::string binary, std::vector<std::string> args, std::map<std::string, std::string> env) {
  int out[2], err[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0) throw std::runtime_error("pipe");
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    argv.push_back(binary.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    std::perror("execv");
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  readers_.emplace_back([this, fd = out[0]] { reader(fd); });
  readers_.emplace_back([this, fd = err[0]] { reader(fd); });
}

process::~process() {
  if (running()) {
    kill(SIGKILL);
  }
  wait_exit(5s);
  for (auto& t : readers_) t.join();
}

void process::reader(int fd) {
  std::string partial;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    partial.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n', start)) {
      std::lock_guard lock(mu_);
      lines_.push_back(partial.substr(start, nl - start));
      start = nl + 1;
    }
    partial.erase(0, start);
    cv_.notify_all();
  }
  ::close(fd);
  std::lock_guard lock(mu_);
  if (!partial.empty()) lines_.push_back(partial);
  --open_streams_;
  cv_.notify_all();
}

std::string process::wait_for_line(const std::string& needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  std::size_t seen = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (; seen < lines_.size(); ++seen)
      if (lines_[seen].find(needle) != std::string::npos) return lines_[seen];
    if (open_streams_ == 0) break;
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
  }
  std::string all;
  for (auto& l : lines_) all += l + "\n";
  ADD_FAILURE() << "no line containing '" << needle << "'; output was:\n" << all;
  return {};
}

std::vector<std::string> process::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

bool process::running() const {
  if (exited_) return false;
  int status;
  auto r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    const_cast<process*>(this)->exited_ = true;
    const_cast<process*>(this)->exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void process::kill(int signal) {
  if (!exited_) ::kill(pid_, signal);
}

int process::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    // Child exit has no portable awaitable here; a short poll of waitpid is the event check.
    ::poll(nullptr, 0, 5);
  }
  return exit_status_;
}


fake_ollama::fake_ollama(std::vector<std::string> args, unsigned short want_port) {
  args.insert(args.begin(), {"--port", std::to_string(want_port), "--deterministic"});
  proc = std::make_unique<process>(FAKE_OLLAMA_BIN, args);
  auto line = proc->wait_for_line("listening on ");
  if (line.empty()) throw std::runtime_error("fake-ollama did not start");
  port = static_cast<unsigned short>(std::stoi(line.substr(line.find("listening on ") + 13)));
}

boost::json::value fake_ollama::stats() const { return parse_json(request(port, "GET", "/fake/stats").body); }

void fake_ollama::set_faults(const std::string& json) const {
  auto r = request(port, "POST", "/fake/faults", json);
  if (r.status != 200) throw std::runtime_error("fake faults refused: " + r.body);
}

unsigned short free_port() {
  net::io_context ioc;
  tcp::acceptor acc(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return acc.local_endpoint().port();
}

corral_process::corral_process(const std::vector<std::string>& backend_urls, const std::string& ollama_yaml,
                               const std::string& server_yaml, std::map<std::string, std::string> env,
                               const std::string& top_yaml) {
  port = free_port();
  std::string list;
  for (auto& u : backend_urls) list += "    - " + u + "\n";
  yaml = "server:\n  host: 127.0.0.1\n  port: " + std::to_string(port) + "\n  threads: 2\n" + server_yaml +
         "ollama:\n  health_check_period: 200ms\n  connect_timeout: 1s\n" + ollama_yaml + "  base_url:\n" + list +
         top_yaml;
  char tmpl[] = "/tmp/corral-test-XXXXXX.yaml";
  int fd = ::mkstemps(tmpl, 5);
  ::close(fd);
  config_path = tmpl;
  std::ofstream(config_path) << yaml;
  proc = std::make_unique<process>(CORRAL_BIN, std::vector<std::string>{"--config", config_path}, std::move(env));
  if (proc->wait_for_line("corral is listening").empty()) throw std::runtime_error("corral did not start");
}

std::string response::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string request_text(const std::string& method, const std::string& target, const std::string& body,
                         const std::map<std::string, std::string>& headers) {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    out += k + ": " + v + "\r\n";
    if (lower(k) == "content-type") has_type = true;
  }
  if (!body.empty() || method == "POST" || method == "DELETE") {
    if (!has_type) out += "Content-Type: application/json\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n" + body;
  return out;
}

template <class Fields>
void copy_headers(const Fields& f, response& r) {
  for (const auto& h : f) r.headers[lower(std::string(h.name_string()))] = std::string(h.value());
}

}  // namespace

struct connection::impl {
  net::io_context ioc;
  tcp::socket sock{ioc};
  beast::flat_buffer buffer;
  std::unique_ptr<http::response_parser<http::buffer_body>> stream_parser;
  bool head_request = false;
};

connection::connection(unsigned short port) : impl_(std::make_unique<impl>()) {
  impl_->sock.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  impl_->sock.set_option(tcp::no_delay(true));
}

connection::~connection() = default;

void connection::send_raw(const std::string& bytes) { net::write(impl_->sock, net::buffer(bytes)); }

void connection::send(const std::string& method, const std::string& target, const std::string& body,
                      const std::map<std::string, std::string>& headers) {
  impl_->head_request = method == "HEAD";
  send_raw(request_text(method, target, body, headers));
}

response connection::read_response() {
  http::response_parser<http::string_body> p;
  p.body_limit(1u << 30);
  if (impl_->head_request) p.skip(true);
  http::read(impl_->sock, impl_->buffer, p);
  response r;
  r.status = p.get().result_int();
  copy_headers(p.get(), r);
  r.body = p.get().body();
  return r;
}

response connection::read_head() {
  impl_->stream_parser = std::make_unique<http::response_parser<http::buffer_body>>();
  impl_->stream_parser->body_limit(boost::none);
  http::read_header(impl_->sock, impl_->buffer, *impl_->stream_parser);
  response r;
  r.status = impl_->stream_parser->get().result_int();
  copy_headers(impl_->stream_parser->get(), r);
  return r;
}

std::string connection::read_body_piece() {
  auto& p = *impl_->stream_parser;
  if (p.is_done()) return {};
  char buf[65536];
  // A read may complete only a chunk header: keep reading until body bytes or the end.
  while (!p.is_done()) {
    p.get().body().data = buf;
    p.get().body().size = sizeof buf;
    beast::error_code ec;
    http::read_some(impl_->sock, impl_->buffer, p, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) throw beast::system_error(ec);
    auto got = sizeof buf - p.get().body().size;
    if (got > 0) return std::string(buf, got);
  }
  return {};
}

void connection::set_receive_buffer(int bytes) {
  impl_->sock.set_option(net::socket_base::receive_buffer_size(bytes));
}

void connection::close() {
  beast::error_code ec;
  impl_->sock.shutdown(tcp::socket::shutdown_both, ec);
  impl_->sock.close(ec);
}

bool connection::peer_closed(std::chrono::milliseconds wait) {
  pollfd pfd{impl_->sock.native_handle(), POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(wait.count())) <= 0) return false;
  char c;
  return ::recv(impl_->sock.native_handle(), &c, 1, MSG_PEEK) <= 0;
}

response request(unsigned short port, const std::string& method, const std::string& target, const std::string& body,
                 const std::map<std::string, std::string>& headers) {
  connection c(port);
  c.send(method, target, body, headers);
  return c.read_response();
}

std::vector<std::string> split_lines(const std::string& body) {
  std::vector<std::string> out;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

boost::json::value parse_json(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) {
    ADD_FAILURE() << "not JSON: " << text;
    return nullptr;
  }
  return v;
}

bool eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (probe()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    ::poll(nullptr, 0, 20);
  }
}

}  // namespace corral::test
