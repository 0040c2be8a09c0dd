#include "graph/base/atomic_file.h"

#include "graph/base/error.h"

#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

namespace bluecl {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

std::string unique_temp_path(const std::filesystem::path& path) {
  // The pid separates processes on one machine, the counter the calls of one process; the random part,
  // drawn once, separates processes with the same pid on machines sharing a folder.
  static const unsigned process_tag = std::random_device{}();
  static std::atomic<uint64_t> counter{0};
  const long pid = ::getpid();
  return fmt::format("{}.tmp-{}-{}-{:08x}", path.string(), pid, counter++, process_tag);
}

AtomicFile::AtomicFile(std::filesystem::path path) : path_(std::move(path)), tmp_(unique_temp_path(path_)) {
  f_ = std::fopen(tmp_.c_str(), "wbx");  // x: fail rather than share a file that exists
  if (!f_) fail(Status::Io, "{}: cannot create: {}", tmp_, errno_text());
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!committed_) std::remove(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  BLUECL_ASSERT(f_ && !committed_, "AtomicFile::write after commit on {}", path_.string());
  if (n && std::fwrite(data, 1, n, f_) != n) fail(Status::Io, "{}: write failed: {}", tmp_, errno_text());
}

void AtomicFile::commit() {
  BLUECL_ASSERT(f_ && !committed_, "AtomicFile::commit twice on {}", path_.string());
  std::FILE* f = f_;
  f_ = nullptr;
  if (std::fclose(f) != 0) fail(Status::Io, "{}: close failed: {}", tmp_, errno_text());
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail(Status::Io, "cannot rename {} to {}: {}", tmp_, path_.string(), errno_text());
  committed_ = true;
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

}  // namespace bluecl
