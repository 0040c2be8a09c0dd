#!/usr/bin/env bash
# Sets up, builds and runs every test. Usage: tools/test.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/format-check.sh
tools/build.sh
cd build
ctest --output-on-failure "$@"
