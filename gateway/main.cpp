// corral: a drop-in Ollama endpoint in front of many Ollama servers.
#include "gateway/core/config.hpp"
#include "gateway/demo.hpp"
#include "gateway/fake_backends.hpp"
#include "gateway/gateway_state.hpp"
#include "gateway/presets.hpp"
#include "gateway/log.hpp"
#include "gateway/route_table.hpp"
#include "gateway/server.hpp"
#include "policies/key_hash.hpp"
#include "policies/policy_chain.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <string>

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "dev"
#endif

namespace {

constexpr const char* usage = R"(usage: corral [options]
       corral hash-key [KEY | --generate]
       corral demo [--url http://127.0.0.1:9089] [--api-key KEY] [--model NAME]


  --config FILE         read the configuration from FILE (YAML; see config/corral.yaml)
  --check-config FILE   validate FILE (and the environment overrides), print the problem, exit
  --fake-backends N     start N fake-ollama backends on loopback and serve them (no GPU needed)
  --version             print the version
  --help                this text

hash-key prints the SHA-256 hash of an API key, as the auth policy's keys[].hash wants it. The
key is read from standard input when not given (it then stays out of the shell's history);
--generate makes a new random key and prints it with its hash.

demo walks through the management API (/api/v1/...) of a running corral, printing each request
and what came back; corral demo --help tells more.

Without --config, corral runs on its embedded defaults: port 9089, one backend at
http://localhost:11434. Environment variables override the file: PORT, HOST, OLLAMA_BASE_URL,
OLLAMA_TIMEOUT, OLLAMA_MAX_RETRIES, OLLAMA_AUTO_PULL, OLLAMA_MAX_CONCURRENT, OLLAMA_DEFAULT_MODEL,
OLLAMA_EMBEDDING_MODEL, LOG_LEVEL.
)";

int hash_key(int argc, char** argv) {
  std::string key;
  if (argc > 2 && std::string(argv[2]) == "--generate") {
    key = corral::generate_api_key();
    std::cout << "key:  " << key << "\nhash: " << corral::hash_api_key(key) << "\n";
    return 0;
  }
  if (argc > 2) key = argv[2];
  else if (!std::getline(std::cin, key)) key.clear();
  while (!key.empty() && (key.back() == '\r' || key.back() == '\n' || key.back() == ' ')) key.pop_back();
  if (key.empty()) {
    std::cerr << "corral hash-key: no key given (pass it as an argument or on standard input)\n";
    return 2;
  }
  std::cout << corral::hash_api_key(key) << "\n";
  return 0;
}

// The configuration as the process reads it: the file (or the embedded defaults), then the
// environment's overrides, then the fake backends when asked for. Throws config_error.
corral::config read_config(const std::string& path, const std::string& fake_backend_urls) {
  auto cfg = path.empty() ? corral::default_config() : corral::load_config_file(path);
  corral::apply_env_overrides(cfg, corral::read_process_env());
  if (!fake_backend_urls.empty()) cfg.ollama.backends = corral::parse_backend_list(fake_backend_urls, "--fake-backends");
  return cfg;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "hash-key") return hash_key(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "demo") return corral::run_demo(argc, argv);
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
    cfg = read_config(config_path, "");
    corral::policy_chain::build(cfg.policies, nullptr, corral::is_route_label);  // every policy's options checked now
    corral::configured_presets(cfg);                                             // and every preset's fields
  } catch (const corral::config_error& e) {
    std::cerr << "corral: invalid configuration: " << e.what() << "\n";
    return 1;
  }
  if (check_only) {
    std::cout << config_path << ": ok (" << cfg.ollama.backends.size() << " backend"
              << (cfg.ollama.backends.size() == 1 ? "" : "s") << ", " << cfg.policies.size() << " polic"
              << (cfg.policies.size() == 1 ? "y" : "ies") << ")\n";
    return 0;
  }

  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGHUP, SIG_IGN);  // until the server's own handler is in place: never fatal
  corral::set_log_level(cfg.log.level);
  std::string fake_list;
  try {
    if (fake_backends > 0) {
      auto urls = corral::start_fake_backends(fake_backends);
      std::string list;
      for (auto& u : urls) list += (list.empty() ? "" : ",") + u;
      cfg.ollama.backends = corral::parse_backend_list(list, "--fake-backends");
      corral::log(corral::log_level::info, "started fake-ollama backends (no real Ollama involved)", {{"backends", list}});
      fake_list = list;
    }
    std::function<corral::config()> reread;
    if (!config_path.empty()) reread = [config_path, fake_list] { return read_config(config_path, fake_list); };
    corral::run_server(std::make_shared<const corral::config>(std::move(cfg)), CORRAL_VERSION, std::move(reread));
  } catch (const std::exception& e) {
    std::cerr << "corral: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
