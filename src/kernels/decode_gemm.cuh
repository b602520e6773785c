// The decode family: y[N, M] = x[N, K] @ W[M, K]^T for small N (tokens), where time is bytes of
// weight streamed from HBM and, once those bytes flow, instructions issued per byte. Design (see
// bench/NOTES.md for the measurements behind each choice):
//
//  - Warp-specialised CTA: one producer thread moves every byte with TMA tensor copies into a ring
//    of shared-memory stages guarded by mbarriers; the consumer warps issue no copy or address
//    instructions, only shared-memory reads, conversion and mma.sync. (The cp.async version spent two
//    thirds of its instructions on copy bookkeeping; a version with one 1-D bulk copy per activation
//    row was bound by the number of copies, about 40-60 ns each per SM.)
//  - A stage is 64 K columns and three or four TMA boxes: packed weights [4 K blocks][tile rows/16]
//    [one 16x16 block], activations [N rows padded to the bucket][64] (rows past N arrive as zeros,
//    128-byte swizzled for conflict-free ldmatrix), and the scales (and zero points) of the two
//    groups the stage can touch.
//  - Each consumer warp owns R 16-row blocks, so one ldmatrix of activations feeds R weight blocks.
//    In the packed layout one 32-bit (int4) or 64-bit (int8) shared-memory read per lane is that
//    lane's whole mma.m16n8k16 A fragment, bank-conflict free.
//  - Integers are exact in fp16/bf16, so the MMA accumulates q.x per quantization group in fp32 and
//    the group's scale is applied to the fp32 sum (acc += s * sum_g); zero points add z' * sum_g(x).
//    sum_g(x) is the same for every row. For 16+ token buckets one extra warp (the sum warp) computes
//    it once per CTA and stage from the activations in shared memory, and the consumer warps read it
//    when a group ends; for the 8-token bucket each consumer warp gets it from one extra MMA per K
//    block against an all-ones A. (Measured on the H100, uint4: the sum warp is 5-8% faster at N=16
//    and 2-7% slower at N=1 than the ones-MMA; bench/NOTES.md.) Group sizes that are multiples of 32
//    work (including 32); no scale is rounded into a 16-bit weight.
//    (The wgmma kernel of the 16-, 32- and 64-token buckets of 4-bit weights, decode_wgmma.cuh, reuses
//    this pipeline but applies the scales to the weight fragments in 16-bit arithmetic instead.)
//  - Split-K over a thread-block cluster along gridDim.y, reduced through distributed shared memory
//    (exchange_and_store: each rank's rows of every CTA's partial sums arrive as one bulk copy): every
//    SM streams weights even when M is small, with no workspace, no atomics, no extra kernel, a
//    deterministic sum order, and nothing a relaunch or graph replay could find in a stale state.
#pragma once

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "catalog/entry.h"
#include "kernels/decode_convert.cuh"
#include "kernels/decode_splits.h"
#include "kernels/sm90_async.cuh"
#include "kernels/tensor_map.h"

namespace mixgemm {
namespace decode {

constexpr int kMaxDevices = 64;
constexpr int kStageBlocks = kStageK / 16;

struct Params {
  const unsigned char* w;   // packed weights
  const void* scales;       // [K/g, M]
  const void* zeros;        // [K/g, M] (z' = -s*z), or null: none, or (uint4) Maps::s spans them (make_maps)
  const void* x;            // [N, K]
  const void* bias;         // [M] or null
  void* y;                  // [N, M]
  int m, n, k, group;
  int k_chunk;              // K columns per CTA (multiple of kStageK)
};

// Development hook (bench/dev/decode_dev.cu, mode probe): decode_body and produce_stages call
// Probe::at at the points below; the catalog's kernels use NoProbe, whose calls compile to nothing.
// kEvictFirst: the weight copies carry the L2 evict-first hint (a probe may turn it off to measure it).
enum class ProbePoint {
  kEntry, kReady, kClaimed, kIssued, kLanded, kConverted, kMmaIssued, kReleased, kLoopDone, kPartialsFenced,
  kClusterSynced, kPartialsSent, kPartialsReceived, kReduced, kStored
};
struct NoProbe {
  static constexpr bool kEvictFirst = true;
  static constexpr bool kLoadX = true;   // false: no activation boxes (timing only: what their reads cost)
  static constexpr bool kLoadW = true;   // false: no weight, scale or zero boxes (timing only: the consumers' pace)
  static constexpr bool kConvert = true;   // wgmma kernel, false: fragments are the raw words (timing only)
  static constexpr bool kMma = true;       // wgmma kernel, false: no wgmma, fragments folded by XOR (timing only)
  static constexpr bool kSync = true;      // wgmma kernel, false: no producer, consumers skip the stage waits (timing only)
  static __device__ __forceinline__ void at(ProbePoint, int = 0) {}
};

// The TMA descriptors of one call (kernel parameters, so they live in constant memory).
struct Maps {
  CUtensorMap w;   // packed weights as [K/16][M/16][block as 8-byte words]
  CUtensorMap x;   // activations [N][K]
  CUtensorMap s;   // scales [K/g][M]; uint4 with Params::zeros null: [scales, zeros][K/g][M]
  CUtensorMap z;   // zeros [K/g][M] (u4 only, unless the scales' map spans them)
};

// The split-K exchange's layout (the split count is known at run time: it is the cluster size). Rank q
// of the cluster sums rows [q * rows, (q + 1) * rows) of the tile over every rank: that is chunk q of
// each rank's partial sums, [kNPad][stride] fp32 and contiguous, so that one bulk copy carries it (its
// first N token rows: the launch's tokens).
// rows: a multiple of four (16-byte rows of sums); stride = rows + 4 spreads a fragment's stores (rows
// r..r+7 of columns c, c+2, c+4, c+6) over the banks.
__host__ __device__ constexpr int chunk_rows(int tile_m, int splits) {
  return ((tile_m + splits - 1) / splits + 3) / 4 * 4;
}
// Bytes of the exchange at most, over every split count: this CTA's chunks to send, then the chunks the
// other ranks send it.
__host__ __device__ constexpr int exchange_bytes(int tile_m, int npad) {
  int most = 0;
  for (int s = 1; s <= kMaxSplits; ++s) {
    const int bytes = s * npad * (chunk_rows(tile_m, s) + 4) * 4;
    most = bytes > most ? bytes : most;
  }
  return 2 * most;
}
struct PartialChunks {
  int rows, stride, floats;   // rows per rank, floats between tokens, floats per chunk
  __device__ __forceinline__ PartialChunks(int tile_m, int npad, int splits)
      : rows(chunk_rows(tile_m, splits)), stride(rows + 4), floats(npad * stride) {}
  // Where row `row` of token 0 lies in the send area.
  __device__ __forceinline__ int offset(int row) const {
    const int q = row / rows;
    return q * floats + row - q * rows;
  }
};

// Shared-memory geometry of one configuration: CW consumer warps x R row blocks, NT 8-token MMA
// tiles, STAGES stages. Warps: consumers 0..CW-1, the producer CW, and (kSumWarp) the sum warp CW+1.
// SumWarp: decode_kernel's uint4 16+ token buckets (else zero points take the ones-MMA); the wgmma
// kernel (decode_wgmma.cuh) applies zero points to its fragments and has none.
// KG: KG groups of CW consumer warps take turns on the stages (group g consumes stages g, g + KG, ...),
// so a CTA has KG stages in its consumers at once (a consumer warp's stage is a chain of dependent
// loads, conversions and MMAs, ~650 cycles on the H100: bench/NOTES.md). The catalog's 8-token
// 128-row entries take two groups; the others one. The producers are warps CW * KG ... CW * KG + PW - 1.
template <int Bits, int NT, bool Zero, int CW, int R, int STAGES, bool SumWarp = Zero && NT >= 2, int KG = 1,
          int PW = 1>
struct Geometry {
  static_assert(STAGES % PW == 0, "each ring slot has one producer (producer w takes stages w, w + PW, ...)");
  static constexpr bool kSumWarp = SumWarp;
  static constexpr int kStages = STAGES;
  static constexpr int kConsumerWarps = CW;   // per group: the warps that hand back each stage
  static constexpr int kWarps = CW * KG + PW + (kSumWarp ? 1 : 0);
  static_assert(KG == 1 || !SumWarp, "consumer groups do not take the sum warp");
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kTileM = 16 * CW * R;
  static constexpr int kAtomBytes = 256 * Bits / 8;                  // one packed 16x16 block
  static constexpr int kAtomWords = kAtomBytes / 8;                  // as the TMA's 8-byte elements
  static constexpr int kWBlockBytes = (kTileM / 16) * kAtomBytes;    // the tile's rows, one K block
  static constexpr int kWBytes = kStageBlocks * kWBlockBytes;
  static constexpr int kNPad = NT * 8;
  static constexpr int kXBytes = kNPad * kStageK * 2;                // [kNPad][64], 128-byte swizzle
  static constexpr int kSBytes = 2 * kTileM * 2 * (Zero ? 2 : 1);    // two groups of scales (, zeros)
  // x first: the 128-byte swizzle needs 1024-byte aligned boxes.
  static constexpr int kStageBytes = (kXBytes + kWBytes + kSBytes + 1023) / 1024 * 1024;
  static constexpr int kTxBytes = kXBytes + kWBytes + kSBytes;       // what the TMA writes per stage
  static constexpr int kBarrierSets = kSumWarp ? 3 : 2;              // full, empty (, sums ready)
  // The sum warp's [STAGES][2][kNPad] fp32 sums sit beside the barriers, not in the stages: a stage
  // grown past its 1 KB rounding would cost a CTA per SM (measured: 3 -> 2 on 256-row tiles).
  static constexpr int kXSumBytes = kSumWarp ? STAGES * 2 * kNPad * 4 : 0;
  // After the barrier sets: one more mbarrier, on which the other ranks' partial sums land.
  static constexpr int kPartialsBarrier = kBarrierSets * STAGES;
  static constexpr int kBarRegion = ((kBarrierSets * STAGES + 1) * 8 + kXSumBytes + 127) / 128 * 128;
  static constexpr int kPipeBytes = STAGES * kStageBytes;
  // The split-K exchange (PartialChunks) reuses the stages once the loop is done.
  static constexpr int kExchangeBytes = exchange_bytes(kTileM, kNPad);
  static constexpr size_t kSmem =   // +1 KB: the ring's alignment
      size_t(kBarRegion) + 1024 + size_t(kPipeBytes > kExchangeBytes ? kPipeBytes : kExchangeBytes);
  static_assert(kTileM / 16 <= 256 && kWBlockBytes % 16 == 0, "TMA box limits");
  static_assert(NT == 1 || NT % 2 == 0, "token tiles are loaded in pairs");
  static_assert(kXBytes % 1024 == 0, "swizzled activation boxes are whole 1 KB units");
};

// Dynamic shared memory: the barriers full[STAGES], empty[STAGES], with a sum warp sums_ready[STAGES],
// and the split-K exchange's partials barrier; the sum warp's sums; then the stage ring at the first
// 1 KB boundary (the activation boxes are 128-byte swizzled). Kernels add this byte offset to `smem`
// itself, which keeps every access in the shared window (LDS, not generic loads); a helper returning
// the pointers compiled to a longer kernel (128 bytes more of machine code).
template <class G>
__device__ __forceinline__ uint32_t stage_ring_offset(const unsigned char* smem) {
  const uint32_t base = sm90::smem_addr(smem);
  return (base + G::kBarRegion + 1023) / 1024 * 1024 - base;
}

// This CTA's share of the problem: the first K column of its split (blockIdx.y), the number of
// 64-column stages it walks, and its first 16-row block (blockIdx.x).
struct CtaWork {
  int k0, nstages, mb0;
};
template <class G>
__device__ __forceinline__ CtaWork cta_work(const Params& p) {
  const int k0 = blockIdx.y * p.k_chunk;
  return CtaWork{k0, (min(p.k, k0 + p.k_chunk) - k0) / kStageK, int(blockIdx.x * (G::kTileM / 16))};
}

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
//     completing on rank q's partials barrier). (Seven copies issued from seven warps instead measured
//     the same.)
//  2. Each rank waits for the others' chunks, then sums its rows over all ranks in rank order
//     (deterministic), adds the bias and writes y, four rows of one token per thread.
//  3. A last relaxed barrier keeps every CTA's send area alive until all copies have landed.
// Measured on the H100 against remote (DSMEM) loads after a release-acquire cluster barrier: the
// release costs a GPU-scope fence, and thousands of small remote loads or stores take ~1,200-2,000
// cycles (bench/NOTES.md). M is a multiple of 16 and y and bias are 16-byte aligned (the bindings check
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

// The kernel body. Pdl (a development variant, bench/dev): every thread waits for the previous grid
// after the barrier set-up, and signals that the next grid may launch once its main loop is done.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, bool Pdl,
          class Probe = NoProbe, int KG = 1, int PW = 1>
__device__ __forceinline__ void decode_body(const Maps& maps, const Params& p) {
  Probe::at(ProbePoint::kEntry);
  using G = Geometry<Bits, NT, Zero, CW, R, STAGES, Zero && NT >= 2, KG, PW>;
  extern __shared__ __align__(128) unsigned char smem[];
  uint64_t* full = reinterpret_cast<uint64_t*>(smem);   // stage landed (producer arrive + bytes)
  uint64_t* empty = full + STAGES;                      // stage consumed (one arrive per consumer or sum warp)
  uint64_t* sums_ready = empty + STAGES;                // the sum warp wrote the stage's sum_g(x) (kSumWarp)
  float* xsums = reinterpret_cast<float*>(full + G::kPartialsBarrier + 1);   // [STAGES][2][kNPad] (kSumWarp)
  unsigned char* pipe = smem + stage_ring_offset<G>(smem);

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const CtaWork cta = cta_work<G>(p);
  const int k0 = cta.k0, nstages = cta.nstages, mb0 = cta.mb0;

  if (tid == 32 * CW * KG) prepare_producer<G, Zero>(maps, full);
  if constexpr (Pdl) sm90::grid_dependency_wait();
  __syncthreads();
  Probe::at(ProbePoint::kReady);

  float acc[R][NT][4];   // the consumer warps' per-row sums (unused by the producer warp)
#pragma unroll
  for (int rr = 0; rr < R; ++rr)
#pragma unroll
    for (int t = 0; t < NT; ++t)
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[rr][t][i] = 0.f;

  // With consumer groups (KG > 1), consumer warp `warp` is warp cw of group kg.
  const int cw = KG == 1 ? warp : warp % CW, kg = KG == 1 ? 0 : warp / CW;
  if (warp >= CW * KG && warp < CW * KG + PW) {
    if (lane == 0)
      produce_stages<G, Zero, STAGES, Probe>(maps, p, pipe, full, empty, k0, nstages, mb0, warp - CW * KG, PW);
  } else if (warp >= CW * KG + PW) {
    if constexpr (G::kSumWarp) sum_stages<Act, G, STAGES>(pipe, xsums, full, empty, sums_ready, p, k0, nstages, lane);
  } else {
    float accg[R][NT][4], accz[NT][4];   // accz: sum_g(x) from the ones-MMA (zero points, 8 tokens)
#pragma unroll
    for (int rr = 0; rr < R; ++rr)
#pragma unroll
      for (int t = 0; t < NT; ++t)
#pragma unroll
        for (int i = 0; i < 4; ++i) accg[rr][t][i] = accz[t][i] = 0.f;
    constexpr bool kOnesMma = Zero && !G::kSumWarp;
    const uint32_t ones[4] = {ActOps<Act>::kOnes, ActOps<Act>::kOnes, ActOps<Act>::kOnes, ActOps<Act>::kOnes};
    // Group ends fall on stage boundaries (group sizes that are multiples of 64) or, for g = 32, after
    // K blocks 1 and 3 of every stage; the stage's scale box starts at the group of its first column.
    const bool g32 = p.group == 32;
    int next_group_end = (k0 / p.group + 1) * p.group;
    const int q = lane / 8;   // which 8x8 matrix this lane addresses in ldmatrix

    // Fold the finished group's sums into acc with its scale (and zero point); `ss` is the stage's
    // scale box, `local` the group's row in it and in the stage's [2][kNPad] activation sums.
    // The sums are waited for only here, so the sum warp never delays a stage's MMAs; it cannot run a
    // phase ahead on a slot, since refilling the slot needs this warp's `empty` arrival.
    auto fold = [&](const Act* ss, int local, int s) {
      const Act* srow = ss + local * G::kTileM + cw * R * 16 + lane / 4;
      float xsum[NT][2];   // this lane's two token columns of sum_g(x)
      if constexpr (kOnesMma) {
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          xsum[t][0] = accz[t][0];   // the ones-MMA's rows are all equal: c0/c1 hold the lane's columns
          xsum[t][1] = accz[t][1];
#pragma unroll
          for (int i = 0; i < 4; ++i) accz[t][i] = 0.f;
        }
      } else if constexpr (G::kSumWarp) {
        sm90::mbar_wait(&sums_ready[s % STAGES], (s / STAGES) & 1);
        const float* sums = xsums + (s % STAGES) * 2 * G::kNPad + local * G::kNPad + 2 * (lane % 4);
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          xsum[t][0] = sums[t * 8];
          xsum[t][1] = sums[t * 8 + 1];
        }
      }
#pragma unroll
      for (int rr = 0; rr < R; ++rr) {
        const float s_lo = ActOps<Act>::to_float(srow[rr * 16]), s_hi = ActOps<Act>::to_float(srow[rr * 16 + 8]);
        float z_lo = 0.f, z_hi = 0.f;
        if constexpr (Zero) {
          z_lo = ActOps<Act>::to_float(srow[2 * G::kTileM + rr * 16]);
          z_hi = ActOps<Act>::to_float(srow[2 * G::kTileM + rr * 16 + 8]);
        }
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          acc[rr][t][0] += s_lo * accg[rr][t][0];
          acc[rr][t][1] += s_lo * accg[rr][t][1];
          acc[rr][t][2] += s_hi * accg[rr][t][2];
          acc[rr][t][3] += s_hi * accg[rr][t][3];
          if constexpr (Zero) {
            acc[rr][t][0] += z_lo * xsum[t][0];
            acc[rr][t][1] += z_lo * xsum[t][1];
            acc[rr][t][2] += z_hi * xsum[t][0];
            acc[rr][t][3] += z_hi * xsum[t][1];
          }
#pragma unroll
          for (int i = 0; i < 4; ++i) accg[rr][t][i] = 0.f;
        }
      }
    };

#pragma unroll 1
    for (int s = kg; s < nstages; s += KG) {
      const int slot = s % STAGES;
      sm90::mbar_wait(&full[slot], (s / STAGES) & 1);
      Probe::at(ProbePoint::kLanded, s);
      const unsigned char* st = pipe + slot * G::kStageBytes;
      const unsigned char* xs = st;   // [kNPad][64] activations, 16-byte chunks swizzled by row % 8
      const unsigned char* wst = st + G::kXBytes;
      const Act* ss = reinterpret_cast<const Act*>(st + G::kXBytes + G::kWBytes);
#pragma unroll
      for (int kb = 0; kb < kStageBlocks; ++kb) {
        uint32_t b[NT][2];
        if constexpr (NT == 1) {
          uint32_t r2[2];
          sm90::ldmatrix_x2(r2, xs + (lane % 8) * 128 + (((2 * kb + (q & 1)) ^ (lane % 8)) << 4));
          b[0][0] = r2[0];
          b[0][1] = r2[1];
        } else {
#pragma unroll
          for (int t = 0; t < NT; t += 2) {
            uint32_t r4[4];
            sm90::ldmatrix_x4(r4, xs + ((t + q / 2) * 8 + lane % 8) * 128 + (((2 * kb + (q & 1)) ^ (lane % 8)) << 4));
            b[t][0] = r4[0];
            b[t][1] = r4[1];
            b[t + 1][0] = r4[2];
            b[t + 1][1] = r4[3];
          }
        }
#pragma unroll
        for (int rr = 0; rr < R; ++rr) {
          const Word<Bits> wv = *reinterpret_cast<const Word<Bits>*>(
              wst + kb * G::kWBlockBytes + (cw * R + rr) * G::kAtomBytes + lane * Bits);
          uint32_t a[4];
          convert<Act, Signed>(wv, a);
#pragma unroll
          for (int t = 0; t < NT; ++t) ActOps<Act>::mma(accg[rr][t], a, b[t][0], b[t][1]);
        }
        if constexpr (kOnesMma) {
#pragma unroll
          for (int t = 0; t < NT; ++t) ActOps<Act>::mma(accz[t], ones, b[t][0], b[t][1]);
        }
        if (kb == 1 && g32) fold(ss, 0, s);
      }
      const int stage_end = k0 + (s + 1) * kStageK;
      if (g32) {
        fold(ss, 1, s);
      } else if (KG > 1 || stage_end == next_group_end || s == nstages - 1) {
        // a group ends here, or this CTA's K chunk does (its partial group); with consumer groups the
        // next stage of the group is another group's, so each stage's partial sum is folded
        fold(ss, 0, s);
        if (stage_end == next_group_end) next_group_end += p.group;
      }
      __syncwarp();   // every lane's reads of this stage are done before it is handed back
      if (lane == 0) sm90::mbar_arrive(&empty[slot]);
      Probe::at(ProbePoint::kReleased, s);
    }
  }

  if constexpr (Pdl) sm90::allow_dependent_launch();
  __syncthreads();   // all stages consumed, so every copy has landed: the stages hold the exchange
  Probe::at(ProbePoint::kLoopDone);
  float* xfer = reinterpret_cast<float*>(pipe);   // the split-K exchange (PartialChunks)
  const PartialChunks pc(G::kTileM, G::kNPad, int(gridDim.y));
  // Each group's partial sums of the same rows, added in group order.
  for (int g = 0; g < KG; ++g) {
    if (warp < CW * KG && kg == g) {
#pragma unroll
      for (int rr = 0; rr < R; ++rr)
#pragma unroll
        for (int t = 0; t < NT; ++t)
          store_fragment(xfer, pc, cw * R + rr, t, lane, acc[rr][t][0], acc[rr][t][1], acc[rr][t][2], acc[rr][t][3],
                         g > 0);
    }
    if (KG > 1) __syncthreads();
  }
  exchange_and_store<Act, G::kTileM, G::kThreads, Probe>(xfer, &full[G::kPartialsBarrier], pc, p, tid);
  Probe::at(ProbePoint::kStored);
}

template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, int KG = 1, int PW = 1>
__global__ void __launch_bounds__(Geometry<Bits, NT, Zero, CW, R, STAGES, Zero && NT >= 2, KG, PW>::kThreads)
    decode_kernel(const __grid_constant__ Maps maps, const Params p) {
  decode_body<Act, Bits, Signed, Zero, NT, CW, R, STAGES, false, NoProbe, KG, PW>(maps, p);
}

// Programmatic dependent launch with the trigger at the end of the main loop (dev harness only: an early
// trigger measured 20-35% slower on large layers, bench/NOTES.md).
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES>
__global__ void __launch_bounds__(Geometry<Bits, NT, Zero, CW, R, STAGES>::kThreads)
    decode_kernel_pdl(const __grid_constant__ Maps maps, const Params p) {
  decode_body<Act, Bits, Signed, Zero, NT, CW, R, STAGES, true>(maps, p);
}

// The launch configuration of `grid` CTAs of `threads` threads in clusters of `splits` CTAs along y,
// with the cluster attribute in attr[0] (the caller's array of two, so that it may add a second).
inline cudaLaunchConfig_t cluster_launch_config(dim3 grid, unsigned threads, size_t smem, int splits,
                                                cudaStream_t stream, cudaLaunchAttribute (&attr)[2]) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = dim3(threads, 1, 1);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = 1;
  attr[0].val.clusterDim.y = unsigned(splits);
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return cfg;
}

// How many clusters of s = 1..kMaxSplits CTAs of `kernel` (threads, dynamic shared memory smem) the
// current device holds at once, into clusters[s]; the first CUDA error, if any.
template <class KernelPtr>
inline cudaError_t query_cluster_capacity(KernelPtr kernel, unsigned threads, size_t smem, int* clusters) {
  for (int s = 1; s <= kMaxSplits; ++s) {
    cudaLaunchAttribute attr[2];
    const cudaLaunchConfig_t cfg = cluster_launch_config(dim3(1, unsigned(s), 1), threads, smem, s, nullptr, attr);
    const cudaError_t e = cudaOccupancyMaxActiveClusters(&clusters[s], kernel, &cfg);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

// A value set up once per device: the first get() for a device runs setup(value, device) under a
// once_flag; the CUDA error it returns is kept, and every get() then throws it prefixed by `what`. An
// exception thrown by setup leaves the flag unset (std::call_once), so the next call tries again.
template <class T>
class PerDevice {
 public:
  template <class Setup>
  const T& get(int device, const char* what, Setup&& setup) {
    if (device < 0 || device >= kMaxDevices) throw std::runtime_error("mixgemm: device index out of range");
    std::call_once(once_[device], [&] { err_[device] = setup(value_[device], device); });
    if (err_[device] != cudaSuccess)
      throw std::runtime_error(std::string("mixgemm: ") + what + ": " + cudaGetErrorString(err_[device]));
    return value_[device];
  }

 private:
  std::once_flag once_[kMaxDevices];
  T value_[kMaxDevices] = {};
  cudaError_t err_[kMaxDevices] = {};
};

// An empty kernel whose shared memory alone sets how many of its CTAs share an SM: the cluster
// capacities at 1, 2, ... CTAs per SM are the device's, whatever kernel then runs (decode_splits.h,
// ClusterCapacity). A template, so that every translation unit may define it.
template <int Unused = 0>
__global__ void occupancy_probe_kernel() {}

// The device's cluster capacities at k = 1..ClusterCapacity::kMaxPerSm CTAs per SM, once per device
// (queried on the current device, as the launcher's own occupancy queries are: the call's device).
// A row the probe cannot pin to exactly k CTAs per SM stays zero (taken as "does not fit").
inline const ClusterCapacity& device_cluster_capacity(int device) {
  static PerDevice<ClusterCapacity> capacities;
  return capacities.get(device, "cluster capacity query failed", [](ClusterCapacity& cap, int dev) {
    constexpr unsigned kThreads = 128;
    const auto kernel = &occupancy_probe_kernel<0>;
    int per_sm_bytes = 0, reserved = 0, optin = 0;
    cudaError_t e = cudaDeviceGetAttribute(&per_sm_bytes, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    if (e == cudaSuccess) e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, optin);
    for (int k = 1; k <= ClusterCapacity::kMaxPerSm && e == cudaSuccess; ++k) {
      const size_t smem = size_t(std::min(per_sm_bytes / k - reserved - 256, optin));   // a margin below the boundary
      int fit = 0;
      e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&fit, kernel, kThreads, smem);
      if (e == cudaSuccess && fit == k) e = query_cluster_capacity(kernel, kThreads, smem, cap.clusters[k]);
    }
    return e;
  });
}

// Kernel: any kernel of this geometry and parameters (the wgmma kernel, the dev harness's variants);
// Pdl: launch with programmatic stream serialization (for a kernel that waits for its predecessor
// itself); SumWarp, KG: as the kernel's Geometry.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES,
          auto Kernel = &decode_kernel<Act, Bits, Signed, Zero, NT, CW, R, STAGES>, bool Pdl = false,
          bool SumWarp = Zero && NT >= 2, int KG = 1, int PW = 1>
struct Launcher {
  using G = Geometry<Bits, NT, Zero, CW, R, STAGES, SumWarp, KG, PW>;
  static constexpr auto kernel = Kernel;

  // Per device, once: the shared-memory attribute is set, and the CTAs per SM and the cluster
  // capacities (plan_splits) are read back: the kernel's own at its CTAs per SM, the device's
  // (device_cluster_capacity) at fewer.
  struct Occupancy {
    int ctas_per_sm = 0;
    ClusterCapacity capacity;
  };
  static const Occupancy& occupancy(int device) {
    static PerDevice<Occupancy> occupancies;
    return occupancies.get(device, "decode kernel setup failed", [](Occupancy& o, int dev) {
      o.capacity = device_cluster_capacity(dev);   // throws on failure (the flag stays unset)
      cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(G::kSmem));
      if (e == cudaSuccess) e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&o.ctas_per_sm, kernel, G::kThreads, G::kSmem);
      const int own = std::min(std::max(o.ctas_per_sm, 1), ClusterCapacity::kMaxPerSm);
      if (e == cudaSuccess) e = query_cluster_capacity(kernel, G::kThreads, G::kSmem, o.capacity.clusters[own]);
      return e;
    });
  }
  static int ctas_per_sm(int device) { return std::max(1, occupancy(device).ctas_per_sm); }

  static int64_t row_tiles(int64_t m) { return (m + G::kTileM - 1) / G::kTileM; }

  // The split plan launch() takes for m rows and k columns (plan_splits), with the device's cluster
  // capacities; device < 0: without them (no CUDA call), for a host-only estimate of the same plan.
  // cta_load: the CTA's weight on its SM's stage rate (SplitKernel; the catalog's entries pass theirs).
  static SplitPlan plan(int64_t m, int64_t k, int sm_count, int device, int splits = 0, int64_t max_ctas = 0,
                        double cta_load = 1.0) {
    if (device < 0) return plan_splits(row_tiles(m), k, sm_count, splits, nullptr, SplitKernel{G::kTileM, 0, cta_load}, max_ctas);
    const Occupancy& o = occupancy(device);
    return plan_splits(row_tiles(m), k, sm_count, splits, &o.capacity, SplitKernel{G::kTileM, o.ctas_per_sm, cta_load},
                       max_ctas);
  }

  // The call's tensor maps. uint4: where the zero terms lie after the scales at a multiple of 16 bytes,
  // one 3-D map spans both ([scales, zeros][K/g][M], the second dimension's stride their distance), so
  // each stage takes one box for both and the producer issues three copies, not four; prm.zeros is then
  // set to null, which tells the kernel (it reads the zero terms only through the maps).
  static Maps make_maps(Params& prm) {
    constexpr CUtensorMapDataType act_type =
        std::is_same<Act, __half>::value ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    const cuuint64_t m = cuuint64_t(prm.m), k = cuuint64_t(prm.k), n = cuuint64_t(prm.n);
    const cuuint64_t groups = cuuint64_t(prm.k / prm.group);
    Maps maps;
    std::memset(&maps, 0, sizeof(maps));
    {
      const cuuint64_t dims[3] = {G::kAtomWords, m / 16, k / 16};
      const cuuint64_t strides[2] = {G::kAtomBytes, (m / 16) * G::kAtomBytes};
      const cuuint32_t box[3] = {G::kAtomWords, G::kTileM / 16, kStageBlocks};
      maps.w = make_tensor_map(CU_TENSOR_MAP_DATA_TYPE_UINT64, 3, prm.w, dims, strides, box,
                               CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B);
    }
    {
      const cuuint64_t dims[2] = {k, n};
      const cuuint64_t strides[1] = {k * 2};
      const cuuint32_t box[2] = {kStageK, G::kNPad};
      maps.x = make_tensor_map(act_type, 2, prm.x, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_128B,
                               CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
    }
    if (Zero) {
      const uintptr_t s_at = reinterpret_cast<uintptr_t>(prm.scales), z_at = reinterpret_cast<uintptr_t>(prm.zeros);
      const cuuint64_t apart = z_at > s_at ? cuuint64_t(z_at - s_at) : 0;
      const cuuint64_t dims[3] = {m, groups, 2};
      const cuuint64_t strides[2] = {m * 2, apart};
      const cuuint32_t box[3] = {G::kTileM, 2, 2};
      // The driver checks the strides (multiples of 16 bytes, below 2^40, each spanning the dimensions
      // inside it); whatever it refuses takes the two maps below.
      if (apart % 16 == 0 && apart >= groups * m * 2 &&
          encode_tensor_map(&maps.s, act_type, 3, prm.scales, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_NONE,
                            CU_TENSOR_MAP_L2_PROMOTION_L2_128B) == CUDA_SUCCESS) {
        prm.zeros = nullptr;
        return maps;
      }
    }
    const cuuint64_t dims[2] = {m, groups};
    const cuuint64_t strides[1] = {m * 2};
    const cuuint32_t box[2] = {G::kTileM, 2};
    maps.s = make_tensor_map(act_type, 2, prm.scales, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_NONE,
                             CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
    if (Zero)
      maps.z = make_tensor_map(act_type, 2, prm.zeros, dims, strides, box, CU_TENSOR_MAP_SWIZZLE_NONE,
                               CU_TENSOR_MAP_L2_PROMOTION_L2_128B);
    return maps;
  }

  // splits <= 0: choose (max_ctas > 0: among plans of at most that many CTAs, plan_splits).
  static void launch(const Params& base, int device, int sm_count, cudaStream_t stream, int splits = 0,
                     int64_t max_ctas = 0, double cta_load = 1.0) {
    Params prm = base;
    const int64_t tiles = row_tiles(prm.m);
    occupancy(device);   // sets the shared-memory attribute once per device; throws on a bad index
    const SplitPlan plan = Launcher::plan(prm.m, prm.k, sm_count, device, splits, max_ctas, cta_load);
    prm.k_chunk = int(plan.stages_per_cta * kStageK);
    splits = plan.splits;
    const Maps maps = make_maps(prm);
    cudaLaunchAttribute attr[2];
    cudaLaunchConfig_t cfg =
        cluster_launch_config(dim3(unsigned(tiles), unsigned(splits), 1), G::kThreads, G::kSmem, splits, stream, attr);
    attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[1].val.programmaticStreamSerializationAllowed = 1;
    cfg.numAttrs = Pdl ? 2 : 1;
    const cudaError_t err = cudaLaunchKernelEx(&cfg, kernel, maps, prm);
    if (err != cudaSuccess)
      throw std::runtime_error(std::string("mixgemm: decode kernel launch failed: ") + cudaGetErrorString(err));
  }
};

}  // namespace decode
}  // namespace mixgemm
