#pragma once
// Integration-test harness: real processes (corral, fake-ollama) and a small blocking HTTP
// client. Processes are waited on through their output (a "listening" line), never by sleeping.
#include <boost/json/value.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace corral::test {

using namespace std::chrono_literals;

// A child process whose stdout and stderr lines are collected by a reader thread.
class process {
 public:
  process(std::string binary, std::vector<std::string> args, std::map<std::string, std::string> env = {});
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  // Waits until a line containing `needle` appears (stdout or stderr); returns the line.
  // Fails the test (and returns "") on timeout or exit.
  std::string wait_for_line(const std::string& needle, std::chrono::milliseconds timeout = 20s);
  // Every line seen so far.
  std::vector<std::string> lines() const;
  bool running() const;
  void kill(int signal);
  int wait_exit(std::chrono::milliseconds timeout = 20s);  // exit status, or -1
  int pid() const { return pid_; }

 private:
  void reader(int fd);
  int pid_ = -1;
  std::vector<std::thread> readers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  int open_streams_ = 2;
  int exit_status_ = -1;
  bool exited_ = false;
};

// A fake-ollama on an ephemeral port.
struct fake_ollama {
  explicit fake_ollama(std::vector<std::string> args, unsigned short port = 0);
  std::unique_ptr<process> proc;
  unsigned short port = 0;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  boost::json::value stats() const;
  void set_faults(const std::string& json) const;
};

// A corral on a free port, over the given backends. `ollama_yaml` and `server_yaml` are extra
// lines (indented two spaces) for the ollama: and server: sections of its config; `top_yaml`
// is appended at the top level (e.g. a `policies:` list).
struct corral_process {
  corral_process(const std::vector<std::string>& backend_urls, const std::string& ollama_yaml = {},
                 const std::string& server_yaml = {}, std::map<std::string, std::string> env = {},
                 const std::string& top_yaml = {});
  // The config file as written, for tests that rewrite it and send SIGHUP.
  std::string yaml;
  std::unique_ptr<process> proc;
  unsigned short port = 0;
  std::string config_path;
};

struct response {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const;
};

// One request on a new connection. Throws on connection failure.
response request(unsigned short port, const std::string& method, const std::string& target,
                 const std::string& body = {}, const std::map<std::string, std::string>& headers = {});

// A persistent connection for keep-alive and streaming tests.
class connection {
 public:
  explicit connection(unsigned short port);
  ~connection();
  void send_raw(const std::string& bytes);
  void send(const std::string& method, const std::string& target, const std::string& body = {},
            const std::map<std::string, std::string>& headers = {});
  // Reads a whole response.
  response read_response();
  // Streaming: reads the head, then body pieces as they come (chunked decoding done).
  response read_head();
  // Next piece of body; "" at the end of the body. Throws on error.
  std::string read_body_piece();
  void close();
  void set_receive_buffer(int bytes);
  bool peer_closed(std::chrono::milliseconds wait);  // true when the server closed the connection
 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

unsigned short free_port();
std::vector<std::string> split_lines(const std::string& body);
boost::json::value parse_json(const std::string& text);

// Repeats `probe` until it returns true or `timeout` passes (for conditions another process
// makes true, such as a health check noticing a dead backend). Returns the last result.
bool eventually(const std::function<bool()>& probe, std::chrono::milliseconds timeout = 10s);

}  // namespace corral::test
