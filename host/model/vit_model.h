// A vision tower loaded from an mmproj GGUF file (spec model-format.md, "The vision file"):
// general.architecture "clip" with clip.projector_type "bluelm_v". Hyper-parameters come from the clip.*
// keys with the documented defaults (layer_norm_epsilon 1e-6, image_mean/std 0.5, downsample_column_major
// false, max_grid 4, max_tiles 8, projection_dim from the projector's weights); every tensor is checked
// for presence, shape and type before anything runs: norms, biases and the position embedding must be
// f32, matrices f32, f16 or q8_0. A file that breaks these rules throws BadFile or Unsupported naming the
// key or tensor.
#pragma once

#include "graph/vit.h"
#include "host/gguf/gguf.h"
#include "host/image/grid.h"
#include "host/image/tiles.h"

#include <array>
#include <memory>
#include <string>

namespace bluecl {

class VitModel {
 public:
  static std::unique_ptr<VitModel> load(const std::string& path);

  const VitHParams& hparams() const { return hp_; }
  const VitWeights& weights() const { return w_; }
  const GgufFile& file() const { return *file_; }

  // Preprocessing the file asks for: tile size and normalisation, grid limits for dynamic resolution.
  TileOptions tile_options() const;
  GridOptions grid_options() const;
  const std::array<float, 3>& image_mean() const { return mean_; }
  const std::array<float, 3>& image_std() const { return std_; }
  int max_grid() const { return max_grid_; }
  int max_tiles() const { return max_tiles_; }

  size_t weight_bytes() const;  // bytes of every tensor the graph uses
  // Every weight handle (for release from devices once the image is encoded).
  std::vector<const WeightRef*> all_weights() const;

 private:
  std::unique_ptr<GgufFile> file_;
  VitHParams hp_;
  VitWeights w_;
  std::array<float, 3> mean_{0.5f, 0.5f, 0.5f}, std_{0.5f, 0.5f, 0.5f};
  int max_grid_ = 4, max_tiles_ = 8;
};

}  // namespace bluecl
