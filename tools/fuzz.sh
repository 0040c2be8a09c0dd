#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ (clang, ASan + UBSan, in build-asan/, which
# tools/sanitize.sh asan shares) and runs each for SECONDS (default 60), one after another. Prints each
# target's executions; exits non-zero on any finding (crash, sanitizer report, failed check, leak, timeout,
# out of memory), which is copied into tests/data/fuzz/<target>/ so that CTest's fuzz_replay.<target>
# replays it in every build from then on. The corpus grows in build-asan/fuzz-corpus/<target>/ across runs,
# starting from the seeds fuzz_replay writes.
# Usage: tools/fuzz.sh [TARGET|all] [SECONDS]   (targets: gguf model image tokenizer json state)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
seconds=${2:-60}
all_targets=(gguf model image tokenizer json state)
if [ "$what" = all ]; then
  targets=("${all_targets[@]}")
elif [[ " ${all_targets[*]} " == *" $what "* ]]; then
  targets=("$what")
else
  echo "fuzz.sh: unknown target '$what' (targets: ${all_targets[*]} or all)" >&2
  exit 2
fi
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a positive integer, not '$seconds'" >&2; exit 2; }

tools/sanitize.sh --configure-only asan
build=build-asan
cmake --build "$build" -j "$(nproc)" --target fuzz_replay $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
status=0
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t
  findings=$build/fuzz-findings/$t
  log=$build/fuzz-$t.log
  mkdir -p "$corpus" "$findings"
  "$build/tests/fuzz/fuzz_replay" --seeds "$t" "$corpus" >/dev/null
  rc=0
  # -timeout: one input past 25 s is a finding; -rss_limit_mb: past 2 GiB is out of memory.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  echo "fuzz $t: ${execs:-?} execs in ${seconds} s, corpus $(ls "$corpus" | wc -l) inputs (log: $log)"
  found=$(find "$findings" -type f | wc -l)
  if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
    status=1
    echo "fuzz $t: FINDING (exit $rc); the report:" >&2
    grep -m 20 -E "ERROR|SUMMARY|runtime error|fuzz check failed|fuzz: unexpected|Test unit written" "$log" >&2 || tail -20 "$log" >&2
    mkdir -p "tests/data/fuzz/$t"
    for f in "$findings"/*; do
      [ -f "$f" ] || continue
      cp "$f" "tests/data/fuzz/$t/" && rm "$f"
      echo "fuzz $t: saved tests/data/fuzz/$t/$(basename "$f") (replayed by CTest's fuzz_replay.$t)" >&2
    done
  fi
done
exit $status
