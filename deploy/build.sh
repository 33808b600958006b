#!/usr/bin/env bash
# Installs what corral needs on Debian 12 (idempotent), builds it, and runs it or its tests.
#
#   deploy/build.sh run [corral options]   build, then run build/corral (embedded defaults)
#   deploy/build.sh test                   build, then run every test (ctest)
#   deploy/build.sh asan-test              ASan+UBSan build in build-asan/, then the integration tests
#   deploy/build.sh deps                   only install the Debian packages
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libyaml-cpp-dev libjemalloc-dev libre2-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus nginx haproxy wrk curl gnuplot-nox
)

install_deps() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then return; fi
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  # prometheus' service is not needed (only promtool); don't leave it running.
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
  # haproxy and nginx are only run by bench/compare.sh, from their own temp configs.
  $sudo systemctl disable --now haproxy nginx >/dev/null 2>&1 || true
}

build() {  # build <dir> <cmake options...>
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)"
}

cmd=${1:-run}
shift || true
case "$cmd" in
  deps)
    install_deps ;;
  run)
    install_deps
    build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCORRAL_BUILD_TESTS=OFF -DCORRAL_BUILD_BENCH=OFF
    exec build/corral "$@" ;;
  test)
    install_deps
    build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCORRAL_BUILD_TESTS=ON -DCORRAL_BUILD_BENCH=ON
    ctest --test-dir build --output-on-failure ;;
  asan-test)
    install_deps
    build build-asan -DCMAKE_BUILD_TYPE=Debug -DCORRAL_SANITIZE=ON -DCORRAL_BUILD_BENCH=OFF
    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
      ctest --test-dir build-asan --output-on-failure ;;
  *)
    echo "usage: deploy/build.sh run [corral options] | test | asan-test | deps" >&2
    exit 2 ;;
esac
