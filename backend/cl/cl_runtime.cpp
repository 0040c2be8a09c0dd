#include "backend/cl/cl_runtime.h"

#include "backend/cl/cl_calls.h"
#include "backend/cl/cl_error.h"

#include "graph/base/error.h"
#include "graph/base/log.h"
#include "graph/base/parse.h"

#include <cstdlib>
#include <cstring>

namespace bluecl {

ClWeightLayout cl_weight_layout(DType t, int64_t rows, int64_t cols) {
  constexpr size_t kAlign = 256;
  ClWeightLayout l;
  const size_t n = static_cast<size_t>(rows) * cols;
  switch (t) {
    case DType::F32:
    case DType::F16:
    case DType::I32:
      l.total_bytes = dtype_bytes(t, rows * cols);
      return l;
    case DType::Q4_0:
      l.scale_offset = round_up(n / 2, kAlign);
      break;
    case DType::Q8_0:
      l.scale_offset = round_up(n, kAlign);
      break;
  }
  l.total_bytes = l.scale_offset + n / kQK * 2;
  return l;
}

ClRuntime::ClRuntime(const ClDeviceInfo& dev, bool profiling_)
    : ctx(cl_guard("creating an OpenCL context", [&] { return cl::Context(dev.device); })),
      device(dev.device),
      queue(cl_guard(
          "creating a command queue",
          [&] { return cl::CommandQueue(ctx, dev.device, profiling_ ? CL_QUEUE_PROFILING_ENABLE : 0); })),
      features(dev.features),
      programs(ctx, dev.device, dev.features),
      profiling(profiling_) {
  cl_fault_from_env();
  // BLUECL_CL_VARIANT="matmul=tiled,rms_norm=wg" forces variants (kernel development and tests).
  if (const char* env = std::getenv("BLUECL_CL_VARIANT")) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      if (const size_t eq = item.find('='); eq != std::string_view::npos) {
        try {
          force_variant(item.substr(0, eq), item.substr(eq + 1));
        } catch (const Error& e) {
          log(LogLevel::Warn, "cl", "BLUECL_CL_VARIANT: {}", e.what());
        }
      }
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  // Launch parameters found by `bluecl tune` for this device and driver; BLUECL_TUNING=off ignores them.
  if (env_choice("BLUECL_TUNING", "on|off").value_or(0) == 0) {
    const std::string path = ClTuning::path_for(features);
    if (!path.empty() && tuning.load(path)) {
      tuning_file = path;
      log(LogLevel::Info, "cl", "tuned launch parameters for {} kernels from {}", tuning.size(), path);
    }
  }
}

void ClRuntime::force_variant(std::string_view op, std::string_view variant) {
  int kind = -1;
  for (int k = 0; k < kNumOps; ++k)
    if (op_name(static_cast<OpKind>(k)) == op) kind = k;
  if (kind < 0) fail(Status::InvalidArgument, "no op named '{}' to force a variant of", op);
  ClVariant v = ClVariant::Default;
  if (!variant.empty()) {
    const std::optional<ClVariant> parsed = parse_variant(variant);
    if (!parsed) fail(Status::InvalidArgument, "no kernel variant named '{}' (for {})", variant, op);
    v = *parsed;
  }
  forced_[static_cast<size_t>(kind)] = v;
}

ClKernel& ClRuntime::kernel(ClProgram p, const ClDefines& defines, const char* name) {
  const KernelKey key{p, name, defines};
  auto it = kernels_.find(key);
  if (it != kernels_.end()) return it->second;
  const cl::Program& prog = programs.get(p, defines);
  const std::string_view stem = cl_program_source(p).stem;
  ClKernel k{cl_guard(fmt::format("creating kernel {} of {}.cl", name, stem),
                      [&] { return cl::Kernel(prog, name); }),
             0, fmt::format("{}.cl:{}{}", stem, name, defines.str())};
  return kernels_.emplace(key, std::move(k)).first->second;
}

const cl::Buffer& ClRuntime::scratch(size_t bytes) {
  if (bytes > scratch_bytes_) {
    const size_t n = bytes;
    scratch_ =
        cl_guard("allocating a scratch buffer", [&] { return cl_create_buffer(ctx, CL_MEM_READ_WRITE, n); });
    scratch_bytes_ = n;
  }
  return scratch_;
}

void ClRuntime::check_fits(ClKernel& k, const cl::NDRange& local) {
  size_t items = 1;
  for (cl_uint i = 0; i < local.dimensions(); ++i) items *= local.get()[i];
  if (k.fitted_items == items) return;
  const char* name = k.name.c_str();
  const size_t kernel_wg = k.k.getWorkGroupInfo<CL_KERNEL_WORK_GROUP_SIZE>(device);
  const cl_ulong local_bytes = k.k.getWorkGroupInfo<CL_KERNEL_LOCAL_MEM_SIZE>(device);
  const size_t wg_limit = std::min(kernel_wg, features.max_work_group_size);
  if (items > wg_limit)
    fail(Status::Device, "kernel {} needs work-groups of {} work-items; here it may have {}", name, items,
         wg_limit);
  const std::vector<size_t> dims = device.getInfo<CL_DEVICE_MAX_WORK_ITEM_SIZES>();
  for (cl_uint i = 0; i < local.dimensions() && i < dims.size(); ++i)
    if (local.get()[i] > dims[i])
      fail(Status::Device, "kernel {} needs {} work-items in dimension {}; here at most {}", name,
           local.get()[i], i, dims[i]);
  if (local_bytes > features.local_mem_bytes)
    fail(Status::Device, "kernel {} needs {} bytes of local memory; here {}", name, local_bytes,
         features.local_mem_bytes);
  k.fitted_items = items;
}

namespace {
std::string dims_text(const cl::NDRange& r) {
  std::string s;
  for (cl_uint i = 0; i < r.dimensions(); ++i) s += fmt::format("{}{}", i ? "x" : "", r.get()[i]);
  return s.empty() ? "auto" : s;
}
}  // namespace

void ClRuntime::launch(ClKernel& k, const cl::NDRange& global, const cl::NDRange& local) {
  if (local.dimensions() > 0) check_fits(k, local);
  if (dry) return;
  cl::NDRange g = global;
  if (local.dimensions() > 0) {
    size_t dims[3] = {1, 1, 1};
    for (cl_uint i = 0; i < global.dimensions(); ++i) dims[i] = round_up(global.get()[i], local.get()[i]);
    g = global.dimensions() == 1   ? cl::NDRange(dims[0])
        : global.dimensions() == 2 ? cl::NDRange(dims[0], dims[1])
                                   : cl::NDRange(dims[0], dims[1], dims[2]);
  }
  ++launches;
  if (events) {
    cl::Event ev;
    cl_enqueue_kernel(queue, k.k, g, local, &ev);
    events->push_back(ev);
  } else {
    cl_enqueue_kernel(queue, k.k, g, local);
  }
  if (launch_log) launch_log->push_back(fmt::format("{} [{}/{}]", k.name, dims_text(g), dims_text(local)));
}

}  // namespace bluecl
