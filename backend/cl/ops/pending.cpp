// TEMPORARY: ops whose kernels are not written yet decline, so they run on the CPU. Removed as each lands.
#include "backend/cl/ops/ops.h"

namespace bluecl::clops {
#define PENDING(stem)                                                                                \
  Support supports_##stem(const ClRuntime&, const Graph&, const Node&) { return Support::no("pending"); } \
  void stem(const OpArgs&) { fail(Status::Internal, "pending"); }
PENDING(layer_norm)
PENDING(rope)
PENDING(softmax)
PENDING(attention)
PENDING(get_rows)
PENDING(copy)
PENDING(kv_write)
PENDING(im2col)
PENDING(concat)
PENDING(downsample)
}  // namespace bluecl::clops
