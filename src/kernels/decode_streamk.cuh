// Stream-K for the decode family's wgmma kernel on large layers: a grid of exactly as many CTAs as the
// device holds at once, each walking an equal, contiguous share of the (row tile, 64-column stage)
// units, so every SM streams the same number of weight bytes. (With one CTA per row tile, a layer of
// 224 row tiles leaves 92 of the H100's 132 SMs with two tiles and 40 with one.)
//
//  - A CTA's share crosses row tiles: it walks them one after another through one stage ring
//    (produce_stages' ring position), and settles each tile when its share of it is done.
//  - A tile split between CTAs is settled without any CTA waiting for another (nothing can hang):
//    each stores its partial sums in its workspace slot, then counts itself in on the tile's arrival
//    counter; the last to arrive adds every contributor's sums in contributor order (deterministic)
//    and writes y.
//  - Odd CTAs walk their tiles last to first, so the two CTAs sharing a tile work on it at about the
//    same time (both at the start or both at the end of their shares) and its partial sums are read
//    while still in L2.
#pragma once

#include <cstdint>

#include "kernels/decode_gemm.cuh"

namespace mixgemm {
namespace decode {
namespace streamk {

// At most this many CTAs share one tile (the launcher's grid keeps to it): the last to arrive reads
// every share's sums, one after another.
constexpr int kMaxContributors = 8;

// `units` = row tiles x `stages` (stages per tile), dealt in contiguous shares to `ctas` CTAs: CTA c
// walks units [start(c), start(c + 1)).
struct Schedule {
  int64_t units;
  int stages;
  int ctas;
  __host__ __device__ int64_t start(int c) const { return int64_t(c) * units / ctas; }
  __host__ __device__ int owner(int64_t u) const { return int(((u + 1) * ctas - 1) / units); }
  // The partial-sum slot of CTA c's share of tile t: a CTA shares at most its first and its last tile.
  __host__ __device__ int64_t slot(int c, int64_t t) const { return 2 * c + (t == start(c) / stages ? 0 : 1); }
};

// The most CTAs that can share one tile when every share has at least units / ctas units.
inline int64_t max_contributors(int64_t units, int stages, int ctas) {
  const int64_t shortest = units / ctas;
  return shortest <= 0 ? INT64_MAX : 1 + (stages - 1 + shortest - 1) / shortest;
}

// The grid: `capacity` CTAs (what the device holds at once), fewer if shares would get so short that
// more than kMaxContributors CTAs share a tile.
inline int grid_for(int64_t units, int stages, int capacity) {
  int ctas = int(std::min<int64_t>(capacity, units));
  const int64_t shortest = (stages - 1 + (kMaxContributors - 1) - 1) / (kMaxContributors - 1);
  if (shortest > 0) ctas = int(std::min<int64_t>(ctas, std::max<int64_t>(1, units / shortest)));
  return std::max(ctas, 1);
}

// Workspace: the arrival counters (one per tile, 256-byte aligned), then two slots per CTA of
// tile_m x npad fp32 sums.
inline size_t counters_bytes(int64_t tiles) { return size_t((tiles * 4 + 255) / 256 * 256); }
inline size_t workspace_bytes(int64_t tiles, int ctas, int tile_m, int npad) {
  return counters_bytes(tiles) + size_t(2) * ctas * tile_m * npad * 4;
}

// Settle this CTA's share of tile t, whose sums the consumer thread tid (of `threads`) holds in
// sums[kVecs] (any fragment layout: every CTA's thread tid holds the same elements). Returns true when
// sums now holds the tile's whole sum, for the caller to write y: at once when the share is the whole
// tile, else for the last contributor to arrive. `flag`: one shared word. (The caller's kernel passes a
// copy of its accumulators in local memory to a call that is not inlined: inlined, this code raised
// the whole kernel's register count by a third.)
template <int kVecs>
__device__ __forceinline__ bool settle(float4* sums, const Schedule& sch, int me, int64_t t, bool whole,
                                       const Params& p, int tid, int threads, volatile int* flag) {
  if (whole) return true;
  const int64_t slot_vecs = int64_t(kVecs) * threads;
  float4* const slots = reinterpret_cast<float4*>(p.partials);
  float4* mine = slots + sch.slot(me, t) * slot_vecs + tid;
#pragma unroll
  for (int j = 0; j < kVecs; ++j) mine[int64_t(j) * threads] = sums[j];
#ifdef SK_STORE_ONLY
  return false;
#endif
  // Release: the barrier orders every consumer thread's stores before thread 0's count; acquire: its
  // count, then the barrier, before the loads below.
  sm90::named_barrier_sync(threads);
  const int first = sch.owner(t * sch.stages), last = sch.owner(t * sch.stages + sch.stages - 1);
  if (tid == 0) {
    const unsigned before = sm90::atomic_add_acq_rel_gpu(p.tile_arrivals + t, 1u);
    const bool is_last = before == unsigned(last - first);
    if (is_last) p.tile_arrivals[t] = 0;   // ready for the next launch on this workspace
    *flag = is_last;
  }
  sm90::named_barrier_sync(threads);
#ifdef SK_NO_REDUCE
  return false;
#endif
  if (!*flag) return false;
  // The last to arrive: every contributor's sums (its own too, as stored) added in contributor order.
  for (int c = first; c <= last; ++c) {
    const float4* src = slots + sch.slot(c, t) * slot_vecs + tid;
#pragma unroll
    for (int j = 0; j < kVecs; ++j) {
      const float4 v = __ldcg(src + int64_t(j) * threads);
      if (c == first) {
        sums[j] = v;
      } else {
        sums[j].x += v.x, sums[j].y += v.y, sums[j].z += v.z, sums[j].w += v.w;
      }
    }
  }
  return true;
}

}  // namespace streamk
}  // namespace decode
}  // namespace mixgemm
