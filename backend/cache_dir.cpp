#include "backend/cache_dir.h"

#include <cstdlib>

namespace bluecl {

std::string cache_dir() {
  if (const char* env = std::getenv("BLUECL_CACHE_DIR")) return std::string(env) == "none" ? "" : env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/bluecl";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/bluecl";
  return "";
}

}  // namespace bluecl
