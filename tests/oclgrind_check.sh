#!/usr/bin/env bash
# Runs an OpenCL test binary under Oclgrind, the OpenCL simulator, with its checks on: out-of-bounds and
# invalid accesses and barrier/work-group divergence (always on), data races (--data-races) and API errors
# (--check-api). Oclgrind reports what it finds without changing the exit code, so its log is read here:
# any message in it fails the run.
# Uninitialised values (--uninitialized) are off by default: in Debian's Oclgrind 21.10 that plugin stops on
# the `freeze` instructions its LLVM emits ("OCLGRIND FATAL ERROR ... Unsupported instruction: freeze" in
# im2col, downsample) and crashes (SIGSEGV in Uninitialized::instructionExecuted) in matmul and attention;
# with -O0 it flags fully written 16-wide vectors. BLUECL_OCLGRIND_UNINITIALIZED=1 turns it on for an
# Oclgrind that handles them.
# The `oclgrind` wrapper preloads Oclgrind's runtime, so the binary sees the Oclgrind platform alone.
# Exit: the binary's status when it fails, 1 when Oclgrind reported anything, 77 (a CTest skip) when
# oclgrind is not installed, else 0.
# Usage: tests/oclgrind_check.sh TEST_BINARY [ARGS...]   (OCLGRIND_CHECK_FLAGS adds oclgrind options)
set -uo pipefail

if ! command -v oclgrind >/dev/null 2>&1; then
  echo "oclgrind_check: oclgrind is not installed (Debian package oclgrind): skipped"
  exit 77
fi
[ $# -ge 1 ] || { echo "usage: $0 TEST_BINARY [ARGS...]" >&2; exit 2; }

log=$(mktemp "${TMPDIR:-/tmp}/bluecl-oclgrind.XXXXXX")
trap 'rm -f "$log"' EXIT

# One worker thread: CI machines have few cores, and the test runs beside others.
uninit=""
[ "${BLUECL_OCLGRIND_UNINITIALIZED:-0}" = 1 ] && uninit=--uninitialized
# shellcheck disable=SC2086
oclgrind --data-races --check-api $uninit --max-errors 50 --num-threads 1 \
  ${OCLGRIND_CHECK_FLAGS:-} --log "$log" "$@"
rc=$?

if grep -aq '[^[:space:]]' "$log"; then
  echo "oclgrind_check: Oclgrind reported errors:" >&2
  cat "$log" >&2
  echo "oclgrind_check: FAILED: $(grep -caE '^(Invalid|Uninitiali[sz]ed|Data race|Work-group divergence|Work-item divergence|OCLGRIND|Oclgrind)' "$log") report(s) from Oclgrind" >&2
  [ $rc -ne 0 ] && exit $rc
  exit 1
fi
if [ $rc -eq 77 ]; then
  echo "oclgrind_check: the test found no Oclgrind device: skipped"
fi
exit $rc
