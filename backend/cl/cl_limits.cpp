// OpenCL device limits with the kernels of cl_kernels/limits.cl, timed by event profiling on a queue of
// their own.
#include "backend/cl/cl_backend.h"
#include "backend/cl/cl_calls.h"
#include "backend/cl/cl_error.h"
#include "backend/cl/cl_runtime.h"
#include "backend/limits.h"

#include <algorithm>

namespace bluecl {

namespace {

double kernel_seconds(cl::CommandQueue& q, cl::Kernel& k, size_t global, int reps, size_t local = 0) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    cl::Event ev;
    cl_enqueue_kernel(q, k, cl::NDRange(global), local ? cl::NDRange(local) : cl::NullRange, &ev);
    ev.wait();
    const double ns =
        ev.getProfilingInfo<CL_PROFILING_COMMAND_END>() - ev.getProfilingInfo<CL_PROFILING_COMMAND_START>();
    best = std::min(best, ns * 1e-9);
  }
  return best;
}

}  // namespace

Limits measure_cl_limits(ClBackend& cl, size_t bytes) {
  ClRuntime& rt = cl.runtime();
  return cl_guard("measuring device limits", [&] {
    Limits l;
    l.device = rt.features.device_name;
    bytes = std::min<size_t>(bytes, rt.features.max_alloc_bytes / 2) / 4096 * 4096;
    const cl_ulong n4 = bytes / 16;
    cl::CommandQueue q(rt.ctx, rt.device, CL_QUEUE_PROFILING_ENABLE);
    cl::Buffer x = cl_create_buffer(rt.ctx, CL_MEM_READ_WRITE, bytes);
    cl::Buffer y = cl_create_buffer(rt.ctx, CL_MEM_READ_WRITE, bytes);
    q.enqueueFillBuffer(x, 1.0f, 0, bytes);
    q.enqueueFillBuffer(y, 0.0f, 0, bytes);
    const size_t items = std::max<size_t>(rt.features.compute_units, 1) * (rt.features.is_cpu ? 4 : 2048);
    cl::Buffer out = cl_create_buffer(rt.ctx, CL_MEM_READ_WRITE, items * sizeof(float));
    const cl_ulong chunk = n4 / items;

    cl::Kernel rc = rt.kernel(ClProgram::Limits, {}, "read_chunked").k;
    kernel_args(rc, x, chunk, out);
    cl::Kernel rs = rt.kernel(ClProgram::Limits, {}, "read_strided").k;
    kernel_args(rs, x, n4, out);
    // Chunked kernels: one work-item per group, so the groups spread over the compute units.
    l.read_gbps = std::max(chunk * items * 16 / kernel_seconds(q, rc, items, 3, 1),
                           n4 * 16 / kernel_seconds(q, rs, items, 3)) /
                  1e9;

    cl::Kernel cc = rt.kernel(ClProgram::Limits, {}, "copy_chunked").k;
    kernel_args(cc, x, y, chunk);
    cl::Kernel cs = rt.kernel(ClProgram::Limits, {}, "copy_strided").k;
    kernel_args(cs, x, y, n4);
    l.copy_gbps = std::max(2.0 * chunk * items * 16 / kernel_seconds(q, cc, items, 3, 1),
                           2.0 * n4 * 16 / kernel_seconds(q, cs, items, 3)) /
                  1e9;

    const cl_int iters = 4096;
    const size_t fma_items =
        std::max<size_t>(rt.features.compute_units, 1) * (rt.features.is_cpu ? 256 : 16384);
    cl::Buffer fout = cl_create_buffer(rt.ctx, CL_MEM_READ_WRITE, fma_items * sizeof(float));
    cl::Kernel f = rt.kernel(ClProgram::Limits, {}, "fma_peak").k;
    kernel_args(f, fout, iters, 0.999f, 0.001f);
    l.fma_gflops = 2.0 * 8 * 8 * iters * fma_items / kernel_seconds(q, f, fma_items, 2) / 1e9;
    return l;
  });
}

}  // namespace bluecl
