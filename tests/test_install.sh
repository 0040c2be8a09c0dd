#!/usr/bin/env bash
# Installs bluecl into a temporary prefix, then builds and runs a C program and a C++17 one (bluecl.hpp's
# handle owners) against it: through the CMake package (find_package(bluecl)) and through pkg-config.
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
model="$src/tests/data/golden/tiny-a-q4_0.gguf"

cmake -S "$src/tests/install_example" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
LD_LIBRARY_PATH="$work/prefix/lib" "$work/cmake-build/example" "$model" "The quick brown fox"
LD_LIBRARY_PATH="$work/prefix/lib" "$work/cmake-build/example_cpp" "$model" "The quick brown fox"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
cc "$src/tests/install_example/example.c" $(pkg-config --cflags --libs bluecl) -o "$work/example-pc"
LD_LIBRARY_PATH="$work/prefix/lib" "$work/example-pc" "$model" "The quick brown fox"
c++ -std=c++17 -Wall -Wextra -Werror "$src/tests/install_example/example.cpp" $(pkg-config --cflags --libs bluecl) \
  -o "$work/example-cpp-pc"
LD_LIBRARY_PATH="$work/prefix/lib" "$work/example-cpp-pc" "$model" "The quick brown fox"
# The shared library exports the C API and nothing else.
if nm -D --defined-only "$work/prefix/lib/libbluecl.so" | awk '{print $3}' | grep -v '^bluecl_' | grep -q .; then
  echo "libbluecl.so exports symbols beyond the C API:" >&2
  nm -D --defined-only "$work/prefix/lib/libbluecl.so" | awk '{print $3}' | grep -v '^bluecl_' | head >&2
  exit 1
fi
echo "install test passed"
