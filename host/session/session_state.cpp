// A session's state as bytes (Session::save_state, load_state): a conversation's KV cache saved to
// memory or a file and continued later, in another session or process, on the same model. The layout,
// in the host's byte order (little-endian on every platform bluecl builds for), format version 1:
//
//   offset  size          field
//   0       8             magic "BLUECLKV"
//   8       4   u32       format version
//   12      4   u32       KV type: 0 f32, 1 f16, 2 q8_0
//   16      8   u64       the model's fingerprint (LlmModel::fingerprint)
//   24      8   i64       layers
//   32      8   i64       bytes of one cache row (one position's K, or V, of one layer)
//   40      8   i64       n_past: the positions in use
//   48      8   i64       n_logits: floats of last logits that follow (0 or n_vocab)
//   56      4 * n_past    i32 history: token ids, -1 for an embedding (Session::kEmbeddingPosition)
//           4 * n_logits  f32 the logits of the last token fed
//           per layer: K rows, then V rows, n_past * row bytes each, as the cache holds them
//   end-8   8   u64       XXH3-64 of every byte before it
//
// Rows are the cache's own bytes, the same on the CPU and on OpenCL devices, so a state saved with the
// cache on one device loads into a session whose cache is on another (of the same KV type).
#include "graph/base/atomic_file.h"
#include "graph/base/error.h"
#include "graph/base/hash.h"
#include "host/session/session.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

namespace bluecl {

namespace {

constexpr char kMagic[8] = {'B', 'L', 'U', 'E', 'C', 'L', 'K', 'V'};
constexpr uint32_t kFormat = 1;
constexpr size_t kHeaderBytes = 56, kChecksumBytes = 8;
// Bounds on header fields, far beyond any model, so that the size computed from them cannot overflow.
constexpr int64_t kMaxLayers = 4096, kMaxRowBytes = int64_t{1} << 24, kMaxPositions = int64_t{1} << 20,
                  kMaxLogits = int64_t{1} << 24;

uint32_t kv_code(DType t) {
  switch (t) {
    case DType::F32:
      return 0;
    case DType::F16:
      return 1;
    case DType::Q8_0:
      return 2;
    default:
      BLUECL_ASSERT(false, "a KV cache of {}", dtype_name(t));
  }
  return 0;
}

std::optional<DType> kv_from_code(uint32_t code) {
  switch (code) {
    case 0:
      return DType::F32;
    case 1:
      return DType::F16;
    case 2:
      return DType::Q8_0;
    default:
      return std::nullopt;
  }
}

size_t state_bytes(int64_t layers, int64_t row, int64_t n_past, int64_t n_logits) {
  return kHeaderBytes + 4 * static_cast<size_t>(n_past) + 4 * static_cast<size_t>(n_logits) +
         2 * static_cast<size_t>(layers) * static_cast<size_t>(n_past) * static_cast<size_t>(row) +
         kChecksumBytes;
}

struct Writer {
  uint8_t* p;
  void bytes(const void* src, size_t n) {
    if (n) std::memcpy(p, src, n);
    p += n;
  }
  template <typename T>
  void put(T v) {
    bytes(&v, sizeof v);
  }
};

struct Reader {
  const uint8_t* p;
  void bytes(void* dst, size_t n) {
    if (n) std::memcpy(dst, p, n);  // an empty vector's data() may be null
    p += n;
  }
  template <typename T>
  T get() {
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
};

struct StateHeader {
  DType kv = DType::F32;
  uint64_t fingerprint = 0;
  int64_t layers = 0, row = 0, n_past = 0, n_logits = 0;
};

// The header, checked on its own: the magic, the format, fields in range, the size they imply, the
// checksum. What must match the loading session is checked by Session::load_state.
StateHeader read_header(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes + kChecksumBytes)
    fail(Status::BadFile, "session state: {} bytes is shorter than a state's header ({} bytes): truncated",
         bytes.size(), kHeaderBytes + kChecksumBytes);
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    fail(Status::BadFile, "not a bluecl session state (it does not begin with \"BLUECLKV\")");
  Reader r{bytes.data() + sizeof kMagic};
  const auto format = r.get<uint32_t>();
  if (format != kFormat)
    fail(Status::Unsupported, "session state of format {}: this bluecl reads format {}", format, kFormat);
  const auto kv_id = r.get<uint32_t>();
  StateHeader h;
  h.fingerprint = r.get<uint64_t>();
  h.layers = r.get<int64_t>();
  h.row = r.get<int64_t>();
  h.n_past = r.get<int64_t>();
  h.n_logits = r.get<int64_t>();
  const int64_t layers = h.layers, row = h.row, n_past = h.n_past, n_logits = h.n_logits;
  const std::optional<DType> kv = kv_from_code(kv_id);
  if (!kv) fail(Status::BadFile, "session state: unknown KV type code {}", kv_id);
  if (layers < 1 || layers > kMaxLayers || row < 1 || row > kMaxRowBytes || n_past < 0 ||
      n_past > kMaxPositions || n_logits < 0 || n_logits > kMaxLogits)
    fail(Status::BadFile,
         "session state: header out of range ({} layers, {}-byte rows, {} positions, {} logits): corrupt",
         layers, row, n_past, n_logits);
  const size_t expected = state_bytes(layers, row, n_past, n_logits);
  if (bytes.size() != expected)
    fail(Status::BadFile, "session state: {} bytes where its header says {}: {}", bytes.size(), expected,
         bytes.size() < expected ? "truncated" : "corrupt");
  const size_t body = bytes.size() - kChecksumBytes;
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + body, sizeof stored);
  if (hash64(std::string_view(reinterpret_cast<const char*>(bytes.data()), body)) != stored)
    fail(Status::BadFile, "session state: checksum mismatch: the state is corrupt");
  h.kv = *kv;
  return h;
}

}  // namespace

Backend& Session::cache_backend() {
  if (caches_.empty()) step_for(1, false);  // binds (allocates) the cache
  return *devices_.backends()[cache_device_];
}

size_t Session::state_size() const {
  const LlmHParams& hp = model_.hparams();
  const int64_t row = static_cast<int64_t>(dtype_bytes(kv_type_, hp.n_head_kv * hp.head_dim()));
  return state_bytes(hp.n_layer, row, n_past_, static_cast<int64_t>(logits_.size()));
}

std::vector<uint8_t> Session::save_state() {
  const LlmHParams& hp = model_.hparams();
  const size_t row = dtype_bytes(kv_type_, hp.n_head_kv * hp.head_dim());
  std::vector<uint8_t> out(state_size());
  Writer w{out.data()};
  w.bytes(kMagic, sizeof kMagic);
  w.put<uint32_t>(kFormat);
  w.put<uint32_t>(kv_code(kv_type_));
  w.put<uint64_t>(model_.fingerprint());
  w.put<int64_t>(hp.n_layer);
  w.put<int64_t>(static_cast<int64_t>(row));
  w.put<int64_t>(n_past_);
  w.put<int64_t>(static_cast<int64_t>(logits_.size()));
  BLUECL_ASSERT(history_.size() == static_cast<size_t>(n_past_), "history of {} for {} positions",
                history_.size(), n_past_);
  w.bytes(history_.data(), history_.size() * sizeof(int32_t));
  w.bytes(logits_.data(), logits_.size() * sizeof(float));
  if (n_past_ > 0) {
    Backend& be = cache_backend();
    BLUECL_ASSERT(caches_.size() == 2 * static_cast<size_t>(hp.n_layer), "{} cache buffers for {} layers",
                  caches_.size(), hp.n_layer);
    for (const auto& buf : caches_) {
      be.read(TensorRef{buf.get(), 0}, w.p, n_past_ * row);
      w.p += n_past_ * row;
    }
  }
  const uint64_t sum = hash64(
      std::string_view(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(w.p - out.data())));
  w.put<uint64_t>(sum);
  BLUECL_ASSERT(w.p == out.data() + out.size(), "state of {} bytes written as {}", out.size(),
                w.p - out.data());
  return out;
}

void Session::load_state(std::span<const uint8_t> bytes) {
  // Everything is checked before anything changes: a refused state leaves the session as it was.
  const StateHeader h = read_header(bytes);
  const int64_t row = h.row, n_past = h.n_past, n_logits = h.n_logits;
  Reader r{bytes.data() + kHeaderBytes};
  const LlmHParams& hp = model_.hparams();
  if (h.fingerprint != model_.fingerprint())
    fail(Status::InvalidArgument,
         "session state: saved from another model (fingerprint {:016x}; this model's is {:016x})",
         h.fingerprint, model_.fingerprint());
  if (h.kv != kv_type_)
    fail(Status::InvalidArgument,
         "session state: its KV cache is {} and this session's {}: create the session with kv type {}",
         dtype_name(h.kv), dtype_name(kv_type_), dtype_name(h.kv));
  const auto own_row = static_cast<int64_t>(dtype_bytes(kv_type_, hp.n_head_kv * hp.head_dim()));
  if (h.layers != hp.n_layer || row != own_row)
    fail(Status::BadFile, "session state: {} layers of {}-byte rows where the model has {} of {}", h.layers,
         row, hp.n_layer, own_row);
  if (n_past > n_ctx_)
    fail(Status::ContextFull, "session state: {} positions do not fit this session's context of {}", n_past,
         n_ctx_);
  if (n_logits != 0 && n_logits != hp.n_vocab)
    fail(Status::BadFile, "session state: {} logits for a vocabulary of {}", n_logits, hp.n_vocab);
  std::vector<int32_t> history(static_cast<size_t>(n_past));
  r.bytes(history.data(), history.size() * sizeof(int32_t));
  for (int32_t t : history)
    if (t != kEmbeddingPosition && (t < 0 || t >= hp.n_vocab))
      fail(Status::BadFile, "session state: token id {} in its history is outside the vocabulary", t);
  std::vector<float> logits(static_cast<size_t>(n_logits));
  r.bytes(logits.data(), logits.size() * sizeof(float));

  if (n_past > 0) {
    Backend& be = cache_backend();
    try {
      for (const auto& buf : caches_) {
        be.write(TensorRef{buf.get(), 0}, r.p, n_past * row);
        r.p += n_past * row;
      }
    } catch (...) {
      // Part of the cache was overwritten: what the session held is gone, so it starts empty.
      n_past_ = 0;
      history_.clear();
      logits_.clear();
      all_logits_.clear();
      throw;
    }
  }
  n_past_ = n_past;
  history_ = std::move(history);
  logits_ = std::move(logits);
  all_logits_.clear();
}

void Session::save_state_file(const std::string& path) {
  const std::vector<uint8_t> bytes = save_state();
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void Session::load_state_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(Status::Io, "{}: cannot open: {}", path, std::strerror(errno));
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(Status::Io, "{}: cannot read: {}", path, std::strerror(errno));
  try {
    load_state(bytes);
  } catch (const Error& e) {
    throw Error(e.status(), path + ": " + e.what());
  }
}

}  // namespace bluecl
