#!/usr/bin/env bash
# GPU check for a Linux machine with an NVIDIA GPU and its driver but nothing else set up: the OpenCL ICD
# loader and an ICD file for the driver's libnvidia-opencl.so.1, a build with all cores, the op test on the
# GPU, the microbenchmarks of the hot kernels, the 2.7B model bench, and one table at the end. Budget: 8
# minutes.
#
#   tools/gpu-check.sh                 install (apt), build, run: for a GPU machine with package access
#   tools/gpu-check.sh --bundle DIR    here: build, and copy the binaries, the kernels' test data and the
#                                      shared libraries they need (ICD loader included) into DIR
#   tools/gpu-check.sh --run DIR       on a GPU machine without package access: run a bundle made above
#
# NVIDIA's driver may run half arithmetic without reporting cl_khr_fp16: only what runs and passes counts
# (fp16 variants are reported as skipped where the extension is absent). Output: $OUT (or ./gpu-check-out)
# receives the logs, the JSON of the microbenchmarks and table.md.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${OUT:-$root/gpu-check-out}
mkdir -p "$out"
mode=${1:-all}
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }

find_nvidia_icd() {
  local p
  for p in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -e "$p/libnvidia-opencl.so.1" ] && { echo "$p/libnvidia-opencl.so.1"; return 0; }
  done
  ldconfig -p 2>/dev/null | awk '/libnvidia-opencl.so.1/ {print $NF; exit}'
}

# An ICD file of our own in a folder of our own (OCL_ICD_VENDORS), so nothing system-wide is changed.
setup_icd() {
  # GPU_CHECK_ICD=system: use the ICD files already installed (trying the script on a machine without a GPU).
  if [ "${GPU_CHECK_ICD:-}" = system ]; then echo "gpu-check: system ICD files"; return 0; fi
  local lib
  lib=$(find_nvidia_icd)
  if [ -z "$lib" ]; then
    echo "gpu-check: libnvidia-opencl.so.1 not found (is the NVIDIA driver installed?)" >&2
    return 1
  fi
  mkdir -p "$out/vendors"
  echo "$lib" > "$out/vendors/nvidia.icd"
  export OCL_ICD_VENDORS="$out/vendors"
  echo "gpu-check: ICD file for $lib"
}

build() {
  cmake -S "$root" -B "$root/build-gpu" -DCMAKE_BUILD_TYPE=Release -DBLUECL_NATIVE=OFF >/dev/null &&
    cmake --build "$root/build-gpu" -j "$(nproc)" --target bluecl_cli test_ops bluecl_microbench
}

# Runs the checks with binaries in $1 (bluecl, test_ops, bluecl_microbench).
run_checks() {
  local bin=$1
  export BLUECL_DEVICE=${BLUECL_DEVICE:-nvidia} BLUECL_CACHE_DIR="$out/cache" BLUECL_PLACEMENT=device
  "$bin/bluecl" devices > "$out/devices.txt" 2>&1
  cat "$out/devices.txt"
  echo "gpu-check: op test ($(elapsed) s)"
  timeout 240 "$bin/test_ops" --gtest_filter=-BrokenKernels.* > "$out/test_ops.txt" 2>&1
  echo "test_ops exit $?" >> "$out/test_ops.txt"
  tail -25 "$out/test_ops.txt"
  echo "gpu-check: microbenchmarks ($(elapsed) s)"
  # The hot kernels at the 2.7B and ViT shapes: decode GEMV, prefill GEMM, the ViT GEMM, attention.
  timeout 150 "$bin/bluecl_microbench" --benchmark_min_time=0.1 \
    --benchmark_filter='^cl/(matmul/[0-9x]+/q4_0/M(1|128)/|matmul/vit-1152x4304/q8_0/M729/|attention/)' \
    --benchmark_out="$out/microbench.json" --benchmark_out_format=json > "$out/microbench.txt" 2> "$out/microbench.err"
  echo "microbench exit $?" >> "$out/microbench.err"
  echo "gpu-check: 2.7B bench ($(elapsed) s)"
  if [ ! -f "$out/b3.gguf" ]; then "$bin/bluecl" gen-model --preset bluelm-3b -o "$out/b3.gguf" > "$out/gen.txt" 2>&1; fi
  timeout 180 "$bin/bluecl" bench -m "$out/b3.gguf" --prompt 256 --chunks 128 --decode 32 -r 2 > "$out/bench.md" \
    2> "$out/bench.err"
  echo "bench exit $? (124: timed out)" >> "$out/bench.err"
  rm -f "$out/b3.gguf"
  table > "$out/table.md"
  cat "$out/table.md"
  echo "gpu-check: done in $(elapsed) s; files in $out"
}

table() {
  python3 - "$out" <<'EOF'
import json, re, sys, os
out = sys.argv[1]
want = os.environ.get("BLUECL_DEVICE", "").lower()
blocks = open(os.path.join(out, "devices.txt")).read().strip().split("\ndevice ")
pick = next((b for b in blocks if want and want in b.lower()), blocks[0])
print("## bluecl GPU check\n")
print("device " + " / ".join(l.strip() for l in pick.splitlines()[:4]).removeprefix("device "))
t = open(os.path.join(out, "test_ops.txt")).read()
passed = re.search(r"\[  PASSED  \] (\d+)", t)
failed = re.search(r"(\d+) FAILED TEST", t)
skipped = re.search(r"\[  SKIPPED \] (\d+)", t)
print(f"\nop test: {passed.group(1) if passed else 0} passed, {failed.group(1) if failed else 0} failed, "
      f"{skipped.group(1) if skipped else 0} skipped")
print("\n| kernel | time | GB/s | % read bw | GFLOP/s | % fp32 FMA |\n|---|---:|---:|---:|---:|---:|")
try:
    for b in json.load(open(os.path.join(out, "microbench.json")))["benchmarks"]:
        name = b["name"].split("/min_time")[0]
        if "error_message" in b:
            print(f"| {name} | {b['error_message']} | | | | |"); continue
        print(f"| {name} | {b['real_time']:.3g} {b['time_unit']} | {b.get('GB/s', 0):.1f} | {b.get('%bw', 0):.0f}% | "
              f"{b.get('GFLOP/s', 0):.0f} | {b.get('%fma', 0):.0f}% |")
except Exception as e:
    err = open(os.path.join(out, "microbench.err")).read().strip().splitlines()[-1:]
    print(f"| microbenchmarks failed: {e}; {' '.join(err)} | | | | | |")
print()
bench = open(os.path.join(out, "bench.md")).read().strip() if os.path.exists(os.path.join(out, "bench.md")) else ""
print(bench if bench else "model bench failed: " + open(os.path.join(out, "bench.err")).read()[-800:].strip())
EOF
}

case "$mode" in
  all)
    if ! command -v cmake >/dev/null || ! dpkg -s ocl-icd-libopencl1 >/dev/null 2>&1; then
      apt-get update -qq && apt-get install -y -qq --no-install-recommends ocl-icd-libopencl1 ocl-icd-opencl-dev \
        >/dev/null || { echo "gpu-check: cannot install the ICD loader (no package access? use --bundle/--run)" >&2; exit 1; }
    fi
    tools/setup.sh >/dev/null || exit 1
    setup_icd || exit 1
    echo "gpu-check: building ($(elapsed) s)"
    build > "$out/build.txt" 2>&1 || { tail -30 "$out/build.txt"; exit 1; }
    mkdir -p "$out/bin"
    ln -sf "$root/build-gpu/bluecl" "$root/build-gpu/tests/test_ops" "$root/build-gpu/bench/bluecl_microbench" "$out/bin/"
    run_checks "$out/bin" ;;
  --bundle)
    dir=${2:?usage: tools/gpu-check.sh --bundle DIR}
    build || exit 1
    mkdir -p "$dir/bin" "$dir/lib"
    cp build-gpu/bluecl build-gpu/tests/test_ops build-gpu/bench/bluecl_microbench "$dir/bin/"
    # Shared libraries outside glibc (fmt, png, jpeg, gtest, benchmark, the ICD loader, ...).
    for b in "$dir"/bin/*; do
      ldd "$b" | awk '/=> \// {print $3}' | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux|libgcc_s|libstdc\+\+)[.-]' |
        xargs -r cp -Lu -t "$dir/lib/"
    done
    cp tools/gpu-check.sh "$dir/"
    echo "gpu-check: bundle in $dir ($(du -sh "$dir" | cut -f1))" ;;
  --run)
    dir=${2:?usage: tools/gpu-check.sh --run DIR}
    export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    setup_icd || exit 1
    run_checks "$dir/bin" ;;
  *) echo "usage: tools/gpu-check.sh [--bundle DIR | --run DIR]" >&2; exit 2 ;;
esac
