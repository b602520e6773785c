// The decode family: y[N, M] = x[N, K] @ W[M, K]^T for small N (tokens), where time is bytes of
// weight streamed from HBM. Design (see DESIGN.md "Kernel families" and the notes in bench/NOTES.md):
//
//  - A CTA owns 128 weight rows (8 warps x one 16-row block each) and one K-chunk; the K-chunks of
//    one row tile form a thread-block cluster along gridDim.y, so every SM streams weights even when
//    M/128 is far below the SM count (split-K), and the partial sums are reduced through distributed
//    shared memory inside the cluster: no workspace, no atomics, no extra kernel, deterministic, and
//    nothing that a relaunch or a CUDA-graph replay could find in a stale state.
//  - Weights stream through a multi-stage cp.async shared-memory pipeline (one 1 KB contiguous run
//    per 16-wide K block and CTA, about 50 KB in flight per CTA), together with the matching
//    activation columns. In the packed layout one 32-bit (int4) or 64-bit (int8) shared-memory read
//    per lane gives that lane's whole mma.m16n8k16 A fragment, bank-conflict free.
//  - Conversion by bit tricks (lop3 / prmt with the fp16/bf16 "magic number"), no per-element casts.
//  - Integers are exact in fp16/bf16, so the MMA accumulates q.x per quantization group in fp32 and
//    the group's scale is applied to the fp32 sum (acc += s * sum_g); zero points use z' * sum_g(x),
//    with sum_g(x) from one extra MMA against an all-ones A. Any group size that is a multiple of 32
//    works (including 32), and no scale is rounded into a 16-bit weight. Scales ride in the pipeline
//    stages, so a group change never waits on memory.
//  - Activation rows are padded by 16 bytes in shared memory so B-fragment reads are conflict free.
#pragma once

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "catalog/entry.h"

namespace mixgemm {
namespace decode {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kTileM = kWarps * 16;      // rows per CTA
constexpr int kMaxSplits = 8;            // portable cluster size
constexpr int kMaxDevices = 64;

struct Params {
  const unsigned char* w;   // packed weights
  const void* scales;       // [K/g, M]
  const void* zeros;        // [K/g, M] (z' = -s*z) or null
  const void* x;            // [N, K]
  const void* bias;         // [M] or null
  void* y;                  // [N, M]
  int m, n, k, group;
  int k_chunk;              // K elements per CTA (multiple of 16)
};

template <class Act> struct ActOps;

template <> struct ActOps<__half> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static constexpr uint32_t kOnes = 0x3C003C00u;   // (1.0, 1.0)
  // 0x6400 | u encodes 1024 + u exactly (10 mantissa bits).
  static constexpr uint32_t kMagic4 = 0x64006400u;
  static __device__ __forceinline__ uint32_t sub(uint32_t v, uint32_t magic) {
    __half2 r = __hsub2(*reinterpret_cast<__half2*>(&v), *reinterpret_cast<__half2*>(&magic));
    return *reinterpret_cast<uint32_t*>(&r);
  }
  static __device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
  static __device__ __forceinline__ __half from_float(float v) { return __float2half_rn(v); }
};

template <> struct ActOps<__nv_bfloat16> {
  static __device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  static constexpr uint32_t kOnes = 0x3F803F80u;
  // 0x4300 | u encodes 128 + u exactly for u < 128 (7 mantissa bits).
  static constexpr uint32_t kMagic4 = 0x43004300u;
  static __device__ __forceinline__ uint32_t sub(uint32_t v, uint32_t magic) {
    __nv_bfloat162 r = __hsub2(*reinterpret_cast<__nv_bfloat162*>(&v), *reinterpret_cast<__nv_bfloat162*>(&magic));
    return *reinterpret_cast<uint32_t*>(&r);
  }
  static __device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __forceinline__ __nv_bfloat16 from_float(float v) { return __float2bfloat16_rn(v); }
};

__device__ __forceinline__ uint32_t lop3_and_xor(uint32_t a, uint32_t b, uint32_t c) {
  uint32_t r;   // (a & b) ^ c
  asm("lop3.b32 %0, %1, %2, %3, 0x6A;\n" : "=r"(r) : "r"(a), "r"(b), "r"(c));
  return r;
}

__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t r;
  asm("prmt.b32 %0, %1, %2, %3;\n" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
}

// Weight words per lane per 16x16 block: 32 bits for int4, 64 bits for int8.
template <int Bits> struct Word;
template <> struct Word<4> { uint32_t v; };
template <> struct Word<8> { uint32_t lo, hi; };

// Packed word -> the four A-fragment registers holding the integer values q exactly.
// int4 storage order v0 v2 v4 v6 v1 v3 v5 v7: nibbles (i, i+4) are register i's pair.
template <class Act, bool Signed>
__device__ __forceinline__ void convert(const Word<4>& w, uint32_t (&a)[4]) {
  // Signed nibbles are two's complement: flipping bit 3 maps q to q + 8 in [0, 15].
  constexpr uint32_t flip = Signed ? 0x00080008u : 0u;
  constexpr uint32_t bias = Signed ? 8u : 0u;
  constexpr uint32_t magic = ActOps<Act>::kMagic4;
  constexpr uint32_t base = magic ^ flip;
  // value of (magic | bias) as the number to subtract: 1024+8 (fp16) or 128+8 (bf16)
  constexpr uint32_t sub = magic | (bias | (bias << 16));
#pragma unroll
  for (int i = 0; i < 4; ++i) a[i] = ActOps<Act>::sub(lop3_and_xor(w.v >> (4 * i), 0x000F000Fu, base), sub);
}

// int8 storage order per 32-bit half: v0 v2 v1 v3 | v4 v6 v5 v7.
template <class Act, bool Signed>
__device__ __forceinline__ void convert(const Word<8>& w, uint32_t (&a)[4]) {
  const uint32_t lo = w.lo ^ 0x80808080u, hi = w.hi ^ 0x80808080u;   // q + 128 in [0, 255]
  if constexpr (std::is_same<Act, __half>::value) {
    // 0x6400 | u = 1024 + u exactly; subtract 1152 = 1024 + 128.
    constexpr uint32_t sub = 0x64806480u;
    a[0] = ActOps<Act>::sub(prmt(lo, 0x64646464u, 0x4240), sub);
    a[1] = ActOps<Act>::sub(prmt(lo, 0x64646464u, 0x4341), sub);
    a[2] = ActOps<Act>::sub(prmt(hi, 0x64646464u, 0x4240), sub);
    a[3] = ActOps<Act>::sub(prmt(hi, 0x64646464u, 0x4341), sub);
  } else {
    // bf16 cannot hold 128 + u exactly for u >= 128: go through fp32 (2^23 + u), then pack.
    const uint32_t words[2] = {lo, hi};
#pragma unroll
    for (int h = 0; h < 2; ++h) {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        // register 2h+j holds bytes (j, j+2) of word h
        float f0 = __uint_as_float(prmt(words[h], 0x4B000000u, 0x7650 + j)) - 8388736.0f;
        float f1 = __uint_as_float(prmt(words[h], 0x4B000000u, 0x7650 + j + 2)) - 8388736.0f;
        __nv_bfloat162 p = __floats2bfloat162_rn(f0, f1);
        a[2 * h + j] = *reinterpret_cast<uint32_t*>(&p);
      }
    }
  }
}

template <class Act>
__device__ __forceinline__ float load_act(const void* p, int64_t i) {
  return ActOps<Act>::to_float(static_cast<const Act*>(p)[i]);
}

// Shared-memory pipeline geometry per token bucket: each stage holds kStageBlocks 16-wide K blocks of
// the CTA's 128 weight rows plus the matching activation columns; fewer stages for wide N keep two
// CTAs per SM.
template <int Bits, int NT, bool Zero>
struct Pipe {
  static constexpr int kAtomBytes = 256 * Bits / 8;                  // one warp's 16x16 block
  static constexpr int kStageBlocks = Bits == 4 ? 8 : 4;             // 8 KB of weights per stage
  static constexpr int kStageK = kStageBlocks * 16;
  static constexpr int kWBytes = kStageBlocks * kWarps * kAtomBytes;
  static constexpr int kXStride = kStageK + 8;                       // elements; +16 B against bank conflicts
  static constexpr int kXBytes = NT * 8 * kXStride * 2;
  // Scales (and zeros) of every group a stage touches, for the CTA's 128 rows: with group sizes
  // that are multiples of 32, at most kStageK/32 + 1 groups.
  static constexpr int kMaxStageGroups = kStageK / 32 + 1;
  static constexpr int kSBytes = kMaxStageGroups * kTileM * 2 * (Zero ? 2 : 1);
  static constexpr int kStageBytes = kWBytes + kXBytes + kSBytes;
  // As many stages as fit two CTAs per SM (about 110 KB each), between 3 and 8.
  static constexpr int kStagesFit = 110 * 1024 / kStageBytes;
  static constexpr int kStages = kStagesFit > 8 ? 8 : kStagesFit < 3 ? 3 : kStagesFit;
  static constexpr int kRedBytes = kTileM * NT * 8 * 4;
  static constexpr size_t kSmem = size_t(kStages) * kStageBytes > size_t(kRedBytes)
                                      ? size_t(kStages) * kStageBytes : size_t(kRedBytes);
};

__device__ __forceinline__ void cp_async16(void* smem_dst, const void* gmem_src) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(smem_dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(gmem_src));
}

template <class Act, int Bits, bool Signed, bool Zero, int NT>
__global__ void __launch_bounds__(kThreads) decode_kernel(const Params p) {
  namespace cg = cooperative_groups;
  using P = Pipe<Bits, NT, Zero>;
  cg::cluster_group cluster = cg::this_cluster();
  constexpr int n_pad = NT * 8;
  extern __shared__ __align__(16) unsigned char smem[];

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int r = lane / 4, c = lane % 4;
  const int k0 = blockIdx.y * p.k_chunk;
  const int k1 = min(p.k, k0 + p.k_chunk);
  const int mblocks = p.m / 16;
  const int mb0 = blockIdx.x * kWarps;                       // first 16-row block of this CTA
  const int mb = mb0 + warp;
  const bool active = mb < mblocks;
  const int live_atoms = min(kWarps, mblocks - mb0);         // row blocks of this tile inside M
  const size_t kblock_stride = size_t(mblocks) * P::kAtomBytes;
  const int nkb = max(0, (k1 - k0) / 16);
  const int nstages = (nkb + P::kStageBlocks - 1) / P::kStageBlocks;

  // Asynchronously copy stage `s` (K blocks [s*kStageBlocks, ...) of this CTA's chunk) into slot
  // s % kStages: weights, activation columns, and the scales/zeros of the groups it touches.
  const unsigned char* wsrc = p.w + size_t(mb0) * P::kAtomBytes + size_t(k0 / 16) * kblock_stride;
  const Act* xsrc = static_cast<const Act*>(p.x) + k0;
  auto stage_group0 = [&](int s) { return (k0 + s * P::kStageK) / p.group; };
  auto load_stage = [&](int s) {
    unsigned char* wbuf = smem + size_t(s % P::kStages) * P::kStageBytes;
    Act* xbuf = reinterpret_cast<Act*>(wbuf + P::kWBytes);
    Act* sbuf = reinterpret_cast<Act*>(wbuf + P::kWBytes + P::kXBytes);
    const int kb_first = s * P::kStageBlocks;
    const int blocks = min(P::kStageBlocks, nkb - kb_first);
    // weights: per K block, live_atoms * kAtomBytes contiguous bytes
    constexpr int vec_per_block = kWarps * P::kAtomBytes / 16;
    const int live_vec = live_atoms * P::kAtomBytes / 16;
    const unsigned char* wstage = wsrc + size_t(kb_first) * kblock_stride;
    for (int i = tid; i < blocks * vec_per_block; i += kThreads) {
      const int j = i / vec_per_block, v = i % vec_per_block;
      if (v < live_vec) cp_async16(wbuf + i * 16, wstage + size_t(j) * kblock_stride + v * 16);
    }
    // activations: n_pad rows x blocks*16 columns (rows >= N and columns past the chunk are zero)
    constexpr int xvec_per_row = P::kStageK / 8;
    for (int i = tid; i < n_pad * xvec_per_row; i += kThreads) {
      const int row = i / xvec_per_row, col = (i % xvec_per_row) * 8;
      Act* dst = xbuf + row * P::kXStride + col;
      if (row < p.n && col < blocks * 16)
        cp_async16(dst, xsrc + int64_t(row) * p.k + kb_first * 16 + col);
      else
        *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
    }
    // scales/zeros: groups [g0, g1] x this tile's rows (16 vectors of 8 per group row)
    const int g0 = stage_group0(s), g1 = (k0 + kb_first * 16 + blocks * 16 - 1) / p.group;
    const int live_svec = live_atoms * 2;
    for (int i = tid; i < (g1 - g0 + 1) * 16 * (Zero ? 2 : 1); i += kThreads) {
      const int which = i / ((g1 - g0 + 1) * 16), rem = i % ((g1 - g0 + 1) * 16);
      const int gi = rem / 16, v = rem % 16;
      if (v < live_svec)
        cp_async16(sbuf + (which * P::kMaxStageGroups + gi) * kTileM + v * 8,
                   static_cast<const Act*>(which ? p.zeros : p.scales) + int64_t(g0 + gi) * p.m + int64_t(mb0) * 16 + v * 8);
    }
  };

  float acc[NT][4], accg[NT][4], accz[NT][4];
#pragma unroll
  for (int t = 0; t < NT; ++t)
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[t][i] = accg[t][i] = accz[t][i] = 0.f;

  int group_idx = k0 / p.group;
  int blocks_to_boundary = (p.group - k0 % p.group) / 16;
  const int row_in_tile = warp * 16 + r;

#pragma unroll 1
  for (int s = 0; s < P::kStages - 1; ++s) {
    if (s < nstages) load_stage(s);
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  }

  const uint32_t ones[4] = {ActOps<Act>::kOnes, ActOps<Act>::kOnes, ActOps<Act>::kOnes, ActOps<Act>::kOnes};
#pragma unroll 1
  for (int s = 0; s < nstages; ++s) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(P::kStages - 2) : "memory");
    __syncthreads();   // stage s visible to all; everyone is done with the slot about to be refilled
    if (s + P::kStages - 1 < nstages) load_stage(s + P::kStages - 1);
    asm volatile("cp.async.commit_group;\n" ::: "memory");
    if (!active) continue;
    const unsigned char* wbuf = smem + size_t(s % P::kStages) * P::kStageBytes;
    const Act* xbuf = reinterpret_cast<const Act*>(wbuf + P::kWBytes);
    const Act* sbuf = reinterpret_cast<const Act*>(wbuf + P::kWBytes + P::kXBytes);
    const int g0 = stage_group0(s);
    const int blocks = min(P::kStageBlocks, nkb - s * P::kStageBlocks);
#pragma unroll
    for (int j = 0; j < P::kStageBlocks; ++j) {
      if (j < blocks) {
        const Word<Bits> wv = *reinterpret_cast<const Word<Bits>*>(wbuf + j * (kWarps * P::kAtomBytes) +
                                                                    warp * P::kAtomBytes + lane * (8 * Bits / 8));
        uint32_t a[4];
        convert<Act, Signed>(wv, a);
#pragma unroll
        for (int t = 0; t < NT; ++t) {
          const Act* xr = xbuf + (t * 8 + r) * P::kXStride + j * 16 + 2 * c;
          const uint32_t b0 = *reinterpret_cast<const uint32_t*>(xr);
          const uint32_t b1 = *reinterpret_cast<const uint32_t*>(xr + 8);
          ActOps<Act>::mma(accg[t], a, b0, b1);
          if (Zero) ActOps<Act>::mma(accz[t], ones, b0, b1);
        }
        const bool last_block = s * P::kStageBlocks + j + 1 == nkb;
        if (--blocks_to_boundary == 0 || last_block) {
          const Act* srow = sbuf + (group_idx - g0) * kTileM + row_in_tile;
          const float s_lo = ActOps<Act>::to_float(srow[0]), s_hi = ActOps<Act>::to_float(srow[8]);
          float z_lo = 0.f, z_hi = 0.f;
          if (Zero) {
            z_lo = ActOps<Act>::to_float(srow[P::kMaxStageGroups * kTileM]);
            z_hi = ActOps<Act>::to_float(srow[P::kMaxStageGroups * kTileM + 8]);
          }
#pragma unroll
          for (int t = 0; t < NT; ++t) {
            acc[t][0] += s_lo * accg[t][0];
            acc[t][1] += s_lo * accg[t][1];
            acc[t][2] += s_hi * accg[t][2];
            acc[t][3] += s_hi * accg[t][3];
            if (Zero) {
              acc[t][0] += z_lo * accz[t][0];
              acc[t][1] += z_lo * accz[t][1];
              acc[t][2] += z_hi * accz[t][2];
              acc[t][3] += z_hi * accz[t][3];
            }
#pragma unroll
            for (int i2 = 0; i2 < 4; ++i2) accg[t][i2] = accz[t][i2] = 0.f;
          }
          ++group_idx;
          blocks_to_boundary = p.group / 16;
        }
      }
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
  __syncthreads();   // the pipeline buffers are reused for the partial sums below

  // This CTA's partial sums -> shared memory (inactive warps contribute zeros).
  float* red = reinterpret_cast<float*>(smem);   // [kTileM][n_pad]
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    float* lo = red + (warp * 16 + r) * n_pad + t * 8 + 2 * c;
    float* hi = lo + 8 * n_pad;
    lo[0] = acc[t][0];
    lo[1] = acc[t][1];
    hi[0] = acc[t][2];
    hi[1] = acc[t][3];
  }
  cluster.sync();
  // Rank q of the cluster reduces rows [q*rows_per_rank, ...) over all ranks, in rank order.
  const int splits = int(cluster.num_blocks());
  const int rank = int(cluster.block_rank());
  const int rows_per_rank = (kTileM + splits - 1) / splits;
  const int row0 = rank * rows_per_rank;
  const int nrows = max(0, min(kTileM, row0 + rows_per_rank) - row0);
  for (int i = tid; i < nrows * p.n; i += kThreads) {
    const int rl = row0 + i % nrows, n = i / nrows;
    float sum = 0.f;
    for (int q = 0; q < splits; ++q) sum += cluster.map_shared_rank(red, q)[rl * n_pad + n];
    const int64_t m = int64_t(blockIdx.x) * kTileM + rl;
    if (m < p.m) {
      if (p.bias) sum += load_act<Act>(p.bias, m);
      static_cast<Act*>(p.y)[int64_t(n) * p.m + m] = ActOps<Act>::from_float(sum);
    }
  }
  cluster.sync();   // keep this CTA's shared memory alive until every rank has read it
}

// Launch geometry for a problem: split count (cluster size along K) and staging sizes.
struct Plan {
  int splits = 1, k_chunk = 0;
};

inline Plan make_plan(const GemmProblem& p, int sm_count) {
  Plan plan;
  const int64_t tiles = (p.m + kTileM - 1) / kTileM;
  // Aim for about two CTAs per SM so every SM streams weights; never split below 256 K per CTA.
  int64_t want = (2 * int64_t(sm_count) + tiles - 1) / tiles;
  const int64_t max_by_k = std::max<int64_t>(1, p.k / 256);
  plan.splits = int(std::max<int64_t>(1, std::min<int64_t>({want, int64_t(kMaxSplits), max_by_k})));
  const int64_t kblocks = (p.k + 15) / 16;
  int64_t chunk_blocks = (kblocks + plan.splits - 1) / plan.splits;
  plan.k_chunk = int(chunk_blocks * 16);
  plan.splits = int((p.k + plan.k_chunk - 1) / plan.k_chunk);
  return plan;
}

template <class Act, WeightType WT, int NT>
struct DecodeGemm {
  static constexpr int kBits = WT == WeightType::S8 ? 8 : 4;
  static constexpr bool kSigned = WT != WeightType::U4;
  static constexpr bool kZero = WT == WeightType::U4;
  static constexpr int kNPad = NT * 8;

  static std::string check(const GemmProblem& p) {
    if (p.n > kNPad) return "N=" + std::to_string(p.n) + " exceeds this kernel's " + std::to_string(kNPad) + " tokens";
    if (p.m % 16 != 0) return "M (out_features) must be a multiple of 16";
    if (p.k % 64 != 0) return "K (in_features) must be a multiple of 64";
    if (p.group_size % 32 != 0) return "group_size must be a multiple of 32";
    if (p.m > (int64_t(1) << 30) || p.k > (int64_t(1) << 30) || p.n * p.k > (int64_t(1) << 40))
      return "problem too large";
    return {};
  }

  static size_t workspace_size(const GemmProblem&, int) { return 0; }

  static void run(const GemmArgs& a, void*, size_t, cudaStream_t stream) {
    const GemmProblem& p = a.problem;
    const Plan plan = make_plan(p, a.sm_count);
    auto kernel = decode_kernel<Act, kBits, kSigned, kZero, NT>;
    // The shared-memory limit is a per-device function attribute: set it once per device.
    static std::once_flag once[kMaxDevices];
    static cudaError_t attr_err[kMaxDevices] = {};
    if (a.device < 0 || a.device >= kMaxDevices) throw std::runtime_error("mixgemm: device index out of range");
    std::call_once(once[a.device], [&] {
      attr_err[a.device] = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                int(Pipe<kBits, NT, kZero>::kSmem));
    });
    const cudaError_t attr_err_dev = attr_err[a.device];
    if (attr_err_dev != cudaSuccess)
      throw std::runtime_error(std::string("mixgemm: decode kernel setup failed: ") + cudaGetErrorString(attr_err_dev));
    Params prm;
    prm.w = static_cast<const unsigned char*>(a.w);
    prm.scales = a.scales;
    prm.zeros = a.zeros;
    prm.x = a.x;
    prm.bias = a.bias;
    prm.y = a.y;
    prm.m = int(p.m);
    prm.n = int(p.n);
    prm.k = int(p.k);
    prm.group = int(p.group_size);
    prm.k_chunk = plan.k_chunk;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(unsigned((p.m + kTileM - 1) / kTileM), unsigned(plan.splits), 1);
    cfg.blockDim = dim3(kThreads, 1, 1);
    cfg.dynamicSmemBytes = Pipe<kBits, NT, kZero>::kSmem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = 1;
    attr[0].val.clusterDim.y = unsigned(plan.splits);
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    cudaError_t err = cudaLaunchKernelEx(&cfg, kernel, prm);
    if (err != cudaSuccess)
      throw std::runtime_error(std::string("mixgemm: decode kernel launch failed: ") + cudaGetErrorString(err));
  }

  static constexpr KernelOps ops() { return KernelOps{&check, &workspace_size, &run}; }
};

}  // namespace decode
}  // namespace mixgemm
