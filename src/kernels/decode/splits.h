// The decode family's split-K plan (host only): how many CTAs of a cluster share a row tile's K, and
// how many 64-column stages each walks. The launcher uses it, and so does the dispatch heuristic's
// cost model (a CTA walks its stages one after another, so stages per CTA set a small layer's time).
#pragma once

#include <algorithm>
#include <cstdint>

#include "dispatch/tuning.h"

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

// Where a clustered grid's CTAs land. The launcher (decode/launcher.cuh) reads it once per device:
// clusters[k][s] is how many clusters of s CTAs the device holds at once when at most k CTAs share an
// SM (cudaOccupancyMaxActiveClusters), for k up to the kernel's own CTAs per SM. The hardware places a
// grid of clusters so that its busiest SM holds the fewest CTAs these capacities allow (every grid
// measured on the H100; e.g. 32 clusters of 4 put two CTAs on 8 SMs, since only 30 fit at one per SM:
// docs/notes/split-plan.md).
struct ClusterCapacity {
  static constexpr int kMaxPerSm = 8;
  int clusters[kMaxPerSm + 1][kMaxSplits + 1] = {};
};

// The kernel's side of a plan.
//  - tile_rows: its row tile;
//  - ctas_per_sm: its occupancy (0: not known);
//  - cta_load: what one CTA weighs on its SM's stage rate, in units of a 4-bit 128-row CTA at up to
//    32 tokens (see stage_time); 256-row tiles weigh 2.
struct SplitKernel {
  int tile_rows = 128;
  int ctas_per_sm = 0;
  double cta_load = 1.0;
};

// The split-count cost model: a layer takes about (fixed cost) + (stages per CTA) x (the time of one
// stage on the busiest SM). The constants are fitted (dispatch/tuning.h; docs/notes/split-plan.md).
//  - The busiest SM: from the device's cluster capacities where known (above). Without them the CTAs
//    are taken as spread over the SMs less tuning::kIdleSmsPerEight in eight, rounded up (large
//    clustered grids leave some SMs empty).
//  - A stage's time against the busiest SM's load (its CTAs x their cta_load), in units of a lone
//    4-bit 128-row CTA's stage: a CTA's own chain sets the pace (1 for 128 rows, 1 + kChainPer128Rows
//    for 256) until the SM's share of HBM and tensor cores does (kStageTimeByLoad, interpolated
//    between its points; the kernels' loads are the catalog's cta_load).
inline int64_t busiest_sm_ctas(int64_t tiles, int splits, int sm_count, const ClusterCapacity* capacity,
                               int ctas_per_sm) {
  if (capacity != nullptr && ctas_per_sm > 0) {
    const int top = std::min(ctas_per_sm, ClusterCapacity::kMaxPerSm);
    for (int k = 1; k <= top; ++k)
      if (capacity->clusters[k][splits] >= tiles) return k;
    return top;   // more than one wave (plan_splits skips such plans)
  }
  const int64_t ctas = tiles * splits;
  const int64_t usable = std::max<int64_t>(1, sm_count - sm_count * tuning::kIdleSmsPerEight / 8);
  const int64_t busiest = (ctas + usable - 1) / usable;
  return ctas_per_sm > 0 ? std::min<int64_t>(busiest, ctas_per_sm) : busiest;
}
inline double stage_time(double load, int tile_rows) {
  constexpr const double* by_load = tuning::kStageTimeByLoad;
  double shared;
  if (load >= 6.0) {
    shared = by_load[6] + tuning::kStageTimePerLoadAbove6 * (load - 6.0);
  } else {
    const int i = int(std::max(load, 0.0));
    shared = by_load[i] + (by_load[i + 1] - by_load[i]) * (std::max(load, 0.0) - i);
  }
  const double chain = 1.0 + tuning::kChainPer128Rows * (std::max(1, tile_rows / 128) - 1);
  return std::max(chain, shared);
}
// How many waves the grid of a plan (tiles x splits CTAs, in clusters of `splits`) runs in: one per
// what the device holds at once, from the cluster capacities at the kernel's CTAs per SM or, without
// them, from its CTA slots; one when ctas_per_sm is not known. The split cost below and the
// dispatcher's stage walk (decode/entry.cuh) both count waves with it.
inline int64_t plan_waves(const SplitPlan& plan, int64_t tiles, int sm_count, int ctas_per_sm,
                          const ClusterCapacity* capacity) {
  if (ctas_per_sm <= 0) return 1;
  const int top = std::min(ctas_per_sm, ClusterCapacity::kMaxPerSm);
  const int64_t fit = capacity != nullptr ? capacity->clusters[top][plan.splits] * int64_t(plan.splits)
                                          : int64_t(sm_count) * ctas_per_sm;
  const int64_t ctas = tiles * plan.splits;
  return fit > 0 ? (ctas + fit - 1) / fit : 1;
}
inline double split_cost(const SplitPlan& plan, int64_t tiles, int sm_count, const SplitKernel& kernel,
                         const ClusterCapacity* capacity = nullptr) {
  const int64_t busiest = busiest_sm_ctas(tiles, plan.splits, sm_count, capacity, kernel.ctas_per_sm);
  const int64_t waves = plan_waves(plan, tiles, sm_count, kernel.ctas_per_sm, capacity);
  return double(waves) * double(plan.stages_per_cta) * stage_time(double(busiest) * kernel.cta_load, kernel.tile_rows);
}

// requested > 0: that split count (chunked). Else the cheapest plan by split_cost, fewer splits on a
// tie, among those that
//  - leave each CTA at least two stages;
//  - keep the grid within tuning::kMaxGridCtasPerSmTimes2 / 2 CTAs per SM (beyond, every grid measured
//    was slower);
//  - fit in one wave: capacity->clusters[ctas_per_sm][s] at least the row tiles (null capacity: not
//    known). A second wave costs more than the split it saves.
// - max_ctas > 0: at most that many CTAs (int8's two-group kernels, 8 and 16 tokens, pass the SM count:
//   there, two CTAs on one SM stream no faster than one: the catalog's one_cta_per_sm).
// No split when the row tiles of 128 or more rows alone give every SM a CTA (splitting then only adds
// the exchange). The measurements behind each rule: docs/notes/split-plan.md.
inline SplitPlan plan_splits(int64_t tiles, int64_t k, int sm_count, int requested = 0,
                             const ClusterCapacity* capacity = nullptr, const SplitKernel& kernel = {},
                             int64_t max_ctas = 0) {
  const int64_t kst = std::max<int64_t>(k / kStageK, 1);
  if (requested > 0) return chunked_plan(kst, requested);
  SplitPlan best = chunked_plan(kst, 1);
  // 64-row tiles (three CTAs per SM) still split when their tiles alone fill the SMs.
  if (tiles >= sm_count && kernel.tile_rows >= 128) return best;
  // Without capacities the costs count no waves and no occupancy cap (a host-only estimate).
  const SplitKernel costed{kernel.tile_rows, capacity != nullptr ? kernel.ctas_per_sm : 0, kernel.cta_load};
  const int top = std::min(std::max(kernel.ctas_per_sm, 1), ClusterCapacity::kMaxPerSm);
  double best_cost = split_cost(best, tiles, sm_count, costed, capacity);
  for (int s = 2; s <= kMaxSplits; ++s) {
    if (kst / s < 2 || tiles * s > int64_t(tuning::kMaxGridCtasPerSmTimes2) * sm_count / 2 || (max_ctas > 0 && tiles * s > max_ctas)) break;
    const SplitPlan plan = chunked_plan(kst, s);
    if (capacity != nullptr && capacity->clusters[top][plan.splits] < tiles) continue;
    const double cost = split_cost(plan, tiles, sm_count, costed, capacity);
    if (cost < best_cost) best = plan, best_cost = cost;
  }
  return best;
}

}  // namespace decode
}  // namespace mixgemm
