#!/usr/bin/env bash
# The main job: installs what is missing, builds, writes a tiny random-weight model with its vision tower
# (once, into models/), lists the OpenCL devices, and answers a question about an image, streaming the
# text. Random weights make the text meaningless; every stage (image decoding, tiling, the ViT, the
# projector, prefill, decode, sampling) runs for real. Usage: tools/demo.sh [extra bluecl run options]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
mkdir -p models
if [ ! -f models/tiny.gguf ] || [ ! -f models/tiny-mmproj.gguf ]; then
  build/bluecl gen-model --preset tiny --vision -o models/tiny.gguf --mmproj-out models/tiny-mmproj.gguf --force
fi
build/bluecl devices
echo
echo "== bluecl run (random weights: the answer is meaningless, the pipeline is real) =="
build/bluecl run -m models/tiny.gguf --mmproj models/tiny-mmproj.gguf --image tools/demo/house.png \
  --chat -p "What is in this picture?" -n 48 --seed 1 "$@"
