#!/usr/bin/env bash
# Install what heapscope needs on Debian 12, only what is missing.
#   scripts/install-deps.sh          build dependencies
#   scripts/install-deps.sh --test   plus what the test suite runs against
#                                    (pprof, gperftools, LeakSanitizer, ...)
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config libunwind-dev libelf-dev libdw-dev
      libcmocka-dev python3 bc zlib1g-dev)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(golang-go google-perftools libgoogle-perftools-dev clang libclang-rt-14-dev
         valgrind git elfutils binutils dpkg-dev xz-utils nodejs chromium strace)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "heapscope: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
