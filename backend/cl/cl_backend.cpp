#include "backend/cl/cl_backend.h"

#include "backend/cl/cl_calls.h"
#include "backend/cl/cl_error.h"
#include "backend/cl/cl_runtime.h"
#include "backend/cl/ops/ops.h"
#include "graph/base/log.h"
#include "graph/base/parse.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace bluecl {

// Device memory held by a backend's buffers.
struct ClMemoryUsage {
  std::atomic<size_t> now{0}, peak{0};
  void add(size_t n) {
    const size_t v = now += n;
    size_t p = peak.load();
    while (v > p && !peak.compare_exchange_weak(p, v)) {
    }
  }
};

class ClBuffer final : public DeviceBuffer {
 public:
  ClBuffer(cl::Buffer b, size_t n, std::shared_ptr<ClMemoryUsage> usage)
      : buf_(std::move(b)), size_(n), usage_(std::move(usage)) {
    usage_->add(n);
  }
  ~ClBuffer() override { usage_->now -= size_; }
  size_t size() const override { return size_; }
  const cl::Buffer& buf() const { return buf_; }

 private:
  cl::Buffer buf_;
  size_t size_;
  std::shared_ptr<ClMemoryUsage> usage_;
};

// A weight split by rows across several buffers, each part laid out as a matrix of its own (see
// ClWeightLayout): the parts of a weight larger than the device's largest allocation.
class ClSplitWeight final : public DeviceBuffer {
 public:
  int64_t rows_per_part = 0;
  std::vector<std::unique_ptr<ClBuffer>> parts;
  size_t size() const override {
    size_t n = 0;
    for (const auto& p : parts) n += p->size();
    return n;
  }
};

namespace {

const ClBuffer& cl_buf(TensorRef r) {
  auto* b = dynamic_cast<const ClBuffer*>(r.buffer);
  BLUECL_ASSERT(b != nullptr, "tensor ref is not an OpenCL buffer");
  return *b;
}

const ClSplitWeight* split_of(TensorRef r) {
  return dynamic_cast<const ClSplitWeight*>(r.buffer);
}

// Splits n_blocks quantised GGUF blocks into their quants and fp16 scales (see ClWeightLayout), writing
// straight to `quants` and `scales` (a mapped buffer or a staging chunk).
void relayout_blocks(DType t, const void* blocks, int64_t n_blocks, uint8_t* quants, uint8_t* scales) {
  if (t == DType::Q4_0) {
    const auto* b = static_cast<const BlockQ4_0*>(blocks);
    for (int64_t i = 0; i < n_blocks; ++i) {
      std::memcpy(scales + i * 2, &b[i].d, 2);
      std::memcpy(quants + i * 16, b[i].qs, 16);
    }
  } else {
    const auto* b = static_cast<const BlockQ8_0*>(blocks);
    for (int64_t i = 0; i < n_blocks; ++i) {
      std::memcpy(scales + i * 2, &b[i].d, 2);
      std::memcpy(quants + i * 32, b[i].qs, 32);
    }
  }
}

// Rows [row0, row0 + rows) of weight w as they are in the file (GGUF rows hold whole blocks).
const uint8_t* host_rows(const TensorInfo& w, int64_t row0) {
  return static_cast<const uint8_t*>(w.data) +
         static_cast<size_t>(row0) * dtype_bytes(w.dtype, w.shape.last());
}

}  // namespace

struct ClBackend::Weights {
  mutable std::mutex mu;
  std::unordered_map<const void*, std::unique_ptr<DeviceBuffer>> bufs;  // a ClBuffer or a ClSplitWeight
  size_t bytes = 0;
};

ClBackend::ClBackend(const ClDeviceInfo& dev, const ClBackendOptions& opts)
    : rt_(std::make_unique<ClRuntime>(dev, opts.profiling)),
      index_(dev.index),
      declined_(kNumOps),
      weights_(std::make_unique<Weights>()),
      usage_(std::make_shared<ClMemoryUsage>()) {
  memory_limit_ = opts.memory_limit;
  if (auto v = env_bytes("BLUECL_DEVICE_MEMORY_LIMIT", 1, UINT64_MAX)) memory_limit_ = *v;
  weight_alloc_limit_ = rt_->features.max_alloc_bytes;
  size_t lower = opts.max_weight_alloc;
  if (auto v = env_bytes("BLUECL_MAX_ALLOC", 1, UINT64_MAX)) lower = *v;
  if (lower > 0) weight_alloc_limit_ = std::min<size_t>(weight_alloc_limit_, lower);
  std::string decline = opts.decline;
  if (const char* env = std::getenv("BLUECL_DECLINE")) decline += std::string(",") + env;
  std::stringstream ss(decline);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    bool found = false;
    for (int k = 0; k < kNumOps; ++k)
      if (op_name(static_cast<OpKind>(k)) == item) {
        declined_[k] = "declined on request (BLUECL_DECLINE)";
        found = true;
      }
    if (!found) log(LogLevel::Warn, "cl", "BLUECL_DECLINE: no op named '{}'", item);
  }
}

ClBackend::~ClBackend() = default;

bool ClBackend::has_weight(const void* host_data) const {
  std::lock_guard lock(weights_->mu);
  return weights_->bufs.count(host_data) != 0;
}

const DeviceFeatures& ClBackend::features() const {
  return rt_->features;
}
size_t ClBackend::allocated_bytes() const {
  return usage_->now;
}
size_t ClBackend::peak_allocated_bytes() const {
  return usage_->peak;
}

std::string ClBackend::name() const {
  return fmt::format("cl{} ({})", index_, rt_->features.device_name);
}

size_t ClBackend::alignment() const {
  return std::max<size_t>(rt_->features.base_align_bytes, 64);
}

Support ClBackend::supports(const Graph& g, const Node& n) const {
  if (n.kind == OpKind::Count_) return Support::no("unknown op");
  if (!declined_[static_cast<int>(n.kind)].empty()) return Support::no(declined_[static_cast<int>(n.kind)]);
  // Every tensor the node touches must fit one allocation, but the weight of a matmul and the table of
  // get_rows, which are split by rows across buffers when they do not.
  for (int i = 0; i < n.n_src; ++i) {
    const TensorInfo& t = g.info(n.src[i]);
    const TensorInfo& base = g.info(g.base_of(n.src[i]));
    if (base.kind == TensorKind::Weight) {
      const int64_t per = rows_per_part(base);
      if (per >= base.shape.rows()) continue;
      const bool splits =
          &t == &base && t.shape.rank == 2 &&
          ((op_info(n.kind).work == WorkRule::Linear && i >= 1) || (n.kind == OpKind::GetRows && i == 0));
      if (per > 0 && splits) continue;
      const size_t bytes = cl_weight_layout(base.dtype, base.shape.rows(), base.shape.last()).total_bytes;
      return Support::no(fmt::format("{} needs {}, over the {} allocation limit, and {}", base.name,
                                     format_bytes(bytes), format_bytes(weight_alloc_limit_),
                                     per > 0
                                         ? "only matmul and get_rows split a weight (matmul: every linear op)"
                                         : "one row does not fit"));
    }
    if (t.bytes() > rt_->features.max_alloc_bytes)
      return Support::no(fmt::format("{} needs {}, over the device's {} allocation limit", t.name,
                                     format_bytes(t.bytes()), format_bytes(rt_->features.max_alloc_bytes)));
  }
  const ClRuntime& rt = *rt_;
  switch (n.kind) {
#define BLUECL_OP(Kind, stem, ...) \
  case OpKind::Kind:               \
    return clops::supports_##stem(rt, g, n);
#include "graph/ops.def"
#define BLUECL_OP(...)
#define BLUECL_PSEUDO_OP(Kind, ...) case OpKind::Kind:
#include "graph/ops.def"
    return Support::no("a pseudo-op (transfer): the executor runs it");
    case OpKind::Count_:
      break;
  }
  return Support::no("unknown op");
}

std::unique_ptr<DeviceBuffer> ClBackend::alloc(size_t bytes, std::string_view what) {
  return alloc_buffer(bytes, what, CL_MEM_READ_WRITE);
}

std::unique_ptr<ClBuffer> ClBackend::alloc_buffer(size_t bytes, std::string_view what, cl_mem_flags flags) {
  if (bytes > rt_->features.max_alloc_bytes)
    fail(Status::OutOfMemory, "{} needs {} in one buffer, over {}'s limit of {}", what, format_bytes(bytes),
         rt_->features.device_name, format_bytes(rt_->features.max_alloc_bytes));
  if (memory_limit_ && usage_->now + bytes > memory_limit_)
    fail(Status::OutOfMemory, "{} needs {} more, over the memory limit of {} on {}", what,
         format_bytes(bytes), format_bytes(memory_limit_), rt_->features.device_name);
  cl::Buffer b = cl_guard(fmt::format("allocating {} bytes for {}", bytes, what),
                          [&] { return cl_create_buffer(rt_->ctx, flags, std::max<size_t>(bytes, 4)); });
  return std::make_unique<ClBuffer>(std::move(b), bytes, usage_);
}

void ClBackend::write(TensorRef dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  cl_guard("writing a buffer", [&] { cl_write(rt_->queue, cl_buf(dst).buf(), dst.offset, bytes, src); });
}

void ClBackend::read(TensorRef src, void* dst, size_t bytes) {
  if (bytes == 0) return;
  cl_guard("reading a buffer", [&] { cl_read(rt_->queue, cl_buf(src).buf(), src.offset, bytes, dst); });
}

void ClBackend::fill(TensorRef dst, uint8_t byte, size_t bytes) {
  if (bytes == 0) return;
  cl_guard("filling a buffer", [&] {
    rt_->queue.enqueueFillBuffer(cl_buf(dst).buf(), static_cast<cl_uchar>(byte), dst.offset, bytes);
  });
}

int64_t ClBackend::rows_per_part(const TensorInfo& w) const {
  const int64_t rows = w.shape.rows(), cols = w.shape.last();
  auto bytes = [&](int64_t r) { return cl_weight_layout(w.dtype, r, cols).total_bytes; };
  if (rows <= 0 || bytes(rows) <= weight_alloc_limit_) return rows;
  // Parts of a multiple of 64 rows where that fits, so each part's outputs start on an aligned offset.
  int64_t per = static_cast<int64_t>(weight_alloc_limit_ / std::max<size_t>(1, bytes(rows) / rows));
  if (per >= 64) per = per / 64 * 64;
  while (per > 0 && bytes(per) > weight_alloc_limit_) per -= per > 64 ? 64 : 1;
  return per;
}

std::unique_ptr<ClBuffer> ClBackend::upload(const TensorInfo& w, int64_t row0, int64_t rows) {
  const int64_t cols = w.shape.last();
  const ClWeightLayout l = cl_weight_layout(w.dtype, rows, cols);
  const bool quant = dtype_info(w.dtype).quantised;
  const int64_t n_blocks = quant ? rows * cols / kQK : 0;
  const uint8_t* src = host_rows(w, row0);
  const cl::CommandQueue& q = rt_->queue;
  if (rt_->features.unified_memory) {
    // The device reads host memory: the buffer is host memory the driver allocates, filled through a map
    // (re-laid-out in place, no staging copy), so the weight is resident once.
    auto buf = alloc_buffer(l.total_bytes, w.name, CL_MEM_READ_ONLY | CL_MEM_ALLOC_HOST_PTR);
    cl_guard(fmt::format("filling {} through a map", w.name), [&] {
      auto* p =
          static_cast<uint8_t*>(cl_map(q, buf->buf(), CL_MAP_WRITE_INVALIDATE_REGION, 0, l.total_bytes));
      if (quant)
        relayout_blocks(w.dtype, src, n_blocks, p + l.quant_offset, p + l.scale_offset);
      else
        std::memcpy(p, src, l.total_bytes);
      q.enqueueUnmapMemObject(buf->buf(), p);
    });
    return buf;
  }
  // A device of its own memory: a plain buffer written from the file's mapping, quantised weights through
  // a bounded staging chunk.
  auto buf = alloc_buffer(l.total_bytes, w.name, CL_MEM_READ_ONLY);
  cl_guard(fmt::format("writing {}", w.name), [&] {
    if (!quant) return cl_write(q, buf->buf(), 0, l.total_bytes, src);
    const size_t qb = w.dtype == DType::Q4_0 ? 16 : 32;
    const size_t block = w.dtype == DType::Q4_0 ? sizeof(BlockQ4_0) : sizeof(BlockQ8_0);
    constexpr int64_t kChunk = 1 << 16;  // blocks: 1-2 MiB of quants
    std::vector<uint8_t> quants(std::min(n_blocks, kChunk) * qb), scales(std::min(n_blocks, kChunk) * 2);
    for (int64_t i = 0; i < n_blocks; i += kChunk) {
      const int64_t n = std::min(kChunk, n_blocks - i);
      relayout_blocks(w.dtype, src + i * block, n, quants.data(), scales.data());
      cl_write(q, buf->buf(), l.quant_offset + i * qb, n * qb, quants.data());
      cl_write(q, buf->buf(), l.scale_offset + i * 2, n * 2, scales.data());
    }
  });
  return buf;
}

TensorRef ClBackend::weight(const TensorInfo& w) {
  std::lock_guard lock(weights_->mu);
  if (auto it = weights_->bufs.find(w.data); it != weights_->bufs.end())
    return TensorRef{it->second.get(), 0};
  const int64_t rows = w.shape.rows(), per = rows_per_part(w);
  if (per <= 0)
    fail(Status::OutOfMemory, "{}: one row needs more than the {} allocation limit of {}", w.name,
         format_bytes(weight_alloc_limit_), rt_->features.device_name);
  std::unique_ptr<DeviceBuffer> entry;  // on a throw (out of memory) nothing is recorded
  if (per >= rows) {
    entry = upload(w, 0, rows);
  } else {
    auto split = std::make_unique<ClSplitWeight>();
    split->rows_per_part = per;
    for (int64_t r0 = 0; r0 < rows; r0 += per)
      split->parts.push_back(upload(w, r0, std::min(per, rows - r0)));
    log(LogLevel::Info, "cl", "{}: {} rows over the {} allocation limit, split into {} buffers of {} rows",
        w.name, rows, format_bytes(weight_alloc_limit_), split->parts.size(), per);
    entry = std::move(split);
  }
  weights_->bytes += entry->size();
  DeviceBuffer* b = entry.get();
  weights_->bufs.emplace(w.data, std::move(entry));
  return TensorRef{b, 0};
}

void ClBackend::release_weight(const void* host_data) {
  std::lock_guard lock(weights_->mu);
  auto it = weights_->bufs.find(host_data);
  if (it == weights_->bufs.end()) return;
  weights_->bytes -= it->second->size();
  weights_->bufs.erase(it);
}

size_t ClBackend::weight_bytes() const {
  return weights_->bytes;
}

namespace {
// The op's launcher (generated from graph/ops.def).
void launch_op(const clops::OpArgs& a) {
  switch (a.n.kind) {
#define BLUECL_OP(Kind, stem, ...) \
  case OpKind::Kind:               \
    return clops::stem(a);
#define BLUECL_PSEUDO_OP(Kind, ...) case OpKind::Kind:
#include "graph/ops.def"
    case OpKind::Count_:
      break;
  }
  fail(Status::Internal, "the OpenCL backend cannot run {}", op_name(a.n.kind));
}
}  // namespace

void ClBackend::run(const Graph& g, const Node& n, std::span<const TensorRef> src, TensorRef dst,
                    const Step& step) {
  clops::OpArgs a{*rt_, g, n, step, {}, {}};
  for (int i = 0; i < n.n_src; ++i)
    if (!split_of(src[i])) a.src[i] = {&cl_buf(src[i]).buf(), src[i].offset};
  a.dst = {&cl_buf(dst).buf(), dst.offset};
  const std::string_view op = op_name(n.kind);
  try {
    if (op_info(n.kind).work == WorkRule::Linear && split_of(src[1])) return linear_split(a, src);
    if (n.kind == OpKind::GetRows && split_of(src[0])) return get_rows_split(a, *split_of(src[0]));
    for (int i = 0; i < n.n_src; ++i) BLUECL_ASSERT(!split_of(src[i]), "{} reads a split weight", op);
    launch_op(a);
  } catch (const cl::Error& e) {
    throw_cl_error(e.err(), e.what(), fmt::format("running {} ({})", op, g.info(n.out).name));
  }
}

const cl::Buffer& ClBackend::scratch(std::unique_ptr<DeviceBuffer>& s, size_t bytes, std::string_view what) {
  // Grown during prepare (the dry run asks for the same sizes), so runs do not allocate. A replaced
  // buffer lives on in the driver until the commands that use it are done.
  if (!s || s->size() < bytes) s = alloc(bytes, what);
  return static_cast<ClBuffer&>(*s).buf();
}

void ClBackend::linear_split(clops::OpArgs a, std::span<const TensorRef> src) {
  // A linear op (matmul, swiglu) whose weight matrices are split alike (same shape and type): y[:, r0:r0+n]
  // = op(x, W_p, ...) for each part p, a vector input (bias) from its element r0. One row of x writes each
  // part's outputs in place; more rows go through a scratch [M, n] and a rectangle copy into y's columns.
  const ClSplitWeight& w = *split_of(src[1]);
  const TensorInfo& wi = a.g.info(a.n.src[1]);
  BLUECL_ASSERT(a.out().dtype == DType::F32, "{} output {}", op_name(a.n.kind), dtype_name(a.out().dtype));
  const auto M = static_cast<size_t>(a.in(0).shape.rows()), N = static_cast<size_t>(wi.shape[0]);
  const size_t per = static_cast<size_t>(w.rows_per_part);
  const std::array<clops::Mem, 4> whole = a.src;
  const clops::Mem dst = a.dst;
  std::array<TensorInfo, 4> part_info;
  const cl::Buffer* tmp =
      M > 1 ? &scratch(scratch_, M * per * sizeof(float), "split weight outputs") : nullptr;
  for (size_t p = 0; p < w.parts.size(); ++p) {
    const size_t r0 = p * per, np = std::min(per, N - r0);
    for (int i = 1; i < a.n.n_src; ++i) {
      const TensorInfo& ti = a.g.info(a.n.src[i]);
      if (const ClSplitWeight* s = split_of(src[i])) {
        BLUECL_ASSERT(s->rows_per_part == w.rows_per_part && s->parts.size() == w.parts.size(),
                      "{}: weights split unlike", op_name(a.n.kind));
        part_info[i] = ti;
        part_info[i].shape = Shape{static_cast<int64_t>(np), ti.shape[1]};
        a.src_info[i] = &part_info[i];
        a.src[i] = {&s->parts[p]->buf(), 0};
      } else {
        BLUECL_ASSERT(static_cast<size_t>(ti.shape.numel()) == N,
                      "{}: input {} {} is neither split nor a vector", op_name(a.n.kind), i, ti.shape.str());
        a.src[i] = {whole[i].buf, whole[i].off + r0 * dtype_bytes(ti.dtype, 1)};
      }
    }
    a.dst = tmp ? clops::Mem{tmp, 0} : clops::Mem{dst.buf, dst.off + r0 * sizeof(float)};
    launch_op(a);
    if (tmp && !rt_->dry)
      rt_->queue.enqueueCopyBufferRect(*tmp, *dst.buf, {0, 0, 0}, {dst.off + r0 * sizeof(float), 0, 0},
                                       {np * sizeof(float), M, 1}, np * sizeof(float), 0, N * sizeof(float),
                                       0);
  }
}

void ClBackend::get_rows_split(clops::OpArgs a, const ClSplitWeight& w) {
  // The row ids are read back (the kernel cannot tell parts apart), each becomes an id inside its part,
  // and each run of consecutive outputs from one part is one get_rows launch on that part.
  const TensorInfo& ti = a.g.info(a.n.src[0]);
  const TensorInfo& ii = a.g.info(a.n.src[1]);
  const int64_t rows = ti.shape[0], D = ti.shape[1], n = ii.shape[0], per = w.rows_per_part;
  if (n == 0) return;
  std::vector<int32_t> ids(static_cast<size_t>(n), 0);
  if (!rt_->dry) cl_read(rt_->queue, *a.src[1].buf, a.src[1].off, ids.size() * 4, ids.data());
  std::vector<size_t> part(ids.size());
  for (size_t r = 0; r < ids.size(); ++r) {
    const int64_t id = std::clamp<int64_t>(ids[r], 0, rows - 1);  // as get_rows.cl clamps
    part[r] = static_cast<size_t>(id / per);
    ids[r] = static_cast<int32_t>(id - static_cast<int64_t>(part[r]) * per);
  }
  const cl::Buffer& local = scratch(scratch_ids_, ids.size() * 4, "split get_rows ids");
  if (!rt_->dry) cl_write(rt_->queue, local, 0, ids.size() * 4, ids.data());
  const clops::Mem dst = a.dst;
  for (size_t r = 0; r < part.size();) {
    size_t e = r + 1;
    while (e < part.size() && part[e] == part[r]) ++e;
    TensorInfo tp = ti, ip = ii;
    tp.shape = Shape{std::min<int64_t>(per, rows - static_cast<int64_t>(part[r]) * per), D};
    ip.shape = Shape{static_cast<int64_t>(e - r)};
    a.src_info[0] = &tp;
    a.src_info[1] = &ip;
    a.src[0] = {&w.parts[part[r]]->buf(), 0};
    a.src[1] = {&local, r * 4};
    a.dst = {dst.buf, dst.off + r * static_cast<size_t>(D) * sizeof(float)};
    clops::get_rows(a);
    r = e;
  }
}

void ClBackend::prepare(const Graph& g, const Node& n, std::span<const TensorRef> src, TensorRef dst) {
  // A dry run: the op selects and builds its kernels and sets their arguments, but nothing is enqueued.
  rt_->dry = true;
  try {
    run(g, n, src, dst, Step{});
  } catch (...) {
    rt_->dry = false;
    throw;
  }
  rt_->dry = false;
}

void ClBackend::sync() {
  cl_guard("waiting for the queue", [&] { cl_finish(rt_->queue); });
}

}  // namespace bluecl
