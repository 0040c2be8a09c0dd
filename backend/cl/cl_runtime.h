// What the OpenCL op launchers share: context, queue, device features, programs, kernels, and the
// layout of re-laid-out weights. One ClRuntime (and its ClBackend) is used by one thread at a time;
// clSetKernelArg on a shared cl::Kernel is not thread-safe.
#pragma once

#include "backend/cl/cl_device.h"
#include "backend/cl/cl_programs.h"
#include "backend/cl/cl_tuning.h"
#include "graph/dtype.h"
#include "graph/op.h"

#include <CL/opencl.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <unordered_map>
#include <vector>

namespace bluecl {

// Where the parts of a re-laid-out quantised matrix [N, K] live inside its buffer:
//   Q4_0: quants [N][K/2] bytes (each 32-weight block's 16 bytes as in GGUF), then fp16 scales [N][K/32]
//   Q8_0: quants [N][K] int8, then fp16 scales [N][K/32]
//   F32/F16: the plain row-major matrix at offset 0.
struct ClWeightLayout {
  size_t quant_offset = 0;
  size_t scale_offset = 0;
  size_t total_bytes = 0;
};
ClWeightLayout cl_weight_layout(DType t, int64_t rows, int64_t cols);

// A kernel built for one (program, kernel name, defines), with what each launch needs kept beside it so
// that a launch does no lookup: the work-group size already checked against the device, and the text
// that names it in errors and in the launch log.
struct ClKernel {
  cl::Kernel k;
  size_t fitted_items = 0;  // work-items per group that check_fits accepted (0: none yet)
  std::string name;         // "matmul.cl:matmul -DWTYPE=3 -DTM=4 ..."
};

class ClRuntime {
 public:
  ClRuntime(const ClDeviceInfo& dev, bool profiling);

  cl::Context ctx;
  cl::Device device;
  cl::CommandQueue queue;
  DeviceFeatures features;
  ClPrograms programs;

  // The kernel `name` (a string literal) of program p built with `defines`; created once and reused. The
  // lookup compares and hashes integers only (the name by its address: the same name spelled in two
  // places may get two entries, which is harmless).
  ClKernel& kernel(ClProgram p, const ClDefines& defines, const char* name);

  // Enqueues a kernel over `global` (rounded up to `local` where given) and records its event when
  // profiling is on. The first launch of each kernel with a given work-group (the dry one of
  // ClBackend::prepare, as a rule) checks it against what the built kernel allows on this device
  // (CL_KERNEL_WORK_GROUP_SIZE, work-item sizes, local memory against the device profile's limit) and
  // throws a Status::Device error that names the kernel, so an op that cannot run is declined at prepare
  // instead of failing with CL_INVALID_WORK_GROUP_SIZE or CL_OUT_OF_RESOURCES during generation.
  void launch(ClKernel& k, const cl::NDRange& global, const cl::NDRange& local = cl::NullRange);

  // A device buffer of at least `bytes` for a kernel's intermediate results (split attention's partial
  // sums). Grow-only and shared by every op: the in-order queue runs one op's kernels before the next
  // op's, so a launcher may use it between its own launches and no longer.
  const cl::Buffer& scratch(size_t bytes);

  // The kernel variant an op uses: a forced choice (tests, BLUECL_CL_VARIANT="op=variant,...") wins over
  // `preferred`, which the op picks from the device's features and its tuned launch.
  ClVariant variant(OpKind op, ClVariant preferred) const {
    const ClVariant f = forced_[static_cast<size_t>(op)];
    return f == ClVariant::Default ? preferred : f;
  }
  // Forces a variant by name ("matmul", "tiled"); an empty variant goes back to the preferred one. An
  // unknown op or variant name throws Status::InvalidArgument.
  void force_variant(std::string_view op, std::string_view variant);

  // The tuned launch for `key`, or null: the op then uses its defaults. Loaded from the device's tuning
  // file (ClTuning) at construction; the tuner edits `tuning` in place.
  const ClLaunch* tuned(ClTuningKey key) const { return tuning.find(key); }
  ClTuning tuning;
  std::string tuning_file;  // where `tuning` was read from ("" when no file was used)

  // The least precise arithmetic a launch used since the last reset (fp16 or 8-bit variants set it), so
  // that checks can apply the threshold of what actually ran.
  enum class Precision : uint8_t { Fp32, Fp16, Int8 };
  Precision precision_used = Precision::Fp32;
  void used(Precision p) { precision_used = std::max(precision_used, p); }

  // When non-null, every launch appends its event here (benchmarks time kernels this way).
  std::vector<cl::Event>* events = nullptr;
  // When non-null, every launch appends what ran: "matmul.cl:matmul -DTM=4 -DWTYPE=3 [16x7/16x1]" (the
  // program, the kernel, its -D defines, global/local size). The op test prints it per case.
  std::vector<std::string>* launch_log = nullptr;
  bool profiling = false;
  bool dry = false;       // launch() does nothing (ClBackend::prepare compiles kernels this way)
  uint64_t launches = 0;  // kernels enqueued (not the dry launches), for launch counts per token

 private:
  struct KernelKey {
    ClProgram program;
    const char* name;
    ClDefines defines;
    bool operator==(const KernelKey&) const = default;
  };
  struct KernelKeyHash {
    size_t operator()(const KernelKey& k) const {
      return k.defines.hash() ^ std::hash<const void*>{}(k.name) ^ (static_cast<size_t>(k.program) << 48);
    }
  };
  std::unordered_map<KernelKey, ClKernel, KernelKeyHash> kernels_;  // nodes: references stay valid
  void check_fits(ClKernel& k, const cl::NDRange& local);
  cl::Buffer scratch_;
  size_t scratch_bytes_ = 0;
  std::array<ClVariant, kNumOps> forced_{};  // per OpKind; Default: not forced
};

// Sets kernel arguments in order: kernel_args(k, buf, off, n, ...).
template <typename... Args>
void kernel_args(cl::Kernel& k, const Args&... args) {
  cl_uint i = 0;
  (k.setArg(i++, args), ...);
}
template <typename... Args>
void kernel_args(ClKernel& k, const Args&... args) {
  kernel_args(k.k, args...);
}

// Sets kernel arguments first, first + 1, ... (the rest of a list begun by kernel_args).
template <typename... Args>
void kernel_args_from(ClKernel& k, cl_uint first, const Args&... args) {
  cl_uint i = first;
  (k.k.setArg(i++, args), ...);
}

inline size_t round_up(size_t n, size_t m) {
  return (n + m - 1) / m * m;
}

}  // namespace bluecl
