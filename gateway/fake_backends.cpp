#include "gateway/fake_backends.hpp"

#include <array>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace corral {

namespace {

std::filesystem::path fake_binary() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto beside = self.parent_path() / "fake-ollama";
    if (std::filesystem::exists(beside)) return beside;
  }
  return "fake-ollama";  // from PATH
}

}  // namespace

std::vector<std::string> start_fake_backends(int count) {
  static const std::array<const char*, 3> model_sets{
      "llama2:latest,mistral:latest,nomic-embed-text:latest",
      "llama2:latest,codellama:latest,nomic-embed-text:latest",
      "mistral:latest,codellama:latest",
  };
  auto binary = fake_binary();
  std::vector<std::string> urls;
  for (int i = 0; i < count; ++i) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    auto name = "fake-" + std::to_string(i + 1);
    std::string models = model_sets[static_cast<std::size_t>(i) % model_sets.size()];
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      std::string tokens = "24", delay = "30";
      ::execl(binary.c_str(), "fake-ollama", "--port", "0", "--name", name.c_str(), "--models", models.c_str(),
              "--tokens", tokens.c_str(), "--token-delay-ms", delay.c_str(), static_cast<char*>(nullptr));
      std::fprintf(stderr, "cannot run %s: %s\n", binary.c_str(), std::strerror(errno));
      ::_exit(127);
    }
    ::close(fds[1]);
    // The fake prints "listening on <port>" once bound.
    std::string line;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(fds[0]);
    constexpr std::string_view prefix = "listening on ";
    if (!line.starts_with(prefix))
      throw std::runtime_error("fake-ollama (" + binary.string() + ") did not start; is it built?");
    urls.push_back("http://127.0.0.1:" + line.substr(prefix.size()));
  }
  return urls;
}

}  // namespace corral
