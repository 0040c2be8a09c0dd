// The OpenCL calls the backend makes while it loads and runs graphs, each through one wrapper, so that
// tests can make any of them fail: BLUECL_FAULT=<kind>:<N> (test-only) makes the Nth call of that kind
// fail once with an OpenCL error, as a driver would in the middle of prefill, decode or an image encode.
//
//   kind      call                      error injected
//   enqueue   clEnqueueNDRangeKernel    CL_OUT_OF_RESOURCES
//   map       clEnqueueMapBuffer        CL_MAP_FAILURE
//   read      clEnqueueReadBuffer       CL_OUT_OF_RESOURCES
//   write     clEnqueueWriteBuffer      CL_OUT_OF_RESOURCES
//   alloc     clCreateBuffer            CL_MEM_OBJECT_ALLOCATION_FAILURE
//   finish    clFinish                  CL_OUT_OF_RESOURCES
//
// The variable is read when the first OpenCL runtime of the process is created (a backend); calls are
// counted from then, over every backend of the process. A bad value is a Status::InvalidArgument error
// from that creation, naming the variable. cl_fault_set arms a fault from a test (counted from that call).
// The failure is a cl::Error as the driver's own would be, so every caller handles it on its normal path;
// its text says the fault was injected.
#pragma once

#include <CL/opencl.hpp>

#include <string_view>

namespace bluecl {

cl::Buffer cl_create_buffer(const cl::Context& ctx, cl_mem_flags flags, size_t bytes);
void cl_enqueue_kernel(const cl::CommandQueue& q, const cl::Kernel& k, const cl::NDRange& global,
                       const cl::NDRange& local, cl::Event* event = nullptr);
void cl_read(const cl::CommandQueue& q, const cl::Buffer& b, size_t offset, size_t bytes, void* dst);
void cl_write(const cl::CommandQueue& q, const cl::Buffer& b, size_t offset, size_t bytes, const void* src);
void* cl_map(const cl::CommandQueue& q, const cl::Buffer& b, cl_map_flags flags, size_t offset, size_t bytes);
void cl_finish(const cl::CommandQueue& q);

// Test-only. Arms a fault: "<kind>:<N>" as BLUECL_FAULT, counted from now (replacing any armed one); ""
// or "off" disarms. Throws Status::InvalidArgument for anything else.
void cl_fault_set(std::string_view spec);
// Whether an armed fault has not fired yet, and how many calls of its kind are left until it does (the
// failing one included; 0 when none is armed). Arming a large count and reading what is left after a
// step tells a test how many calls of a kind that step makes.
bool cl_fault_armed();
int64_t cl_fault_remaining();
// Reads BLUECL_FAULT once per process (ClRuntime's constructor calls it); throws for a bad value, and
// again on the next call until a value parses.
void cl_fault_from_env();

}  // namespace bluecl
