// The decode kernels' data: the call's parameters and tensor maps, a configuration's shared-memory
// geometry (stages, barriers, the split-K exchange), and each CTA's share of the problem.
#pragma once

#include <cstdint>

#include "kernels/decode/splits.h"
#include "kernels/sm90_async.cuh"
#include "kernels/tensor_map.h"

namespace mixgemm {
namespace decode {

constexpr int kStageBlocks = kStageK / 16;   // 16-column K blocks per stage

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
// tiles, STAGES stages. Warps: the KG groups of CW consumer warps, then the PW producers, then (SumWarp)
// the sum warp. KG groups take turns on the stages (group g consumes stages g, g + KG, ...), so a CTA has
// KG stages in its consumers at once (docs/notes/mma-sync-kernel.md). SumWarp: uint4 on the mma.sync
// kernel from 16 tokens (else zero points take a ones-MMA); the wgmma kernel has none.
template <int Bits, int NT, bool Zero, int CW, int R, int STAGES, bool SumWarp = Zero && NT >= 2, int KG = 1,
          int PW = 1>
struct Geometry {
  static_assert(STAGES % PW == 0, "each ring slot has one producer (producer w takes stages w, w + PW, ...)");
  static constexpr bool kSumWarp = SumWarp;
  static constexpr int kStages = STAGES;
  static constexpr int kConsumerWarps = CW;   // per group: the warps that hand back each stage
  static constexpr int kGroups = KG;
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
  // grown past its 1 KB rounding would cost a CTA per SM (3 -> 2 on 256-row tiles).
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

}  // namespace decode
}  // namespace mixgemm
