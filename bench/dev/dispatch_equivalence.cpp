// Dev check: the rule-table heuristic (src/dispatch/heuristic.cpp) picks what the cost-based heuristic
// it replaced (dispatch.cpp at ee74984, restated below as old_pick) picked, for every weight and
// activation type over a grid of shapes, token counts and group sizes. With a device index the decode
// entries plan on that GPU (as linear() does); -1 plans without it (as explain() without a device).
// Build (links the package's core library; see tools/gpu_check.sh step `equiv`):
//   c++ -std=c++17 -O2 -Isrc -I<build>/generated -I$CUDA/include bench/dev/dispatch_equivalence.cpp \
//       <build>/libmixgemm_core.a -L$CUDA/lib64 -lcudart_static -ldl -lpthread -lrt -o /tmp/equiv
// Run: /tmp/equiv <device or -1> [sm_count]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "catalog/entry.h"
#include "dispatch/dispatch.h"
#include "kernels/decode/splits.h"

using namespace mixgemm;

namespace old {

bool is(const char* a, const char* b) { return std::string(a) == b; }

double decode_stage_walk(int tile_m, const GemmProblem& p, int sm_count) {
  const int64_t tiles = (p.m + tile_m - 1) / tile_m;
  if (tiles <= 0 || p.k < decode::kStageK || sm_count <= 0) return 0.0;
  const double load = std::max(1, tile_m / 128);
  const decode::SplitPlan plan = decode::plan_splits(tiles, p.k, sm_count, 0, nullptr, decode::SplitKernel{tile_m, 0, load});
  return decode::split_cost(plan, tiles, sm_count, decode::SplitKernel{tile_m, tile_m == 256 ? 2 : 3, load});
}

const KernelEntry* decode_tile(const GemmProblem& p, int tile_m, int tile_n) {
  for (size_t i = 0; i < catalog_size(); ++i) {
    const KernelEntry& e = catalog_entries()[i];
    if (e.weight == p.weight && e.act == p.act && is(e.family, "decode") && is(e.mma, "wgmma") && e.tile_m == tile_m &&
        e.tile_n == tile_n && e.ops->stage_walk)
      return &e;
  }
  return nullptr;
}

bool prefer_64_rows(const GemmProblem& p, int tile_n, int sm_count, int device) {
  if (double(p.m) * double(p.k) >= 100.0e6) return false;
  const KernelEntry* rows64 = decode_tile(p, 64, tile_n);
  const KernelEntry* rows128 = decode_tile(p, 128, tile_n);
  if (!rows64 || !rows128) return false;
  const int64_t walk64 = rows64->ops->stage_walk(p, sm_count, device);
  const int64_t walk128 = rows128->ops->stage_walk(p, sm_count, device);
  return walk64 > 0 && walk128 > 0 && double(walk64) <= 1.3 * double(walk128);
}

double heuristic_cost(const KernelEntry& e, const GemmProblem& p, int sm_count, int device) {
  const double elements = double(p.m) * double(p.k);
  if (is(e.family, "decode")) {
    const bool wgmma = is(e.mma, "wgmma");
    const bool rows64 =
        wgmma && e.tile_n >= 32 && e.tile_m <= 128 && p.n <= 64 && prefer_64_rows(p, e.tile_n, sm_count, device);
    const bool preferred = e.tile_m == 64 ? rows64
                           : (e.tile_n <= 16 || (e.tile_n == 32 && wgmma) ||
                              (e.tile_n >= 48 && wgmma && elements < 80.0e6 && p.n <= 64)) &&
                                 !(e.tile_m == 128 && rows64);
    const bool walk = wgmma || (e.tile_n < 16 && e.weight != WeightType::S8);
    const bool wide_rows = walk ? decode_stage_walk(256, p, sm_count) < decode_stage_walk(128, p, sm_count)
                                : elements >= (e.tile_n <= 16 ? 80.0e6 : 48.0e6);
    const bool tile_fits = (e.tile_m == 256) == wide_rows;
    return (preferred ? 1.0 : 1.0e6) + (tile_fits ? 0.0 : 0.5) + e.tile_n / 64.0;
  }
  const double n = double(std::max<int64_t>(p.n, 1));
  const double tiles_m = std::ceil(double(p.m) / e.tile_m);
  const double tiles_n = std::ceil(n / e.tile_n);
  const double padded_n = tiles_n * e.tile_n;
  const double rows128 = tiles_m * (e.tile_m / 128.0);
  const double mma_cols = rows128 * padded_n;
  const double weight_rereads = rows128 * tiles_n;
  const double waves = std::ceil(tiles_m * tiles_n / std::max(sm_count, 1));
  const double wide_rows = e.tile_m != 256 ? 0.0 : elements >= 80.0e6 ? -0.25 : 1.0e3;
  return mma_cols / 64.0 + weight_rereads + 0.5 * waves + wide_rows;
}

// The old pick: the lowest score among the entries that can run the problem (catalog order on ties).
const KernelEntry* pick(const GemmProblem& p, int sm_count, int device) {
  if (!validate_problem(p).empty()) return nullptr;
  const KernelEntry* best = nullptr;
  double best_score = 0;
  for (size_t i = 0; i < catalog_size(); ++i) {
    const KernelEntry& e = catalog_entries()[i];
    if (e.weight != p.weight || e.act != p.act || !e.ops->check(p).empty()) continue;
    const double s = heuristic_cost(e, p, sm_count, device);
    if (!best || s < best_score) best = &e, best_score = s;
  }
  return best;
}

}  // namespace old

int main(int argc, char** argv) {
  const int device = argc > 1 ? std::atoi(argv[1]) : -1;
  int sm_count = argc > 2 ? std::atoi(argv[2]) : 132;
  if (device >= 0) {
    if (cudaSetDevice(device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
      std::fprintf(stderr, "no CUDA device %d\n", device);
      return 2;
    }
  }
  // The bench layers, then more shapes: small and odd layers, MoE-sized experts, and the largest.
  const int64_t shapes[][2] = {{3584, 8192},  {6144, 4096},  {4096, 4096},  {28672, 4096}, {4096, 14336},
                               {10240, 8192}, {8192, 8192},  {57344, 8192}, {8192, 28672}, {16, 64},
                               {128, 4096},   {2048, 4096},  {5120, 5120},  {5120, 13824}, {13824, 5120},
                               {15360, 5120}, {768, 2048},   {2048, 768},   {2880, 2880},  {5760, 2880},
                               {14336, 4096}, {4096, 1024},  {106496, 16384}, {16384, 53248}, {1024, 65536}};
  const int64_t tokens[] = {1, 2, 3, 4, 7, 8, 9, 12, 16, 17, 24, 31, 32, 33, 40, 47, 48, 49, 56, 63, 64,
                            65, 72, 96, 128, 192, 256, 512, 1024, 4096, 8192};
  const WeightType weights[] = {WeightType::S4, WeightType::U4, WeightType::S8};
  const ActType acts[] = {ActType::F16, ActType::BF16};
  long cells = 0, differ = 0;
  for (auto& sh : shapes)
    for (int64_t g : {int64_t(32), int64_t(64), int64_t(128), sh[1]})
      for (WeightType w : weights)
        for (ActType a : acts)
          for (int64_t n : tokens) {
            GemmProblem p;
            p.m = sh[0], p.k = sh[1], p.n = n, p.group_size = g, p.weight = w, p.act = a;
            if (p.k % g) continue;
            const KernelEntry* want = old::pick(p, sm_count, device);
            const Selection got = select_kernel(p, sm_count, "", device);
            ++cells;
            if (want != got.entry) {
              ++differ;
              std::printf("DIFF M=%lld K=%lld N=%lld g=%lld %s/%s: old %s, new %s (%s)\n", (long long)p.m,
                          (long long)p.k, (long long)n, (long long)g, weight_type_name(w), act_type_name(a),
                          want ? want->name : "none", got.entry ? got.entry->name : "none", got.reason.c_str());
            }
          }
  std::printf("%ld picks (device %d, %d SMs, %zu entries): %ld differ\n", cells, device, sm_count, catalog_size(),
              differ);
  return differ ? 1 : 0;
}
