#include "backend/cl/cl_calls.h"

#include "graph/base/error.h"
#include "graph/base/log.h"
#include "graph/base/parse.h"

#include <atomic>
#include <mutex>
#include <string>

namespace bluecl {

namespace {

enum class ClCall : int { Enqueue, Map, Read, Write, Alloc, Finish };
constexpr std::string_view kKinds = "enqueue|map|read|write|alloc|finish";

// The armed kind (-1: none) and how many calls of it are left before the one that fails.
std::atomic<int> g_kind{-1};
std::atomic<int64_t> g_left{0};

// Throws the injected error when this call is the armed one. The texts are literals: cl::Error keeps
// the pointer.
void fault_point(ClCall c) {
  if (g_kind.load(std::memory_order_relaxed) != static_cast<int>(c)) return;
  if (g_left.fetch_sub(1) != 1) return;
  int expected = static_cast<int>(c);
  if (!g_kind.compare_exchange_strong(expected, -1)) return;  // disarmed or re-armed meanwhile
  switch (c) {
    case ClCall::Enqueue:
      throw cl::Error(CL_OUT_OF_RESOURCES, "clEnqueueNDRangeKernel (a fault injected by BLUECL_FAULT)");
    case ClCall::Map:
      throw cl::Error(CL_MAP_FAILURE, "clEnqueueMapBuffer (a fault injected by BLUECL_FAULT)");
    case ClCall::Read:
      throw cl::Error(CL_OUT_OF_RESOURCES, "clEnqueueReadBuffer (a fault injected by BLUECL_FAULT)");
    case ClCall::Write:
      throw cl::Error(CL_OUT_OF_RESOURCES, "clEnqueueWriteBuffer (a fault injected by BLUECL_FAULT)");
    case ClCall::Alloc:
      throw cl::Error(CL_MEM_OBJECT_ALLOCATION_FAILURE, "clCreateBuffer (a fault injected by BLUECL_FAULT)");
    case ClCall::Finish:
      throw cl::Error(CL_OUT_OF_RESOURCES, "clFinish (a fault injected by BLUECL_FAULT)");
  }
}

void arm(std::string_view what, std::string_view spec) {
  if (spec.empty() || spec == "off") {
    g_kind = -1;
    return;
  }
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos)
    fail(Status::InvalidArgument, "{}: '{}' is not <kind>:<count> (kinds {})", what, spec, kKinds);
  const int kind = parse_choice(fmt::format("{} kind", what), spec.substr(0, colon), kKinds);
  const int64_t n = parse_int(fmt::format("{} count", what), spec.substr(colon + 1), 1, 1000000000);
  g_kind = -1;
  g_left = n;
  g_kind = kind;
}

}  // namespace

cl::Buffer cl_create_buffer(const cl::Context& ctx, cl_mem_flags flags, size_t bytes) {
  fault_point(ClCall::Alloc);
  return cl::Buffer(ctx, flags, bytes);
}

void cl_enqueue_kernel(const cl::CommandQueue& q, const cl::Kernel& k, const cl::NDRange& global,
                       const cl::NDRange& local, cl::Event* event) {
  fault_point(ClCall::Enqueue);
  q.enqueueNDRangeKernel(k, cl::NullRange, global, local, nullptr, event);
}

void cl_read(const cl::CommandQueue& q, const cl::Buffer& b, size_t offset, size_t bytes, void* dst) {
  fault_point(ClCall::Read);
  q.enqueueReadBuffer(b, CL_TRUE, offset, bytes, dst);
}

void cl_write(const cl::CommandQueue& q, const cl::Buffer& b, size_t offset, size_t bytes, const void* src) {
  fault_point(ClCall::Write);
  q.enqueueWriteBuffer(b, CL_TRUE, offset, bytes, src);
}

void* cl_map(const cl::CommandQueue& q, const cl::Buffer& b, cl_map_flags flags, size_t offset,
             size_t bytes) {
  fault_point(ClCall::Map);
  return q.enqueueMapBuffer(b, CL_TRUE, flags, offset, bytes);
}

void cl_finish(const cl::CommandQueue& q) {
  fault_point(ClCall::Finish);
  q.finish();
}

void cl_fault_set(std::string_view spec) {
  arm("cl_fault_set", spec);
}

bool cl_fault_armed() {
  return g_kind.load() >= 0;
}

int64_t cl_fault_remaining() {
  return g_kind.load() >= 0 ? g_left.load() : 0;
}

void cl_fault_from_env() {
  static std::mutex mu;
  static bool read = false;
  std::lock_guard lock(mu);
  if (read) return;
  if (const auto v = env_text("BLUECL_FAULT")) {
    arm("BLUECL_FAULT", *v);
    log(LogLevel::Warn, "cl", "BLUECL_FAULT={}: an OpenCL call will fail on purpose (a test setting)", *v);
  }
  read = true;
}

}  // namespace bluecl
