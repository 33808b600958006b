#pragma once
// `corral demo`: walks a newcomer through corral's management API (/api/v1/...) against a
// corral that is already running, printing each request and a short account of its answer.
// It is only a client, so what it shows is exactly what any HTTP client would see.

namespace corral {

// argv[1] is "demo". Returns the exit status: 0 when every step succeeded, 1 when a step
// failed or corral could not be reached, 2 for bad arguments.
int run_demo(int argc, char** argv);

}  // namespace corral
