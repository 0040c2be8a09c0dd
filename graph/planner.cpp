#include "graph/planner.h"

#include "graph/base/error.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <map>

namespace bluecl {

namespace {
size_t align_up(size_t n, size_t a) {
  return (n + a - 1) / a * a;
}
}  // namespace

MemoryPlan plan_memory(const Graph& g, size_t alignment, const std::function<bool(TensorId)>& include) {
  const auto& tensors = g.tensors();
  const auto& nodes = g.nodes();
  const int n_nodes = static_cast<int>(nodes.size());
  MemoryPlan plan;
  plan.offset.assign(tensors.size(), SIZE_MAX);

  // Lifetime [first, last] in node indices for each planned tensor.
  std::vector<int> first(tensors.size(), INT_MAX), last(tensors.size(), -1);
  for (size_t t = 0; t < tensors.size(); ++t) {
    const TensorInfo& ti = tensors[t];
    if (ti.kind != TensorKind::Intermediate) continue;
    if (include && !include(static_cast<TensorId>(t))) continue;
    first[t] = last[t] = ti.producer;
    if (ti.output) last[t] = n_nodes;
  }
  for (int i = 0; i < n_nodes; ++i) {
    for (int s = 0; s < nodes[i].n_src; ++s) {
      const TensorId b = g.base_of(nodes[i].src[s]);
      if (first[b] != INT_MAX) last[b] = std::max(last[b], i);
    }
  }

  // Walk the nodes in order; at each node allocate what it produces (best fit in the free list), then
  // free what dies there. Freed blocks merge with their neighbours.
  std::map<size_t, size_t> free_blocks;  // offset -> size
  size_t top = 0;
  std::vector<std::vector<TensorId>> dies_at(n_nodes + 1);
  for (size_t t = 0; t < tensors.size(); ++t)
    if (first[t] != INT_MAX) dies_at[last[t]].push_back(static_cast<TensorId>(t));

  auto release = [&](size_t off, size_t size) {
    auto it = free_blocks.emplace(off, size).first;
    if (auto next = std::next(it); next != free_blocks.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_blocks.erase(next);
    }
    if (it != free_blocks.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_blocks.erase(it);
      }
    }
  };

  for (int i = 0; i < n_nodes; ++i) {
    const TensorId t = nodes[i].out;
    if (first[t] == i) {
      const size_t size = align_up(std::max<size_t>(tensors[t].bytes(), 1), alignment);
      plan.naive_bytes += size;
      auto best = free_blocks.end();
      for (auto it = free_blocks.begin(); it != free_blocks.end(); ++it)
        if (it->second >= size && (best == free_blocks.end() || it->second < best->second)) best = it;
      if (best != free_blocks.end()) {
        plan.offset[t] = best->first;
        const size_t rest = best->second - size, rest_off = best->first + size;
        free_blocks.erase(best);
        if (rest) free_blocks.emplace(rest_off, rest);
      } else if (!free_blocks.empty() &&
                 std::prev(free_blocks.end())->first + std::prev(free_blocks.end())->second == top) {
        // Grow the arena from the free block at its end.
        auto tail = std::prev(free_blocks.end());
        plan.offset[t] = tail->first;
        top = tail->first + size;
        free_blocks.erase(tail);
      } else {
        plan.offset[t] = top;
        top += size;
      }
    }
    for (TensorId d : dies_at[i])
      release(plan.offset[d], align_up(std::max<size_t>(tensors[d].bytes(), 1), alignment));
  }
  plan.arena_bytes = top;
  return plan;
}

}  // namespace bluecl
