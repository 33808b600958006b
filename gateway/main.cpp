// corral: a drop-in Ollama endpoint in front of many Ollama servers.
#include "gateway/core/config.hpp"
#include "gateway/fake_backends.hpp"
#include "gateway/log.hpp"
#include "gateway/server.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "dev"
#endif

namespace {

constexpr const char* usage = R"(usage: corral [options]

  --config FILE         read the configuration from FILE (YAML; see config/corral.yaml)
  --check-config FILE   validate FILE (and the environment overrides), print the problem, exit
  --fake-backends N     start N fake-ollama backends on loopback and serve them (no GPU needed)
  --version             print the version
  --help                this text

Without --config, corral runs on its embedded defaults: port 9089, one backend at
http://localhost:11434. Environment variables override the file: PORT, HOST, OLLAMA_BASE_URL,
OLLAMA_TIMEOUT, OLLAMA_MAX_RETRIES, OLLAMA_AUTO_PULL, OLLAMA_MAX_CONCURRENT, LOG_LEVEL.
)";

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  int fake_backends = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "corral: " << name << " needs a value\n" << usage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--version") {
      std::cout << "corral " << CORRAL_VERSION << "\n";
      return 0;
    } else if (arg == "--help" || arg == "-h") {
      std::cout << usage;
      return 0;
    } else if (arg == "--config") {
      config_path = value("--config");
    } else if (arg == "--check-config") {
      config_path = value("--check-config");
      check_only = true;
    } else if (arg == "--fake-backends") {
      auto v = value("--fake-backends");
      try {
        fake_backends = std::stoi(v);
      } catch (...) {
        fake_backends = -1;
      }
      if (fake_backends < 1 || fake_backends > 16) {
        std::cerr << "corral: --fake-backends: expected a number from 1 to 16, got '" << v << "'\n";
        return 2;
      }
    } else {
      std::cerr << "corral: unknown option '" << arg << "'\n" << usage;
      return 2;
    }
  }

  corral::config cfg;
  try {
    cfg = config_path.empty() ? corral::default_config() : corral::load_config_file(config_path);
    corral::apply_env_overrides(cfg, corral::read_process_env());
  } catch (const corral::config_error& e) {
    std::cerr << "corral: invalid configuration: " << e.what() << "\n";
    return 1;
  }
  if (check_only) {
    std::cout << config_path << ": ok (" << cfg.ollama.backends.size() << " backend"
              << (cfg.ollama.backends.size() == 1 ? "" : "s") << ")\n";
    return 0;
  }

  std::signal(SIGPIPE, SIG_IGN);
  corral::set_log_level(cfg.log.level);
  try {
    if (fake_backends > 0) {
      auto urls = corral::start_fake_backends(fake_backends);
      std::string list;
      for (auto& u : urls) list += (list.empty() ? "" : ",") + u;
      cfg.ollama.backends = corral::parse_backend_list(list, "--fake-backends");
      corral::log(corral::log_level::info, "started fake-ollama backends (no real Ollama involved)", {{"backends", list}});
    }
    corral::run_server(std::make_shared<const corral::config>(std::move(cfg)), CORRAL_VERSION);
  } catch (const std::exception& e) {
    std::cerr << "corral: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
