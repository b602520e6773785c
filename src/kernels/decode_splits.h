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

// Split count (cluster size along K). Every split adds a cluster-wide reduction and a wait for the
// slowest CTA of the cluster, so do not split when the row tiles alone give every SM a CTA; else
// split until there are about 1.5 CTAs per SM (measured on the H100: 70b.gate_up N=16, 224 tiles,
// 96 us unsplit vs 107-178 us split 3-8 ways; 70b.down, 32 tiles, best at 6-7 splits).
inline int choose_splits(int64_t tiles, int64_t k, int sm_count) {
  const int64_t kst = k / kStageK;
  if (tiles >= sm_count) return 1;
  int64_t s = (3 * int64_t(sm_count) + 2 * tiles - 1) / (2 * tiles);
  s = std::min<int64_t>(s, kMaxSplits);
  while (s > 1 && kst / s < 2) --s;
  return int(std::max<int64_t>(s, 1));
}

// requested <= 0: choose_splits, lowered while the row tiles' clusters would not all be resident at
// once (cluster_capacity[s]: how many clusters of s CTAs the kernel fits on the device at once, as
// cudaOccupancyMaxActiveClusters reports it; null: not known). A second wave of clusters costs more than
// the split it saves: 64-token kernel at two CTAs per SM on the H100, 8b.qkv (48 row tiles; 47 clusters
// of 5 fit) 21.9 us with 5 splits, 15.8 with 4; 8b.o (32 tiles; 30 clusters of 8 fit) 17.3 with 8,
// 12.9 with 7 (dev harness mode splits64). The stages are dealt in equal chunks, so the split count is
// what the chunks need (e.g. 7 requested over 8 stages: chunks of 2, 4 splits).
struct SplitPlan {
  int splits;
  int64_t stages_per_cta;
};
inline SplitPlan plan_splits(int64_t tiles, int64_t k, int sm_count, int requested = 0,
                             const int* cluster_capacity = nullptr) {
  const int64_t kst = std::max<int64_t>(k / kStageK, 1);
  int64_t s = requested > 0 ? requested : choose_splits(tiles, k, sm_count);
  if (requested <= 0 && cluster_capacity != nullptr)
    while (s > 1 && cluster_capacity[s] < tiles) --s;
  const int64_t chunk = (kst + s - 1) / s;
  return SplitPlan{int((kst + chunk - 1) / chunk), chunk};
}

}  // namespace decode
}  // namespace mixgemm
