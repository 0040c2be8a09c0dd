// Helpers prepended to every program in cl_kernels/. Build options select variants:
//   HAS_FP16      the device has cl_khr_fp16 (half arithmetic)
//   HAS_SUBGROUPS the device has cl_khr_subgroups or cl_intel_subgroups
// Buffers are passed as (pointer, byte offset) pairs; PTR() applies the offset.
#define PTR(T, p, off) ((__global T*)((__global char*)(p) + (off)))
#define CPTR(T, p, off) ((__global const T*)((__global const char*)(p) + (off)))
