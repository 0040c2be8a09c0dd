// GgufFile::open: maps a GGUF v3 file read-only and validates its whole header with a bounds-checked
// cursor before anything is allocated from a count read out of the file. Every length, count, dimension,
// type and offset is checked against what the file can hold; a failure throws Error(BadFile) whose
// message names the file, the problem and where it is (byte offset, key or tensor name).
// Metadata values stay in the mapping and are decoded by the getters (host/gguf/gguf_metadata.cpp).
#include "graph/base/error.h"
#include "graph/base/log.h"
#include "host/gguf/gguf_internal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <system_error>

namespace bluecl {

namespace {

// Smallest encodings, used to reject counts that the rest of the file could not hold.
constexpr size_t kMinKvBytes = 8 + 4 + 1;                  // key length, type, one-byte value
constexpr size_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, one dim, type, offset
constexpr size_t kMaxShownName = 80;

std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

}  // namespace

std::string printable_name(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < kMaxShownName; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > kMaxShownName) out += "...";
  return out;
}

class GgufParser {
 public:
  explicit GgufParser(GgufFile& f) : f_(f), p_(f.map_), size_(f.size_) {}

  void parse() {
    parse_header();
    for (uint64_t i = 0; i < n_kv_; ++i) parse_kv(i);
    context_ = {};
    parse_alignment();
    // The kv section is known now: check the tensor count against what is left of the file.
    if (n_tensors_ > left() / kMinTensorInfoBytes) {
      bad("tensor count {} (at offset 8) is implausible: tensor infos from offset {} cannot fit in the "
          "{} bytes left (a truncated file?)",
          n_tensors_, pos_, left());
    }
    f_.tensors_.reserve(n_tensors_);
    for (uint64_t i = 0; i < n_tensors_; ++i) parse_tensor_info(i);
    context_ = {};
    place_tensor_data();
  }

 private:
  struct Context {
    const char* kind = nullptr;  // "key", "tensor", "metadata entry", ...
    std::string_view name;
    uint64_t index = 0;
  };

  GgufFile& f_;
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  uint64_t n_tensors_ = 0, n_kv_ = 0;
  Context context_;

  size_t left() const { return size_ - pos_; }

  std::string where() const {
    if (!context_.kind) return "";
    if (context_.name.data())
      return fmt::format(" (in {} '{}')", context_.kind, printable_name(context_.name));
    return fmt::format(" (in {} #{})", context_.kind, context_.index);
  }

  template <typename... Args>
  [[noreturn]] void bad(fmt::format_string<Args...> f, Args&&... args) const {
    fail(Status::BadFile, "{}: {}{}", f_.path_, fmt::format(f, std::forward<Args>(args)...), where());
  }

  void need(size_t n, const char* what) const {
    if (n > left()) {
      bad("truncated: {} needs {} bytes at offset {}, but the file ends {} bytes later (size {})", what, n,
          pos_, left(), size_);
    }
  }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    const T v = load_le<T>(p_ + pos_);
    pos_ += sizeof(T);
    return v;
  }

  std::string_view read_string(const char* what) {
    const size_t at = pos_;
    const auto len = read<uint64_t>(what);
    if (len > left()) {
      bad("{} of {} bytes at offset {} runs past the end of the file ({} bytes)", what, len, at, size_);
    }
    std::string_view s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return s;
  }

  GgufType read_value_type(const char* what) {
    const size_t at = pos_;
    const auto t = read<uint32_t>(what);
    if (t >= kGgufNumTypes) bad("unknown {} {} at offset {}", what, t, at);
    return static_cast<GgufType>(t);
  }

  void parse_header() {
    if (size_ < 4 || std::memcmp(p_, "GGUF", 4) != 0) {
      std::string got;
      for (size_t i = 0; i < std::min<size_t>(size_, 4); ++i) got += fmt::format("{:02x}", p_[i]);
      bad("not a GGUF file: bad magic {} at offset 0 (expected 47475546, \"GGUF\")", got);
    }
    pos_ = 4;
    const auto version = read<uint32_t>("the version");
    if (version == 1 || version == 2) {
      fail(Status::Unsupported,
           "{}: GGUF version {} is not supported (only version 3; convert the model "
           "again with a current llama.cpp)",
           f_.path_, version);
    }
    if (version != kGgufVersion) {
      bad("unknown GGUF version {} at offset 4 (expected 3{})", version,
          version == 0x03000000u ? "; this looks like a big-endian file" : "");
    }
    f_.version_ = version;
    n_tensors_ = read<uint64_t>("the tensor count");
    n_kv_ = read<uint64_t>("the metadata count");
    if (n_kv_ > left() / kMinKvBytes) {
      bad("metadata count {} (at offset 16) is implausible for a file of {} bytes", n_kv_, size_);
    }
    if (n_tensors_ > left() / kMinTensorInfoBytes) {
      bad("tensor count {} (at offset 8) is implausible for a file of {} bytes", n_tensors_, size_);
    }
  }

  // Walks over one value, checking every length against the bytes left.
  void skip_value(GgufType t, int depth) {
    if (t == GgufType::String) {
      read_string("string value");
      return;
    }
    if (t != GgufType::Array) {
      need(gguf_scalar_size(t), "a value");
      pos_ += gguf_scalar_size(t);
      return;
    }
    if (depth >= kGgufMaxArrayDepth) bad("arrays nested deeper than {} levels at offset {}", depth, pos_);
    const GgufType et = read_value_type("array element type");
    const size_t at = pos_;
    const auto count = read<uint64_t>("the array length");
    const size_t min_bytes = et == GgufType::String ? 8 : et == GgufType::Array ? 12 : gguf_scalar_size(et);
    if (count > left() / min_bytes) {
      bad("array of {} {} elements (length at offset {}) cannot fit in the {} bytes left in the file", count,
          gguf_type_name(et), at, left());
    }
    if (et != GgufType::String && et != GgufType::Array) {
      pos_ += count * min_bytes;
      return;
    }
    for (uint64_t i = 0; i < count; ++i) skip_value(et, depth + 1);
  }

  void parse_kv(uint64_t i) {
    context_ = {"metadata entry", {}, i};
    const size_t key_at = pos_;
    const std::string_view key = read_string("key");
    context_ = {"key", key, i};
    const GgufType type = read_value_type("value type");
    GgufKv kv;
    kv.key = key;
    kv.type = type;
    kv.value = p_ + pos_;
    skip_value(type, 0);
    kv.value_bytes = static_cast<size_t>(p_ + pos_ - kv.value);
    if (type == GgufType::Array) {
      kv.elem_type = static_cast<GgufType>(load_le<uint32_t>(kv.value));
      kv.count = load_le<uint64_t>(kv.value + 4);
    } else if (type == GgufType::Bool && kv.value[0] > 1) {
      bad("bool value {} at offset {} is neither 0 nor 1", kv.value[0], kv.value - p_);
    }
    if (!f_.kv_index_.emplace(key, f_.kvs_.size()).second) bad("duplicate key at offset {}", key_at);
    f_.kvs_.push_back(kv);
  }

  void parse_alignment() {
    const GgufKv* kv = f_.find_kv("general.alignment");
    if (!kv) return;
    context_ = {"key", kv->key, 0};
    if (kv->type != GgufType::U32) bad("general.alignment must be a u32, not {}", gguf_type_name(kv->type));
    const auto a = load_le<uint32_t>(kv->value);
    if (a == 0 || (a & (a - 1)) != 0) bad("general.alignment {} is not a power of two", a);
    f_.alignment_ = a;
    context_ = {};
  }

  void parse_tensor_info(uint64_t i) {
    context_ = {"tensor info", {}, i};
    const std::string_view name = read_string("tensor name");
    context_ = {"tensor", name, i};
    if (name.empty()) bad("tensor #{} has an empty name", i);
    const size_t dims_at = pos_;
    const auto n_dims = read<uint32_t>("n_dims");
    if (n_dims < 1 || n_dims > static_cast<uint32_t>(kMaxDims)) {
      bad("n_dims {} at offset {} is outside 1..{}", n_dims, dims_at, kMaxDims);
    }
    int64_t ne[kMaxDims] = {};
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const size_t at = pos_;
      const auto v = read<uint64_t>("a dimension");
      if (v == 0 || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        bad("dimension {} is {} at offset {} (must be positive)", d, v, at);
      }
      ne[d] = static_cast<int64_t>(v);
      if (__builtin_mul_overflow(numel, ne[d], &numel)) {
        bad("the element count of dimensions up to {} (offset {}) overflows int64", d, at);
      }
    }
    const size_t type_at = pos_;
    const auto ggml_type = read<uint32_t>("the tensor type");
    const GgmlTypeInfo* info = ggml_type_info(ggml_type);
    if (!info) bad("unknown ggml type {} at offset {}", ggml_type, type_at);
    if (ne[0] % info->block != 0) {
      bad("row length {} is not a multiple of the {} block size {}", ne[0], info->name, info->block);
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(numel / info->block),
                               static_cast<uint64_t>(info->block_bytes), &bytes)) {
      bad("the byte size of {} elements of {} overflows", numel, info->name);
    }
    const size_t offset_at = pos_;
    const auto offset = read<uint64_t>("the tensor data offset");
    if (offset % f_.alignment_ != 0) {
      bad("data offset {} (at offset {}) is not a multiple of the alignment {}", offset, offset_at,
          f_.alignment_);
    }
    if (!f_.tensor_index_.emplace(name, f_.tensors_.size()).second) bad("duplicate tensor name");

    GgufTensor t;
    t.name = std::string(name);
    t.ggml_type = ggml_type;
    t.dtype = dtype_from_ggml(ggml_type);
    t.shape.rank = static_cast<int>(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) t.shape.dims[n_dims - 1 - d] = ne[d];  // outermost first
    t.offset = offset;
    t.bytes = static_cast<size_t>(bytes);
    f_.tensors_.push_back(std::move(t));
  }

  void place_tensor_data() {
    // alignment <= 2^31 and pos_ <= size_, so this cannot overflow.
    const size_t data_start = (pos_ + f_.alignment_ - 1) / f_.alignment_ * f_.alignment_;
    for (GgufTensor& t : f_.tensors_) {
      if (data_start > size_ || t.offset > size_ - data_start || t.bytes > size_ - data_start - t.offset) {
        fail(Status::BadFile,
             "{}: tensor '{}': its {} bytes at data offset {} (data section at file offset {}) run past "
             "the end of the file ({} bytes); the file is truncated or the offset is corrupt",
             f_.path_, printable_name(t.name), t.bytes, t.offset, data_start, size_);
      }
      t.data = p_ + data_start + t.offset;
    }
  }
};

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f(new GgufFile);
  f->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(Status::Io, "{}: cannot open: {}", path, errno_text(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(Status::Io, "{}: cannot stat: {}", path, errno_text(errno));
  if (S_ISDIR(st.st_mode)) fail(Status::Io, "{}: is a directory, not a GGUF file", path);
  if (!S_ISREG(st.st_mode)) fail(Status::Io, "{}: is not a regular file", path);
  if (st.st_size == 0) fail(Status::BadFile, "{}: empty file (0 bytes), not a GGUF model", path);
  const auto size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) fail(Status::Io, "{}: cannot map {} bytes: {}", path, size, errno_text(errno));
  f->map_ = static_cast<const uint8_t*>(map);
  f->size_ = size;
  GgufParser(*f).parse();  // on error, ~GgufFile unmaps
  log(LogLevel::Debug, "gguf", "{}: version {}, {} keys, {} tensors, {} bytes", path, f->version_,
      f->kvs_.size(), f->tensors_.size(), size);
  return f;
}

GgufFile::~GgufFile() {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
}

void GgufFile::release_pages(const void* data, size_t bytes) const {
  if (!map_ || !data || bytes == 0) return;
  const auto base = reinterpret_cast<uintptr_t>(map_);
  const auto lo = std::max(reinterpret_cast<uintptr_t>(data), base);
  const uintptr_t end = reinterpret_cast<uintptr_t>(data) + std::min<uintptr_t>(bytes, UINTPTR_MAX - lo);
  const uintptr_t hi = std::min(end, base + size_);
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (lo + page - 1) / page * page;  // only whole pages inside the range
  const uintptr_t last = hi / page * page;
  if (first >= last) return;
  if (::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) {
    log(LogLevel::Debug, "gguf", "{}: madvise: {}", path_, errno_text(errno));
  }
}

}  // namespace bluecl
