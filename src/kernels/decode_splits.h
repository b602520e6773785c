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

// requested <= 0: choose_splits. The stages are dealt in equal chunks, so the split count is what the
// chunks need (e.g. 7 requested over 8 stages: chunks of 2, 4 splits).
struct SplitPlan {
  int splits;
  int64_t stages_per_cta;
};
inline SplitPlan plan_splits(int64_t tiles, int64_t k, int sm_count, int requested = 0) {
  const int64_t kst = std::max<int64_t>(k / kStageK, 1);
  const int64_t s = requested > 0 ? requested : choose_splits(tiles, k, sm_count);
  const int64_t chunk = (kst + s - 1) / s;
  return SplitPlan{int((kst + chunk - 1) / chunk), chunk};
}

}  // namespace decode
}  // namespace mixgemm
