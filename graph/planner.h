// Activation memory planning: every intermediate gets an offset in one arena per device; tensors whose
// lifetimes do not overlap share bytes. Lifetimes come from node order (a tensor lives from the node that
// writes it to the last node that reads it or any view of it); outputs live to the end.
#pragma once

#include "graph/graph.h"

#include <cstddef>
#include <functional>
#include <vector>

namespace bluecl {

struct MemoryPlan {
  std::vector<size_t> offset;  // per tensor id; SIZE_MAX where the tensor has no arena memory
  size_t arena_bytes = 0;      // peak: the arena size needed
  size_t naive_bytes = 0;      // what one buffer per tensor would take
};

// Plans the intermediates for which `include(id)` is true (default: all). Offsets are multiples of
// `alignment`.
MemoryPlan plan_memory(const Graph& g, size_t alignment,
                       const std::function<bool(TensorId)>& include = nullptr);

}  // namespace bluecl
