// Writing a file so that readers see either the old contents or the whole new ones, never a part: the
// bytes go to a temporary file next to the target, renamed over it once complete. The temporary's name
// is unique per process and per call (PATH.tmp-PID-COUNTER-RANDOM), so two threads or two processes
// writing the same file (two tuners, two calibrations sharing a cache) never write into each other's
// temporary; the last rename wins with a whole file.
//
//   AtomicFile f(path);                  // Error(Io) "PATH.tmp-...: cannot create: ..."
//   f.write(header.data(), header.size());
//   f.commit();                          // flush, close, rename; Error(Io) on failure
//   // leaving scope without commit() (an exception) removes the temporary
//
//   write_file_atomic(path, text);       // the same for bytes in memory
//
// Parent folders are not created: callers that write into a cache create it first.
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace bluecl {

// A name for a temporary next to `path` that no other writer uses: path + ".tmp-PID-COUNTER-RANDOM".
std::string unique_temp_path(const std::filesystem::path& path);

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();  // removes the temporary unless commit() renamed it; never throws
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);  // Error(Io) naming the temporary
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();  // Error(Io); afterwards the object only waits to be destroyed

  const std::string& temp_path() const { return tmp_; }

 private:
  std::filesystem::path path_;
  std::string tmp_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

}  // namespace bluecl
