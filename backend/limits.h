// Measured limits of a device: memory bandwidth (a large read, and a copy counting bytes read plus
// written) and fp32 FMA rate (2 FLOP per FMA). Every speed figure bluecl reports is printed beside them.
#pragma once

#include <string>

namespace bluecl {

class ClBackend;

struct Limits {
  std::string device;
  double read_gbps = 0, copy_gbps = 0, fma_gflops = 0;
};

// The host, with n_threads threads (0: every core), over `bytes` of memory.
Limits measure_host_limits(int n_threads = 0, size_t bytes = size_t{1} << 30);
// An OpenCL device, timed with event profiling (best of both access patterns).
Limits measure_cl_limits(ClBackend& cl, size_t bytes = size_t{1} << 29);

}  // namespace bluecl
