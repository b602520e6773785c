// The decode family's split-K plan (host only): how many CTAs of a cluster share a row tile's K, and
// how many 64-column stages each walks. The launcher uses it, and so does the dispatch heuristic's
// cost model (a CTA walks its stages one after another, so stages per CTA set a small layer's time).
#pragma once

#include <algorithm>
#include <cstdint>

namespace mixgemm {
namespace decode {

constexpr int kMaxSplits = 8;   // portable cluster size
constexpr int kStageK = 64;     // K columns per pipeline stage (K is a multiple of 64)

// How many 64-column stages each CTA of a row tile walks, for `splits` CTAs sharing its K. The stages
// are dealt in equal chunks, so the split count is what the chunks need (e.g. 7 over 8 stages: chunks
// of 2, 4 splits).
struct SplitPlan {
  int splits;
  int64_t stages_per_cta;
};
inline SplitPlan chunked_plan(int64_t stages, int64_t splits) {
  const int64_t chunk = (stages + splits - 1) / splits;
  return SplitPlan{int((stages + chunk - 1) / chunk), chunk};
}

// The split-count cost model, fitted to the dev harness's mode `splits` (H100, seventh session,
// bench/NOTES.md "Split counts"): a layer takes about (fixed cost) + (stages per CTA) x (the time of one
// stage on the busiest SM).
//  - The busiest SM: cluster placement left 8 of the H100's 132 SMs empty at every grid measured
//    (192-320 CTAs) and loaded the others unevenly, so the CTAs are taken as spread over 7/8 of the
//    SMs, rounded up (e.g. 256 CTAs: 16 SMs held three).
//  - A stage's time against the busiest SM's load (its CTAs x their tile rows / 128), in units of a
//    lone 128-row CTA's stage (0.27 us): a CTA's own chain sets the pace (1 for 128 rows, 1.53 for 256)
//    until the SM's share of HBM does. Measured per stage (fixed cost ~3.9 us taken off): load 2 /
//    3: 0.36 / 0.51 us (128-row tiles, 2 / 3 CTAs on the busiest SM), load 4 / 6: 0.70 / 1.0-1.2 us
//    (256-row tiles, 2 / 3 CTAs).
//  - ctas_per_sm > 0 (the dispatcher's estimate for a grid that may not fit at once): the waves of
//    CTAs, and at most that many on an SM.
inline int64_t busiest_sm_ctas(int64_t ctas, int sm_count) {
  const int64_t usable = std::max<int64_t>(1, sm_count - sm_count / 8);
  return (ctas + usable - 1) / usable;
}
inline double stage_time(int64_t load, int tile_rows) {
  static constexpr double kByLoad[] = {1.0, 1.0, 1.36, 1.92, 2.64, 3.55, 4.5};
  const double shared = load <= 6 ? kByLoad[std::max<int64_t>(load, 0)] : kByLoad[6] + 0.95 * double(load - 6);
  const double chain = 1.0 + 0.53 * (std::max(1, tile_rows / 128) - 1);
  return std::max(chain, shared);
}
inline double split_cost(const SplitPlan& plan, int64_t tiles, int tile_rows, int sm_count, int ctas_per_sm = 0) {
  const int64_t ctas = tiles * plan.splits;
  int64_t busiest = busiest_sm_ctas(ctas, sm_count), waves = 1;
  if (ctas_per_sm > 0) {
    busiest = std::min<int64_t>(busiest, ctas_per_sm);
    waves = (ctas + int64_t(sm_count) * ctas_per_sm - 1) / (int64_t(sm_count) * ctas_per_sm);
  }
  return double(waves) * double(plan.stages_per_cta) * stage_time(busiest * std::max(1, tile_rows / 128), tile_rows);
}

// requested > 0: that split count (chunked). Else the cheapest plan by split_cost, fewer splits on a
// tie, among those that
//  - leave each CTA at least two stages;
//  - keep the grid within 2.5 CTAs per SM (beyond, every measured grid was 10-60% slower);
//  - fit in one wave: cluster_capacity[s] (how many clusters of s CTAs the kernel fits on the device
//    at once, as cudaOccupancyMaxActiveClusters reports it; null: not known) at least the row tiles.
//    A second wave costs more than the split it saves: 64-token kernel, 8b.qkv (48 row tiles; 47
//    clusters of 5 fit) 21.9 us with 5 splits, 15.8 with 4 (dev harness mode splits64).
// - max_ctas > 0: at most that many CTAs (int8's two-group kernels, 8 and 16 tokens, pass the SM count:
//   there, two CTAs on one SM stream no faster than one, decode_entry.cuh).
// No split when the row tiles of 128 or more rows alone give every SM a CTA (70b.gate_up N=16, 224
// tiles: 96 us unsplit vs 107-178 us split 3-8 ways).
// Measured against the rule it replaces (about 1.5 CTAs per SM), 16 tokens, us: 70b.qkv 25.5 -> 20.2
// (4 splits, not 3), 70b.o 19.4 -> 17.5 (5, not 4), 8b.qkv 10.3 -> 9.2 (4, not 5).
inline SplitPlan plan_splits(int64_t tiles, int64_t k, int sm_count, int requested = 0,
                             const int* cluster_capacity = nullptr, int tile_rows = 128, int64_t max_ctas = 0) {
  const int64_t kst = std::max<int64_t>(k / kStageK, 1);
  if (requested > 0) return chunked_plan(kst, requested);
  SplitPlan best = chunked_plan(kst, 1);
  // 64-row tiles (three CTAs per SM) still split when their tiles alone fill the SMs: 70b.qkv at 64
  // tokens, 160 tiles, 46.6 us unsplit against 32.0 at 2 splits (dev harness mode n64wide, DEV_ROWS64).
  if (tiles >= sm_count && tile_rows >= 128) return best;
  double best_cost = split_cost(best, tiles, tile_rows, sm_count);
  for (int s = 2; s <= kMaxSplits; ++s) {
    if (kst / s < 2 || tiles * s > int64_t(5) * sm_count / 2 || (max_ctas > 0 && tiles * s > max_ctas)) break;
    const SplitPlan plan = chunked_plan(kst, s);
    if (cluster_capacity != nullptr && cluster_capacity[plan.splits] < tiles) continue;
    const double cost = split_cost(plan, tiles, tile_rows, sm_count);
    if (cost < best_cost) best = plan, best_cost = cost;
  }
  return best;
}

}  // namespace decode
}  // namespace mixgemm
