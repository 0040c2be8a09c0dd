// Where bluecl keeps what it measures or compiles once per machine (kernel binaries, calibrations):
// BLUECL_CACHE_DIR, else $XDG_CACHE_HOME/bluecl, else ~/.cache/bluecl; empty when BLUECL_CACHE_DIR=none
// (nothing is cached).
#pragma once

#include <string>

namespace bluecl {

std::string cache_dir();

}  // namespace bluecl
