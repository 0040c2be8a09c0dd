#!/usr/bin/env bash
# Installs Intel's OpenCL CPU runtime (OpenCL 3.0, cl_khr_fp16, subgroups, integer dot products) as a
# second OpenCL test device, outside the source tree. The wheels come from PyPI (intel-opencl-rt,
# intel-cmplr-lib-rt, tbb); their libraries go into one folder (libintelocl.so finds its neighbours through
# its $ORIGIN run path) and an ICD file naming that folder's libintelocl.so goes to /etc/OpenCL/vendors
# (the wheel's own .icd file names a path that does not exist). The wheel's libOpenCL.so is left out:
# Debian's ICD loader stays the only one. Idempotent; x86_64 only; needs root (or sudo) and pip.
# Usage: tools/setup-intel-ocl.sh    (BLUECL_INTEL_OCL_DIR overrides /opt/bluecl-intel-ocl)
set -euo pipefail

dir=${BLUECL_INTEL_OCL_DIR:-/opt/bluecl-intel-ocl}
icd=/etc/OpenCL/vendors/bluecl-intel-cpu.icd
version=2026.2.0

if [ "$(uname -m)" != x86_64 ]; then
  echo "setup-intel-ocl: Intel's OpenCL CPU runtime is x86_64 only; skipped"
  exit 0
fi
if [ -f "$dir/lib/libintelocl.so" ] && [ -f "$icd" ] && [ "$(cat "$dir/VERSION" 2>/dev/null)" = "$version" ]; then
  echo "setup-intel-ocl: Intel OpenCL CPU runtime $version present in $dir"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup-intel-ocl: need root or sudo" >&2; exit 1; }
  sudo="sudo"
fi
py=$(command -v python3 || true)
[ -n "$py" ] || { echo "setup-intel-ocl: python3 (with pip) is needed to fetch the wheels" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup-intel-ocl: fetching intel-opencl-rt $version, intel-cmplr-lib-rt $version, tbb from PyPI"
"$py" -m pip download --quiet --no-deps -d "$tmp/whl" "intel-opencl-rt==$version" \
  "intel-cmplr-lib-rt==$version" "tbb==2023.2.0"
for w in "$tmp"/whl/*.whl; do "$py" -m zipfile -e "$w" "$tmp/x"; done

$sudo rm -rf "$dir.new"
$sudo mkdir -p "$dir.new/lib"
for lib in "$tmp"/x/*.data/data/lib; do
  $sudo cp -a "$lib"/. "$dir.new/lib/"
done
$sudo rm -f "$dir.new"/lib/libOpenCL.so* "$dir.new"/lib/*-gdb.py
echo "$version" | $sudo tee "$dir.new/VERSION" >/dev/null
$sudo rm -rf "$dir"
$sudo mv "$dir.new" "$dir"
$sudo mkdir -p /etc/OpenCL/vendors
echo "$dir/lib/libintelocl.so" | $sudo tee "$icd" >/dev/null
echo "setup-intel-ocl: installed in $dir; ICD file $icd"
