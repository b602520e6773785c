// PROTOTYPE, dev harness only (not in the catalog): the decode pipeline with warpgroup MMAs (wgmma,
// weights as the register A operand, activations as the shared-memory B operand) for the 32- and
// 64-token buckets, where mma.sync cannot keep up (bench/NOTES.md, next step 3). Status 2026-11-25:
// compiles for sm_90a; NOT YET RUN on a GPU. First run: `decode_dev wgmma` checks it against the fp32
// reference, then times it next to the stock CUTLASS picks.
//
// What changes against decode_kernel (decode_gemm.cuh), whose producer, stages, TMA maps, split-K
// cluster reduction and geometry are reused unchanged:
//  - consumer warps form warpgroups (CW a multiple of 4); warpgroup g owns R slabs of 64 rows, and
//    warp w of the group the 16 rows (w % 4) of each slab, which is exactly one packed 16x16 block per
//    K block: the A fragment of wgmma.m64nNk16 held by one warp has the layout of mma.m16n8k16's A, so
//    the packed layout and the int4 -> fp16 conversion are the same;
//  - the activation box (N rows of 128 bytes, 128-byte swizzle, as the TMA writes it) is the K-major B
//    operand directly: one descriptor per stage, advanced 32 bytes per K block;
//  - per stage: convert the stage's 4 x R fragments, fence, issue 4 x R wgmmas, commit, wait, then
//    fold finished groups with fp32 scales (as decode_kernel) and hand the stage back.
// Zero points (uint4) come from decode_kernel's sum warp. Pipe=true overlaps the next stage's conversion with this stage's
// wgmmas (two fragment buffers); harness labels "wgp".
#pragma once

#include "kernels/decode_gemm.cuh"

namespace mixgemm {
namespace decode {
namespace wg {

// Shared-memory matrix descriptor of a K-major operand tile whose rows are 128 bytes, 128-byte
// swizzled, 8-row groups 1024 bytes apart (the TMA's SWIZZLE_128B layout of a [rows][64] 16-bit box).
__device__ __forceinline__ uint64_t desc_kmajor_sw128(uint32_t smem_byte_addr) {
  return uint64_t((smem_byte_addr & 0x3FFFF) >> 4)   // start address, 16-byte units
         | (uint64_t(1) << 16)                         // leading byte offset: unused for this layout
         | (uint64_t(1024 >> 4) << 32)                 // stride byte offset: one 8-row group
         | (uint64_t(1) << 62);                        // layout: 128-byte swizzle
}

__device__ __forceinline__ void fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }

// D[64 x N] += A[64 x 16] (registers) * B[16 x N] (shared memory, K-major): d holds this thread's N/2
// fp32 values, 4 per 8-column chunk c: (row, 8c + 2(lane%4) + {0,1}) then (row + 8, same columns).
template <class Act, int N> struct Wgmma;

template <> struct Wgmma<__half, 32> {
  static __device__ __forceinline__ void run(float (&d)[16], const uint32_t (&a)[4], uint64_t desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %21, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, "
        "{%16, %17, %18, %19}, %20, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
  }
};

template <> struct Wgmma<__half, 64> {
  static __device__ __forceinline__ void run(float (&d)[32], const uint32_t (&a)[4], uint64_t desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
  }
};

template <> struct Wgmma<__nv_bfloat16, 32> {
  static __device__ __forceinline__ void run(float (&d)[16], const uint32_t (&a)[4], uint64_t desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %21, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, "
        "{%16, %17, %18, %19}, %20, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
  }
};

template <> struct Wgmma<__nv_bfloat16, 64> {
  static __device__ __forceinline__ void run(float (&d)[32], const uint32_t (&a)[4], uint64_t desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
        "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
  }
};

// Pipe: convert the next stage's fragments while this stage's wgmmas run (two fragment buffers, group
// sizes of 64 and more); without it, and for g = 32, each stage converts, issues and waits in turn.
// Zero: uint4 zero points, with decode_kernel's sum warp (warp CW + 1) providing sum_g(x).
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, bool Pipe>
__global__ void __launch_bounds__(Geometry<Bits, NT, Zero, CW, R, STAGES>::kThreads)
    decode_wgmma_kernel(const __grid_constant__ Maps maps, const Params p) {
  using G = Geometry<Bits, NT, Zero, CW, R, STAGES>;
  static_assert(G::kSumWarp == Zero, "32/64-token buckets take zero points through the sum warp");
  constexpr int kN = G::kNPad;         // wgmma N: the token bucket
  constexpr int kD = kN / 2;           // accumulator values per thread per 64-row slab
  static_assert(CW % 4 == 0, "consumer warps form whole warpgroups");
  static_assert(kN == 32 || kN == 64, "wgmma buckets are 32 or 64 tokens");
  extern __shared__ __align__(128) unsigned char smem[];
  uint64_t* full = reinterpret_cast<uint64_t*>(smem);
  uint64_t* empty = full + STAGES;
  uint64_t* sums_ready = empty + STAGES;                                      // (Zero)
  float* xsums = reinterpret_cast<float*>(full + G::kBarrierSets * STAGES);   // [STAGES][2][kNPad] (Zero)
  unsigned char* pipe = smem + stage_ring_offset<G>(smem);

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int k0 = blockIdx.y * p.k_chunk;
  const int nstages = (min(p.k, k0 + p.k_chunk) - k0) / kStageK;
  const int mb0 = blockIdx.x * (G::kTileM / 16);

  init_barriers<G>(full, tid);
  __syncthreads();

  // Rows of this thread's accumulator values: slab (warp / 4) * R + rr, 16-row block warp % 4.
  const int wgroup = warp / 4, wq = warp % 4;
  float acc[R][kD];
#pragma unroll
  for (int rr = 0; rr < R; ++rr)
#pragma unroll
    for (int i = 0; i < kD; ++i) acc[rr][i] = 0.f;

  // Branch on the warpgroup index read through a shuffle, so the compiler knows every warp of a
  // warpgroup takes the same side (else it serialises the wgmmas: ptxas C7520).
  const int warpgroup_idx = __shfl_sync(0xffffffffu, tid / 128, 0);
  if (warpgroup_idx == CW / 4) {
    if (warp == CW && lane == 0) produce_stages<G, Zero, STAGES>(maps, p, pipe, full, empty, k0, nstages, mb0);
    if constexpr (Zero) {
      if (warp == CW + 1) sum_stages<Act, G, STAGES>(pipe, xsums, full, empty, sums_ready, p, k0, nstages, lane);
    }
  } else {
    float accg[R][kD];   // the current group's q.x sums
#pragma unroll
    for (int rr = 0; rr < R; ++rr)
#pragma unroll
      for (int i = 0; i < kD; ++i) accg[rr][i] = 0.f;
    const bool g32 = p.group == 32;
    int next_group_end = (k0 / p.group + 1) * p.group;

    // `s` is the stage whose scale box `ss` is; with zero points its activation sums are waited for here.
    auto fold = [&](const Act* ss, int local, int s) {
      float xsum[kD / 4][2];   // this lane's two token columns of sum_g(x) per 8-column chunk
      if constexpr (Zero) {
        sm90::mbar_wait(&sums_ready[s % STAGES], (s / STAGES) & 1);
        const float* sums = xsums + (s % STAGES) * 2 * G::kNPad + local * G::kNPad + 2 * (lane % 4);
#pragma unroll
        for (int c = 0; c < kD / 4; ++c) {
          xsum[c][0] = sums[c * 8];
          xsum[c][1] = sums[c * 8 + 1];
        }
      }
#pragma unroll
      for (int rr = 0; rr < R; ++rr) {
        const Act* srow = ss + local * G::kTileM + ((wgroup * R + rr) * 4 + wq) * 16 + lane / 4;
        const float s_lo = ActOps<Act>::to_float(srow[0]), s_hi = ActOps<Act>::to_float(srow[8]);
        float z_lo = 0.f, z_hi = 0.f;
        if constexpr (Zero) {   // the zero box follows the scale box: z' = -s*z per (group, row)
          z_lo = ActOps<Act>::to_float(srow[2 * G::kTileM]);
          z_hi = ActOps<Act>::to_float(srow[2 * G::kTileM + 8]);
        }
#pragma unroll
        for (int c = 0; c < kD / 4; ++c) {
          acc[rr][4 * c + 0] += s_lo * accg[rr][4 * c + 0];
          acc[rr][4 * c + 1] += s_lo * accg[rr][4 * c + 1];
          acc[rr][4 * c + 2] += s_hi * accg[rr][4 * c + 2];
          acc[rr][4 * c + 3] += s_hi * accg[rr][4 * c + 3];
          if constexpr (Zero) {
            acc[rr][4 * c + 0] += z_lo * xsum[c][0];
            acc[rr][4 * c + 1] += z_lo * xsum[c][1];
            acc[rr][4 * c + 2] += z_hi * xsum[c][0];
            acc[rr][4 * c + 3] += z_hi * xsum[c][1];
          }
        }
#pragma unroll
        for (int i = 0; i < kD; ++i) accg[rr][i] = 0.f;
      }
    };
    // This warp's A fragment of 16-row block rr in K block kb of a stage's weights, converted.
    auto convert_block = [&](const unsigned char* wst, int kb, int rr, uint32_t (&a)[4]) {
      const Word<Bits> wv = *reinterpret_cast<const Word<Bits>*>(
          wst + kb * G::kWBlockBytes + ((wgroup * R + rr) * 4 + wq) * G::kAtomBytes + lane * Bits);
      convert<Act, Signed>(wv, a);
    };
    // K blocks [KB0, KB1) of the stage (compile-time, so the fragments stay in registers): convert every
    // fragment first, then one batch of wgmmas, then wait for them (the stage is handed back after).
    auto mma_blocks = [&](const unsigned char* wst, uint64_t desc, auto kb0_c, auto kb1_c) {
      constexpr int KB0 = decltype(kb0_c)::value, KB1 = decltype(kb1_c)::value;
      uint32_t a[KB1 - KB0][R][4];
#pragma unroll
      for (int kb = KB0; kb < KB1; ++kb)
#pragma unroll
        for (int rr = 0; rr < R; ++rr) convert_block(wst, kb, rr, a[kb - KB0][rr]);
      fence();
#pragma unroll
      for (int kb = KB0; kb < KB1; ++kb)
#pragma unroll
        for (int rr = 0; rr < R; ++rr) Wgmma<Act, kN>::run(accg[rr], a[kb - KB0][rr], desc + uint64_t(2 * kb));
      commit();
      wait_all();
    };
    using C0 = std::integral_constant<int, 0>;
    using C2 = std::integral_constant<int, 2>;
    using C4 = std::integral_constant<int, kStageBlocks>;

#pragma unroll 1
    for (int s = 0; s < nstages && !(Pipe && !g32); ++s) {
      const int slot = s % STAGES;
      sm90::mbar_wait(&full[slot], (s / STAGES) & 1);
      const unsigned char* st = pipe + slot * G::kStageBytes;
      const uint64_t desc = desc_kmajor_sw128(sm90::smem_addr(st));
      const unsigned char* wst = st + G::kXBytes;
      const Act* ss = reinterpret_cast<const Act*>(st + G::kXBytes + G::kWBytes);
      if (g32) {
        mma_blocks(wst, desc, C0{}, C2{});
        fold(ss, 0, s);
        mma_blocks(wst, desc, C2{}, C4{});
        fold(ss, 1, s);
      } else {
        mma_blocks(wst, desc, C0{}, C4{});
        const int stage_end = k0 + (s + 1) * kStageK;
        if (stage_end == next_group_end || s == nstages - 1) {
          fold(ss, 0, s);
          if (stage_end == next_group_end) next_group_end += p.group;
        }
      }
      __syncwarp();
      if (lane == 0) sm90::mbar_arrive(&empty[slot]);
    }

    if constexpr (Pipe) {
      if (!g32) {
        // Two fragment buffers, the loop unrolled by two stages so each buffer stays in registers.
        uint32_t fa[kStageBlocks][R][4], fb[kStageBlocks][R][4];
        auto stage_ptr = [&](int s) { return pipe + (s % STAGES) * G::kStageBytes; };
        auto convert_stage = [&](int s, uint32_t (&f)[kStageBlocks][R][4]) {
          sm90::mbar_wait(&full[s % STAGES], (s / STAGES) & 1);
          const unsigned char* wst = stage_ptr(s) + G::kXBytes;
#pragma unroll
          for (int kb = 0; kb < kStageBlocks; ++kb)
#pragma unroll
            for (int rr = 0; rr < R; ++rr) convert_block(wst, kb, rr, f[kb][rr]);
        };
        auto issue_stage = [&](int s, const uint32_t (&f)[kStageBlocks][R][4]) {
          const uint64_t desc = desc_kmajor_sw128(sm90::smem_addr(stage_ptr(s)));
          fence();
#pragma unroll
          for (int kb = 0; kb < kStageBlocks; ++kb)
#pragma unroll
            for (int rr = 0; rr < R; ++rr) Wgmma<Act, kN>::run(accg[rr], f[kb][rr], desc + uint64_t(2 * kb));
          commit();
        };
        auto finish_stage = [&](int s) {
          wait_all();
          const int stage_end = k0 + (s + 1) * kStageK;
          if (stage_end == next_group_end || s == nstages - 1) {
            fold(reinterpret_cast<const Act*>(stage_ptr(s) + G::kXBytes + G::kWBytes), 0, s);
            if (stage_end == next_group_end) next_group_end += p.group;
          }
          __syncwarp();
          if (lane == 0) sm90::mbar_arrive(&empty[s % STAGES]);
        };
        if (nstages > 0) convert_stage(0, fa);
#pragma unroll 1
        for (int s = 0; s < nstages; s += 2) {
          issue_stage(s, fa);
          if (s + 1 < nstages) convert_stage(s + 1, fb);
          finish_stage(s);
          if (s + 1 >= nstages) break;
          issue_stage(s + 1, fb);
          if (s + 2 < nstages) convert_stage(s + 2, fa);
          finish_stage(s + 1);
        }
      }
    }
  }

  __syncthreads();   // all stages consumed: the stages become `red`, as in decode_kernel
  float* red = reinterpret_cast<float*>(pipe);
  if (warp < CW) {
#pragma unroll
    for (int rr = 0; rr < R; ++rr)
#pragma unroll
      for (int c = 0; c < kD / 4; ++c)
        store_fragment<G::kNPad>(red, (wgroup * R + rr) * 4 + wq, c, lane, acc[rr][4 * c + 0], acc[rr][4 * c + 1],
                                 acc[rr][4 * c + 2], acc[rr][4 * c + 3]);
  }
  reduce_cluster_and_store<Act, G::kTileM, G::kNPad, G::kThreads>(red, p, tid);
}

// decode_gemm.cuh's launcher (maps, splits, cluster launch) with this kernel.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, bool Pipe = false>
using Launcher = decode::Launcher<Act, Bits, Signed, Zero, NT, CW, R, STAGES,
                                  &decode_wgmma_kernel<Act, Bits, Signed, Zero, NT, CW, R, STAGES, Pipe>>;

}  // namespace wg
}  // namespace decode
}  // namespace mixgemm
