#pragma once
// `corral --fake-backends N`: starts N fake-ollama processes (the binary beside corral) on
// ephemeral loopback ports and returns their URLs, so a newcomer without Ollama sees corral
// work. The children die with corral (PR_SET_PDEATHSIG) and are stopped on exit.
#include <string>
#include <vector>

namespace corral {

// Throws std::runtime_error when a fake cannot start.
std::vector<std::string> start_fake_backends(int count);

}  // namespace corral
