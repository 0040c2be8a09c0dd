#include "backend/cl/cl_backend.h"

#include "backend/cl/cl_error.h"
#include "backend/cl/cl_runtime.h"
#include "backend/cl/ops/ops.h"
#include "graph/base/log.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <unordered_map>

namespace bluecl {

namespace {

}  // namespace

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

namespace {

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

const ClBuffer& cl_buf(TensorRef r) {
  auto* b = dynamic_cast<const ClBuffer*>(r.buffer);
  BLUECL_ASSERT(b != nullptr, "tensor ref is not an OpenCL buffer");
  return *b;
}

// Splits a quantised GGUF matrix into its quant and scale arrays (see ClWeightLayout).
std::vector<uint8_t> relayout(const TensorInfo& w, const ClWeightLayout& l) {
  std::vector<uint8_t> out(l.total_bytes);
  const int64_t n_blocks = w.shape.numel() / kQK;
  auto* scales = reinterpret_cast<uint16_t*>(out.data() + l.scale_offset);
  uint8_t* quants = out.data() + l.quant_offset;
  if (w.dtype == DType::Q4_0) {
    const auto* b = static_cast<const BlockQ4_0*>(w.data);
    for (int64_t i = 0; i < n_blocks; ++i) {
      scales[i] = b[i].d;
      std::memcpy(quants + i * 16, b[i].qs, 16);
    }
  } else {
    const auto* b = static_cast<const BlockQ8_0*>(w.data);
    for (int64_t i = 0; i < n_blocks; ++i) {
      scales[i] = b[i].d;
      std::memcpy(quants + i * 32, b[i].qs, 32);
    }
  }
  return out;
}

}  // namespace

struct ClBackend::Weights {
  mutable std::mutex mu;
  std::unordered_map<const void*, std::unique_ptr<ClBuffer>> bufs;
  size_t bytes = 0;
};

ClBackend::ClBackend(const ClDeviceInfo& dev, const ClBackendOptions& opts)
    : rt_(std::make_unique<ClRuntime>(dev, opts.profiling)),
      index_(dev.index),
      declined_(kNumOps),
      weights_(std::make_unique<Weights>()),
      usage_(std::make_shared<ClMemoryUsage>()) {
  memory_limit_ = opts.memory_limit;
  if (const char* env = std::getenv("BLUECL_DEVICE_MEMORY_LIMIT")) memory_limit_ = std::strtoull(env, nullptr, 10);
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

void ClBackend::decline(OpKind kind, std::string reason) { declined_[static_cast<int>(kind)] = std::move(reason); }

bool ClBackend::has_weight(const void* host_data) const {
  std::lock_guard lock(weights_->mu);
  return weights_->bufs.count(host_data) != 0;
}

const DeviceFeatures& ClBackend::features() const { return rt_->features; }
size_t ClBackend::allocated_bytes() const { return usage_->now; }
size_t ClBackend::peak_allocated_bytes() const { return usage_->peak; }

std::string ClBackend::name() const { return fmt::format("cl{} ({})", index_, rt_->features.device_name); }

size_t ClBackend::alignment() const { return std::max<size_t>(rt_->features.base_align_bytes, 64); }

Support ClBackend::supports(const Graph& g, const Node& n) const {
  if (n.kind == OpKind::Count_) return Support::no("unknown op");
  if (!declined_[static_cast<int>(n.kind)].empty()) return Support::no(declined_[static_cast<int>(n.kind)]);
  // Every tensor the node touches must fit one allocation.
  for (int i = 0; i < n.n_src; ++i) {
    const TensorInfo& t = g.info(n.src[i]);
    const size_t bytes = t.kind == TensorKind::Weight && dtype_info(t.dtype).quantised
                             ? cl_weight_layout(t.dtype, t.shape.rows(), t.shape.last()).total_bytes
                             : t.bytes();
    if (bytes > rt_->features.max_alloc_bytes)
      return Support::no(fmt::format("{} needs {} MiB, over the device's {} MiB allocation limit", t.name,
                                     bytes >> 20, rt_->features.max_alloc_bytes >> 20));
  }
  const ClRuntime& rt = *rt_;
  switch (n.kind) {
    case OpKind::MatMul: return clops::supports_matmul(rt, g, n);
    case OpKind::Add: return clops::supports_add(rt, g, n);
    case OpKind::Mul: return clops::supports_mul(rt, g, n);
    case OpKind::Scale: return clops::supports_scale(rt, g, n);
    case OpKind::RmsNorm: return clops::supports_rms_norm(rt, g, n);
    case OpKind::LayerNorm: return clops::supports_layer_norm(rt, g, n);
    case OpKind::Rope: return clops::supports_rope(rt, g, n);
    case OpKind::SoftMax: return clops::supports_softmax(rt, g, n);
    case OpKind::Attention: return clops::supports_attention(rt, g, n);
    case OpKind::SiluMul: return clops::supports_silu_mul(rt, g, n);
    case OpKind::Gelu: return clops::supports_gelu(rt, g, n);
    case OpKind::GetRows: return clops::supports_get_rows(rt, g, n);
    case OpKind::Copy: return clops::supports_copy(rt, g, n);
    case OpKind::KvWrite: return clops::supports_kv_write(rt, g, n);
    case OpKind::Im2Col: return clops::supports_im2col(rt, g, n);
    case OpKind::Concat: return clops::supports_concat(rt, g, n);
    case OpKind::Downsample: return clops::supports_downsample(rt, g, n);
    case OpKind::Transfer: return Support::no("transfers are run by the executor");
    case OpKind::Count_: break;
  }
  return Support::no("unknown op");
}

std::unique_ptr<DeviceBuffer> ClBackend::alloc(size_t bytes, std::string_view what) {
  if (bytes > rt_->features.max_alloc_bytes)
    fail(Status::OutOfMemory, "{} needs {} MiB in one buffer, over {}'s limit of {} MiB", what, bytes >> 20,
         rt_->features.device_name, rt_->features.max_alloc_bytes >> 20);
  if (memory_limit_ && usage_->now + bytes > memory_limit_)
    fail(Status::OutOfMemory, "{} needs {} MiB more, over the memory limit of {} MiB on {}", what, bytes >> 20,
         memory_limit_ >> 20, rt_->features.device_name);
  cl::Buffer b = cl_guard(fmt::format("allocating {} bytes for {}", bytes, what),
                          [&] { return cl::Buffer(rt_->ctx, CL_MEM_READ_WRITE, std::max<size_t>(bytes, 4)); });
  return std::make_unique<ClBuffer>(std::move(b), bytes, usage_);
}

void ClBackend::write(TensorRef dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  cl_guard("writing a buffer", [&] { rt_->queue.enqueueWriteBuffer(cl_buf(dst).buf(), CL_TRUE, dst.offset, bytes, src); });
}

void ClBackend::read(TensorRef src, void* dst, size_t bytes) {
  if (bytes == 0) return;
  cl_guard("reading a buffer", [&] { rt_->queue.enqueueReadBuffer(cl_buf(src).buf(), CL_TRUE, src.offset, bytes, dst); });
}

void ClBackend::fill(TensorRef dst, uint8_t byte, size_t bytes) {
  if (bytes == 0) return;
  cl_guard("filling a buffer", [&] {
    rt_->queue.enqueueFillBuffer(cl_buf(dst).buf(), static_cast<cl_uchar>(byte), dst.offset, bytes);
  });
}

TensorRef ClBackend::weight(const TensorInfo& w) {
  std::lock_guard lock(weights_->mu);
  if (auto it = weights_->bufs.find(w.data); it != weights_->bufs.end()) return TensorRef{it->second.get(), 0};
  const ClWeightLayout l = cl_weight_layout(w.dtype, w.shape.rows(), w.shape.last());
  auto buf = alloc(l.total_bytes, w.name);  // may throw (out of memory): nothing is recorded then
  auto* cb = static_cast<ClBuffer*>(buf.get());
  if (dtype_info(w.dtype).quantised) {
    const std::vector<uint8_t> host = relayout(w, l);
    write(TensorRef{cb, 0}, host.data(), host.size());
  } else {
    write(TensorRef{cb, 0}, w.data, l.total_bytes);
  }
  weights_->bytes += l.total_bytes;
  buf.release();
  return TensorRef{weights_->bufs.emplace(w.data, std::unique_ptr<ClBuffer>(cb)).first->second.get(), 0};
}

void ClBackend::release_weight(const void* host_data) {
  std::lock_guard lock(weights_->mu);
  auto it = weights_->bufs.find(host_data);
  if (it == weights_->bufs.end()) return;
  weights_->bytes -= it->second->size();
  weights_->bufs.erase(it);
}

size_t ClBackend::weight_bytes() const { return weights_->bytes; }

void ClBackend::run(const Graph& g, const Node& n, std::span<const TensorRef> src, TensorRef dst,
                    const Step& step) {
  clops::OpArgs a{*rt_, g, n, step, {}, {}};
  for (int i = 0; i < n.n_src; ++i) a.src[i] = {&cl_buf(src[i]).buf(), src[i].offset};
  a.dst = {&cl_buf(dst).buf(), dst.offset};
  const std::string_view op = op_name(n.kind);
  try {
    switch (n.kind) {
      case OpKind::MatMul: return clops::matmul(a);
      case OpKind::Add: return clops::add(a);
      case OpKind::Mul: return clops::mul(a);
      case OpKind::Scale: return clops::scale(a);
      case OpKind::RmsNorm: return clops::rms_norm(a);
      case OpKind::LayerNorm: return clops::layer_norm(a);
      case OpKind::Rope: return clops::rope(a);
      case OpKind::SoftMax: return clops::softmax(a);
      case OpKind::Attention: return clops::attention(a);
      case OpKind::SiluMul: return clops::silu_mul(a);
      case OpKind::Gelu: return clops::gelu(a);
      case OpKind::GetRows: return clops::get_rows(a);
      case OpKind::Copy: return clops::copy(a);
      case OpKind::KvWrite: return clops::kv_write(a);
      case OpKind::Im2Col: return clops::im2col(a);
      case OpKind::Concat: return clops::concat(a);
      case OpKind::Downsample: return clops::downsample(a);
      case OpKind::Transfer:
      case OpKind::Count_: break;
    }
  } catch (const cl::Error& e) {
    throw_cl_error(e.err(), e.what(), fmt::format("running {} ({})", op, g.info(n.out).name));
  }
  fail(Status::Internal, "the OpenCL backend cannot run {}", op);
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
  cl_guard("waiting for the queue", [&] { rt_->queue.finish(); });
}

}  // namespace bluecl
