#!/usr/bin/env bash
# Installs what bluecl needs to build and test, from Debian's packages (idempotent: installs only what is
# missing; uses sudo when not root), then the test devices that are not Debian packages: Intel's OpenCL
# CPU runtime (tools/setup-intel-ocl.sh; x86_64 only, skipped elsewhere). The test suite runs its OpenCL
# tests on PoCL, on Intel's runtime and under Oclgrind, each where present. Usage: tools/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config clang-format
  clang libclang-rt-14-dev  # tools/sanitize.sh and tools/fuzz.sh: ASan, UBSan, TSan, libFuzzer
  ocl-icd-opencl-dev opencl-clhpp-headers opencl-c-headers pocl-opencl-icd clinfo oclgrind
  libeigen3-dev libfmt-dev libpng-dev libjpeg-dev libxxhash-dev
  googletest libgtest-dev libbenchmark-dev
  python3 python3-pip
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

tools/setup-intel-ocl.sh
