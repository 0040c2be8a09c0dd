// Weight handles the model graphs are built from: what the graph needs to know about a weight (type,
// shape, host bytes, name), independent of where the bytes came from.
#pragma once

#include "graph/graph.h"

#include <string>

namespace bluecl {

struct WeightRef {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  const void* data = nullptr;
  explicit operator bool() const { return data != nullptr; }
  Tensor add_to(Graph& g) const { return g.weight(name, dtype, shape, data); }
};

}  // namespace bluecl
