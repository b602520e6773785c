// The pipeline both decode kernels share (y[N, M] = x[N, K] @ W[M, K]^T for small N, where time is
// bytes of weight streamed from HBM and, once they flow, instructions issued per byte):
//  - Warp-specialised CTA: producer warps move every byte with TMA tensor copies into a ring of
//    shared-memory stages guarded by mbarriers; the consumer warps issue no copy or address
//    instructions, only shared-memory reads, conversion and MMAs.
//  - A stage is 64 K columns and three or four TMA boxes: packed weights [4 K blocks][tile rows/16]
//    [one 16x16 block], activations [N rows padded to the bucket][64] (rows past N arrive as zeros,
//    128-byte swizzled), and the scales (and zero terms) of the two groups the stage can touch.
//  - Split-K over a thread-block cluster along gridDim.y, reduced through distributed shared memory
//    (exchange_and_store): every SM streams weights even when M is small, with no workspace, no
//    atomics, no extra kernel, a deterministic sum order, and nothing a relaunch or graph replay
//    could find in a stale state.
// Here: the producers, the sum warp (sum_g(x) for zero points on the mma.sync kernel) and the exchange.
#pragma once

#include <cstdint>

#include "kernels/decode/convert.cuh"
#include "kernels/decode/layout.cuh"
#include "kernels/decode/probe.cuh"
#include "kernels/sm90_async.cuh"

namespace mixgemm {
namespace decode {

// The producer thread, first thing in the kernel: asks for the tensor maps (their fetch then overlaps
// the barrier set-up and the CTA barrier that follows, instead of delaying the first copies) and
// initialises every barrier; the caller synchronises the CTA after.
template <class G, bool Zero>
__device__ __forceinline__ void prepare_producer(const Maps& maps, uint64_t* full) {
  sm90::prefetch_tensor_map(&maps.w);
  sm90::prefetch_tensor_map(&maps.x);
  sm90::prefetch_tensor_map(&maps.s);
  if constexpr (Zero) sm90::prefetch_tensor_map(&maps.z);
  for (int s = 0; s < G::kStages; ++s) {
    sm90::mbar_init(&full[s], 1);
    sm90::mbar_init(&full[G::kStages + s], G::kConsumerWarps + (G::kSumWarp ? 1 : 0));   // empty
    if constexpr (G::kSumWarp) sm90::mbar_init(&full[2 * G::kStages + s], 32);   // sums_ready: the sum warp's lanes
  }
  sm90::mbar_init(&full[G::kPartialsBarrier], 1);   // thread 0 arrives, announcing the other ranks' bytes
  sm90::fence_barrier_init();
}

// The producer (one thread): claims each free stage in turn, announces its bytes and issues its three
// or four TMA boxes. Weights are read once, so they are marked evict-first in L2.
template <class G, bool Zero, int STAGES, class Probe = NoProbe>
__device__ __forceinline__ void produce_stages(const Maps& maps, const Params& p, unsigned char* pipe, uint64_t* full,
                                               uint64_t* empty, int k0, int nstages, int mb0, int first = 0,
                                               int step = 1) {
  uint64_t policy = 0;
  if constexpr (Probe::kEvictFirst) policy = sm90::l2_evict_first_policy();
  for (int s = first; s < nstages; s += step) {
    const int slot = s % STAGES;
    unsigned char* st = pipe + slot * G::kStageBytes;
    const int ks = k0 + s * kStageK;
    sm90::mbar_wait(&empty[slot], ((s / STAGES) & 1) ^ 1);
    Probe::at(ProbePoint::kClaimed, s);
    sm90::mbar_arrive_expect_tx(&full[slot], (Probe::kLoadX ? G::kXBytes : 0) +
                                                 (Probe::kLoadW ? G::kTxBytes - G::kXBytes : 0));
    if constexpr (Probe::kLoadX) sm90::tma_load_2d(st, &maps.x, ks, 0, &full[slot]);
    if constexpr (Probe::kLoadW) {
      if constexpr (Probe::kEvictFirst)
        sm90::tma_load_3d_hint(st + G::kXBytes, &maps.w, 0, mb0, ks / 16, &full[slot], policy);
      else
        sm90::tma_load_3d(st + G::kXBytes, &maps.w, 0, mb0, ks / 16, &full[slot]);
      unsigned char* sdst = st + G::kXBytes + G::kWBytes;
      // Params::zeros is null where Maps::s spans the scales and the zero terms (make_maps): one box of
      // [2][2 groups][tile rows]. (A flag of its own in Params instead changed the register allocation of
      // the int4 wgmma kernels, which read neither, and cost one of them 1-3%.)
      if (Zero && p.zeros == nullptr) {
        sm90::tma_load_3d(sdst, &maps.s, mb0 * 16, ks / p.group, 0, &full[slot]);
      } else {
        sm90::tma_load_2d(sdst, &maps.s, mb0 * 16, ks / p.group, &full[slot]);
        if constexpr (Zero) sm90::tma_load_2d(sdst + 2 * G::kTileM * 2, &maps.z, mb0 * 16, ks / p.group, &full[slot]);
      }
    }
    Probe::at(ProbePoint::kIssued, s);
  }
}

// The sum warp (uint4, 16+ tokens): per stage, sum_g(x) for every token row of the activation box, kept
// as running group sums; xsums[slot][h][n] holds token n's sum over the group that ends in this stage
// (h = 0), or for g = 32 over the stage's first (h = 0) and second (h = 1) 32 columns. Lane pairs
// (2i, 2i+1) take the two 32-column halves of rows i, i+16, ...
template <class Act, class G, int STAGES>
__device__ __forceinline__ void sum_stages(const unsigned char* pipe, float* xsums, uint64_t* full, uint64_t* empty,
                                           uint64_t* sums_ready, const Params& p, int k0, int nstages, int lane) {
  constexpr int kRowSets = (G::kNPad + 15) / 16;
  const bool g32 = p.group == 32;
  const int half = lane % 2;
  int next_group_end = (k0 / p.group + 1) * p.group;
  float run[kRowSets];
#pragma unroll
  for (int j = 0; j < kRowSets; ++j) run[j] = 0.f;
#pragma unroll 1
  for (int s = 0; s < nstages; ++s) {
    const int slot = s % STAGES;
    sm90::mbar_wait(&full[slot], (s / STAGES) & 1);
    const unsigned char* xs = pipe + slot * G::kStageBytes;
    float* sums = xsums + slot * 2 * G::kNPad;
    const int stage_end = k0 + (s + 1) * kStageK;
    const bool group_ends = stage_end == next_group_end || s == nstages - 1;
#pragma unroll
    for (int j = 0; j < kRowSets; ++j) {
      const int row = j * 16 + lane / 2;
      float v = 0.f;
      if (row < G::kNPad) {
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          const uint4 chunk = *reinterpret_cast<const uint4*>(xs + row * 128 + (((half * 4 + c) ^ (row % 8)) << 4));
          v += sum8<Act>(chunk);
        }
      }
      if (g32) {
        if (row < G::kNPad) sums[half * G::kNPad + row] = v;
      } else {
        run[j] += v + __shfl_xor_sync(0xffffffffu, v, 1);
        if (half == 0 && row < G::kNPad) sums[row] = run[j];
        if (group_ends) run[j] = 0.f;
      }
    }
    if (stage_end == next_group_end) next_group_end += p.group;
    // Each lane releases its own sums (an arrive is a release), so the consumers' wait orders every
    // write without relying on a warp barrier; then lane 0 hands the stage back once all have read it.
    sm90::mbar_arrive(&sums_ready[slot]);
    __syncwarp();
    if (lane == 0) sm90::mbar_arrive(&empty[slot]);
  }
}

// One m16n8 accumulator fragment into the send area of the exchange (PartialChunks): rows
// 16*row_block + lane/4 (c0, c1) and that + 8 (c2, c3), tokens 8t + 2(lane%4) + {0, 1}.
// add: add to what is there (consumer groups) instead of storing.
__device__ __forceinline__ void store_fragment(float* send, const PartialChunks& pc, int row_block, int t, int lane,
                                               float c0, float c1, float c2, float c3, bool add = false) {
  const int row = row_block * 16 + lane / 4, n = t * 8 + 2 * (lane % 4);
  float* lo = send + pc.offset(row) + n * pc.stride;
  float* hi = send + pc.offset(row + 8) + n * pc.stride;
  if (add) {
    lo[0] += c0;
    lo[pc.stride] += c1;
    hi[0] += c2;
    hi[pc.stride] += c3;
  } else {
    lo[0] = c0;
    lo[pc.stride] = c1;
    hi[0] = c2;
    hi[pc.stride] = c3;
  }
}

// The split-K epilogue, once this CTA's threads have stored their partial sums in the send area
// (xfer, PartialChunks pc). The cluster is the CTAs of one row tile along y (the launcher's clusters
// are 1 x splits, the grid tiles x splits), so its size is gridDim.y and a CTA's rank blockIdx.y.
//  1. Once every rank's loop is done (a relaxed cluster barrier: its stage ring, where chunks land, is
//     free), thread 0 sends chunk q to rank q, for every other rank, as one bulk copy (async proxy,
//     completing on rank q's partials barrier).
//  2. Each rank waits for the others' chunks, then sums its rows over all ranks in rank order
//     (deterministic), adds the bias and writes y, four rows of one token per thread.
//  3. A last relaxed barrier keeps every CTA's send area alive until all copies have landed.
// Bulk copies, not remote (DSMEM) loads after a release-acquire cluster barrier: that release costs a
// GPU-scope fence, and thousands of small remote accesses are slower (docs/notes/split-k-exchange.md).
// M is a multiple of 16 and y and bias are 16-byte aligned (the bindings check
// both), so four rows are all in y or all past it, and their four values are one 8-byte access.
template <class Act, int kTileM, int kThreads, class Probe = NoProbe>
__device__ __forceinline__ void exchange_and_store(float* xfer, uint64_t* partials_in, const PartialChunks& pc,
                                                   const Params& p, int tid) {
  constexpr int kVec = 4;
  const int splits = int(gridDim.y), rank = int(blockIdx.y);
  float* recv = xfer + splits * pc.floats;
  sm90::fence_proxy_async_shared();   // this thread's partial sums, to the bulk copies
  __syncthreads();
  Probe::at(ProbePoint::kPartialsFenced);
  if (splits > 1) {
    sm90::cluster_arrive_relaxed();
    sm90::cluster_wait();
  }
  Probe::at(ProbePoint::kClusterSynced);
  if (splits > 1) {
    if (tid == 0) {
      // Only the tokens of this launch: a chunk's rows are token-major, so the first p.n of them are
      // one contiguous run (a bucket's padding tokens hold zeros nobody reads).
      const uint32_t bytes = uint32_t(p.n * pc.stride) * 4;
      sm90::mbar_arrive_expect_tx(partials_in, bytes * uint32_t(splits - 1));
      for (int q = 0; q < splits; ++q)
        if (q != rank)
          sm90::bulk_copy_to_cluster(sm90::cluster_smem_addr(recv + rank * pc.floats, q), xfer + q * pc.floats, bytes,
                                     sm90::cluster_smem_addr(partials_in, q));
    }
    Probe::at(ProbePoint::kPartialsSent);
    sm90::mbar_wait(partials_in, 0);
    // Every chunk sent to this rank has landed: arrive now, wait before exiting (step 3).
    sm90::cluster_arrive_relaxed();
  }
  Probe::at(ProbePoint::kPartialsReceived);
  const int row0 = rank * pc.rows;
  const int nquads = max(0, min(kTileM, row0 + pc.rows) - row0) / kVec;
  for (int i = tid; i < nquads * p.n; i += kThreads) {
    const int rl = (i % nquads) * kVec, n = i / nquads;
    float sum[kVec];
#pragma unroll
    for (int r = 0; r < kMaxSplits; ++r) {
      if (r < splits) {
        const float* chunk = (r == rank ? xfer : recv) + r * pc.floats;   // own chunk, or rank r's
        const float4 v = *reinterpret_cast<const float4*>(chunk + n * pc.stride + rl);
        if (r == 0) {
          sum[0] = v.x, sum[1] = v.y, sum[2] = v.z, sum[3] = v.w;
        } else {
          sum[0] += v.x, sum[1] += v.y, sum[2] += v.z, sum[3] += v.w;
        }
      }
    }
    const int64_t m = int64_t(blockIdx.x) * kTileM + row0 + rl;
    if (m < p.m) {
      if (p.bias) {
        const uint2 b = *reinterpret_cast<const uint2*>(static_cast<const Act*>(p.bias) + m);
        const float2 b01 = ActOps<Act>::to_float2(b.x), b23 = ActOps<Act>::to_float2(b.y);
        sum[0] += b01.x;
        sum[1] += b01.y;
        sum[2] += b23.x;
        sum[3] += b23.y;
      }
      __align__(8) Act out[kVec];
#pragma unroll
      for (int j = 0; j < kVec; ++j) out[j] = ActOps<Act>::from_float(sum[j]);
      *reinterpret_cast<uint2*>(static_cast<Act*>(p.y) + int64_t(n) * p.m + m) = *reinterpret_cast<const uint2*>(out);
    }
  }
  Probe::at(ProbePoint::kReduced);
  if (splits > 1) sm90::cluster_wait();
}

// The two ends of every decode CTA, around the kernel's own main loop:
//   cta_begin: the producer thread (thread 32 x consumer warps) prepares the barriers and tensor maps,
//     Probe::kPdl waits for the previous grid, and the CTA synchronises;
//   cta_end: once every stage is consumed (Probe::kPdl: the next grid may launch), store(xfer, pc) puts
//     the consumers' partial sums into the exchange's send area (PartialChunks pc over the stage ring)
//     and exchange_and_store reduces them over the cluster and writes y.
// The kernel carves the shared memory itself (stage_ring_offset says why).
template <class G, bool Zero, class Probe>
__device__ __forceinline__ void cta_begin(const Maps& maps, uint64_t* full, int tid) {
  if (tid == 32 * G::kConsumerWarps * G::kGroups) prepare_producer<G, Zero>(maps, full);
  if constexpr (Probe::kPdl) sm90::grid_dependency_wait();
  __syncthreads();
  Probe::at(ProbePoint::kReady);
}
template <class G, class Act, class Probe, class Store>
__device__ __forceinline__ void cta_end(const Params& p, unsigned char* pipe, uint64_t* full, int tid, Store&& store) {
  if constexpr (Probe::kPdl) sm90::allow_dependent_launch();
  __syncthreads();   // all stages consumed, so every copy has landed: the stages hold the exchange
  Probe::at(ProbePoint::kLoopDone);
  float* xfer = reinterpret_cast<float*>(pipe);   // the split-K exchange (PartialChunks)
  const PartialChunks pc(G::kTileM, G::kNPad, int(gridDim.y));
  store(xfer, pc);
  exchange_and_store<Act, G::kTileM, G::kThreads, Probe>(xfer, &full[G::kPartialsBarrier], pc, p, tid);
  Probe::at(ProbePoint::kStored);
}

}  // namespace decode
}  // namespace mixgemm
