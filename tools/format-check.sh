#!/usr/bin/env bash
# Fails when a tracked C++ file differs from what clang-format makes of it with the checked-in
# .clang-format (Debian's clang-format, as tools/setup.sh installs it). `tools/format-check.sh --fix`
# formats them in place. The OpenCL kernels (cl_kernels/*.cl) are not formatted by it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format-check: clang-format is not installed (tools/setup.sh)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.hpp')
if [ "${1:-}" = --fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=$(clang-format --dry-run "${files[@]}" 2>&1 | grep -- '-Wclang-format-violations' | cut -d: -f1 | sort -u || true)
if [ -n "$bad" ]; then
  echo "format-check: these files are not clang-formatted (tools/format-check.sh --fix):" >&2
  echo "$bad" >&2
  exit 1
fi
echo "format-check: ${#files[@]} files clang-formatted ($(clang-format --version | head -1))"
