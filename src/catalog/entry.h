// One catalog entry: what a kernel is (generated from src/catalog/catalog.py) and how to run it
// (KernelOps). Kernels and dispatch see only this; bindings see only dispatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <cuda_runtime_api.h>

namespace mixgemm {

enum class WeightType : int { S4 = 0, U4 = 1, S8 = 2 };   // S4/S8 symmetric; U4 carries zero points
enum class ActType : int { F16 = 0, BF16 = 1 };

const char* weight_type_name(WeightType w);   // "s4", "u4", "s8"
const char* act_type_name(ActType a);         // "float16", "bfloat16" (the API's spelling)
// Every kernel's shape rules: the packed layout tiles W in 16x16 blocks (M in 16-row blocks), and every
// kernel steps K by 64 columns (one stage or k-tile of 16-bit activations: 128 bytes).
constexpr int kRowBlock = 16;
constexpr int kKStep = 64;

constexpr int weight_bits(WeightType w) { return w == WeightType::S8 ? 8 : 4; }
constexpr bool weight_has_zero(WeightType w) { return w == WeightType::U4; }

// A problem y[N, M] = x[N, K] @ W[M, K]^T (+ bias[M]) in PyTorch's F.linear convention.
struct GemmProblem {
  int64_t m = 0, n = 0, k = 0;
  int64_t group_size = 0;        // == k for per-channel scales
  WeightType weight = WeightType::S4;
  ActType act = ActType::F16;
  bool has_bias = false;
};

// Device pointers for one call. Layouts are fixed by the packer (see weight_layout.cuh):
// w: packed weights; scales/zeros: [ceil(K/g), M] row-major (M contiguous), zeros already in the
// FMA form z' = -s*z; x: [N, K] row-major; y: [N, M] row-major; bias: [M].
struct GemmArgs {
  GemmProblem problem;
  const void* w = nullptr;
  const void* scales = nullptr;
  const void* zeros = nullptr;
  const void* x = nullptr;
  const void* bias = nullptr;
  void* y = nullptr;
  int device = 0;
  int sm_count = 0;
};

struct KernelOps {
  // Empty string when the kernel can run the problem, otherwise why not (for users and explain()).
  std::string (*check)(const GemmProblem&);
  // Bytes of scratch the launch needs; the caller allocates it in its framework and passes it in.
  size_t (*workspace_size)(const GemmProblem&, int sm_count);
  // Enqueue on `stream`; any workspace state is reset in-stream by the launch itself, so repeated
  // launches and CUDA-graph replays behave like fresh calls. Throws std::runtime_error on failure.
  void (*run)(const GemmArgs&, void* workspace, size_t workspace_bytes, cudaStream_t stream);
  // The decode family only (null elsewhere): the pipeline stages one CTA walks under the launch's own
  // split plan, times the waves of CTAs, for the dispatcher to compare row tiles. device >= 0: with that
  // device's occupancy and cluster capacities (CUDA queries, once per device); device < 0: without them
  // (no CUDA call; every cluster is taken to fit at once).
  int64_t (*stage_walk)(const GemmProblem&, int sm_count, int device) = nullptr;
};

// One catalog entry as generated from src/catalog/catalog.py (its Entry fields, in that order).
struct KernelEntry {
  const char* name;
  const char* family;       // "cutlass" (stock sm90 collective) | "decode" (mixgemm's small-N kernels)
  WeightType weight;
  ActType act;
  int tile_m, tile_n, tile_k;
  const char* mma;          // tensor-core instruction: "wgmma" | "mma.sync"
  int cluster_m;
  const char* scheduler;    // "streamk" (CUTLASS) | "splitk" (decode: split-K over a 1 x splits cluster)
  int stages;               // 0: CUTLASS's builder chooses
  int consumer_warps, row_blocks, consumer_groups, producer_warps;
  const char* pipeline;     // wgmma decode: "stage" | "kblock"; else ""
  bool sum_warp;
  double cta_load;          // decode launch plan: a CTA's weight on its SM's stage rate
  bool one_cta_per_sm;      // decode launch plan: split K only as far as one CTA per SM
  bool any_n;               // runs any N in chunks of tile_n tokens
  const KernelOps* ops;
};

// The generated table (only the entries selected by MIXGEMM_KERNELS at build time).
const KernelEntry* catalog_entries();
size_t catalog_size();

}  // namespace mixgemm
