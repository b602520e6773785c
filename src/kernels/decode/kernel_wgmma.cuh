// The wgmma decode kernel (16-64 tokens of 4-bit weights): the shared pipeline (pipeline.cuh) with
// warpgroup MMAs in place of mma.sync (docs/notes/wgmma-pipeline.md).
//
//  - Consumer warps form warpgroups; warpgroup g owns R slabs of 64 rows and warp w of the group the
//    16 rows (w % 4) of each slab. That is one packed 16x16 block per K block, and the A fragment of
//    wgmma.m64nNk16 held by one warp has the layout of mma.m16n8k16's A: the packed layout and the
//    integer conversion are the mma.sync kernel's.
//  - The activation box (N rows of 128 bytes, 128-byte swizzled, as the TMA writes it) is the K-major
//    B operand: one shared-memory descriptor per stage, advanced 32 bytes per K block.
//  - The group scale (and for uint4 the zero term z' = -s*z) is applied to the converted fragment in
//    16-bit arithmetic, so the accumulators hold finished sums: no per-group fp32 fold that would have
//    to wait for the wgmmas, no sum warp. The wgmmas of one step stay in flight while the warpgroup
//    converts the next (wgmma.wait_group 1). Cost: one 16-bit multiply (or FMA) per weight pair and one
//    16-bit rounding of each scaled weight, as in Marlin and CUTLASS's scale-in-registers mode.
//  - PW producer warps: producer w issues stages w, w + PW, ... (each ring slot has one producer),
//    where one thread's TMA issue is slower than the consumers (docs/notes/producer-warps.md).
//  - Two pipelines: per stage (PerBlock = false: two stages' fragments live) or per K block (PerBlock =
//    true: two K blocks' fragments live, which leaves registers for 256-row tiles at three CTAs per SM).
#pragma once

#include "kernels/decode/launcher.cuh"
#include "kernels/decode/pipeline.cuh"

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

// D[64 x N] += A[64 x 16] (registers) * B[16 x N] (shared memory, K-major): d holds this thread's N/2
// fp32 values, 4 per 8-column chunk c: (row, 8c + 2(lane%4) + {0,1}) then (row + 8, same columns).
// Inline asm takes its operands as a fixed list, which a template cannot generate, so one macro writes
// the specialisation of each N for both activation types: ACCS names the N/2 accumulator operands
// (%0 ...), A_DESC the four A registers and B's descriptor that follow them, PRED the last operand (the
// constant 1 that sets scale-d: accumulate into d). The trailing "1, 1, 0": A and B not negated, B not
// transposed (K-major).
template <class Act, int N> struct Wgmma;

#define MIXGEMM_ACC4(i) "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3])
#define MIXGEMM_ACC8(i) MIXGEMM_ACC4(i), MIXGEMM_ACC4(i + 4)
#define MIXGEMM_WGMMA_PTX(N, TYPE, ACCS, A_DESC, PRED)                                          \
  "{\n.reg .pred p;\nsetp.ne.b32 p, " PRED ", 0;\n"                                             \
  "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TYPE "." TYPE " " ACCS ", " A_DESC ", p, 1, 1, 0;\n}\n"
#define MIXGEMM_WGMMA(N, ACCS, A_DESC, PRED, ...)                                                        \
  template <class Act> struct Wgmma<Act, N> {                                                           \
    static __device__ __forceinline__ void run(float (&d)[N / 2], const uint32_t (&a)[4], uint64_t desc_b) { \
      if constexpr (std::is_same<Act, __half>::value)                                                   \
        asm volatile(MIXGEMM_WGMMA_PTX(N, "f16", ACCS, A_DESC, PRED)                                     \
                     : __VA_ARGS__                                                                      \
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));                \
      else                                                                                              \
        asm volatile(MIXGEMM_WGMMA_PTX(N, "bf16", ACCS, A_DESC, PRED)                                    \
                     : __VA_ARGS__                                                                      \
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));                \
    }                                                                                                   \
  };

MIXGEMM_WGMMA(16, "{%0, %1, %2, %3, %4, %5, %6, %7}", "{%8, %9, %10, %11}, %12", "%13", MIXGEMM_ACC8(0))
MIXGEMM_WGMMA(32,
              "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}",
              "{%16, %17, %18, %19}, %20", "%21", MIXGEMM_ACC8(0), MIXGEMM_ACC8(8))
MIXGEMM_WGMMA(48,
              "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, "
              "%20, %21, %22, %23}",
              "{%24, %25, %26, %27}, %28", "%29", MIXGEMM_ACC8(0), MIXGEMM_ACC8(8), MIXGEMM_ACC8(16))
MIXGEMM_WGMMA(64,
              "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, "
              "%20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}",
              "{%32, %33, %34, %35}, %36", "%37", MIXGEMM_ACC8(0), MIXGEMM_ACC8(8), MIXGEMM_ACC8(16),
              MIXGEMM_ACC8(24))

#undef MIXGEMM_WGMMA
#undef MIXGEMM_WGMMA_PTX
#undef MIXGEMM_ACC8
#undef MIXGEMM_ACC4

template <int N> __device__ __forceinline__ void wait_group() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

template <class Act> __device__ __forceinline__ uint32_t mul2(uint32_t a, uint32_t s) {
  uint32_t r;
  if constexpr (std::is_same<Act, __half>::value)
    asm("mul.rn.f16x2 %0, %1, %2;\n" : "=r"(r) : "r"(a), "r"(s));
  else
    asm("mul.rn.bf16x2 %0, %1, %2;\n" : "=r"(r) : "r"(a), "r"(s));
  return r;
}

template <class Act> __device__ __forceinline__ uint32_t fma2(uint32_t a, uint32_t s, uint32_t z) {
  uint32_t r;
  if constexpr (std::is_same<Act, __half>::value)
    asm("fma.rn.f16x2 %0, %1, %2, %3;\n" : "=r"(r) : "r"(a), "r"(s), "r"(z));
  else
    asm("fma.rn.bf16x2 %0, %1, %2, %3;\n" : "=r"(r) : "r"(a), "r"(s), "r"(z));
  return r;
}

// One 16-bit value broadcast to both halves of a register.
template <class Act> __device__ __forceinline__ uint32_t splat(const Act* v) {
  const uint32_t u = *reinterpret_cast<const unsigned short*>(v);
  return u | (u << 16);
}

// PerBlock: pipeline one K block at a time (else one stage at a time). Probe: the policy hooks
// (probe.cuh); NoProbe compiles to nothing.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, bool PerBlock,
          class Probe = NoProbe, int PW = 1>
__global__ void __launch_bounds__(Geometry<Bits, NT, Zero, CW, R, STAGES, false, 1, PW>::kThreads)
    decode_wgmma_kernel(const __grid_constant__ Maps maps, const Params p) {
  Probe::at(ProbePoint::kEntry);
  using G = Geometry<Bits, NT, Zero, CW, R, STAGES, /*SumWarp=*/false, 1, PW>;
  constexpr int kN = G::kNPad;
  constexpr int kD = kN / 2;
  static_assert(CW % 4 == 0, "consumer warps form whole warpgroups");
  static_assert(kN == 16 || kN == 32 || kN == 48 || kN == 64, "wgmma buckets are 16, 32, 48 or 64 tokens");
  extern __shared__ __align__(128) unsigned char smem[];
  uint64_t* full = reinterpret_cast<uint64_t*>(smem);
  uint64_t* empty = full + STAGES;
  unsigned char* pipe = smem + stage_ring_offset<G>(smem);

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const CtaWork cta = cta_work<G>(p);
  const int k0 = cta.k0, nstages = cta.nstages, mb0 = cta.mb0;

  cta_begin<G, Zero, Probe>(maps, full, tid);

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
    if (Probe::kSync && warp - CW < PW && lane == 0)
      produce_stages<G, Zero, STAGES, Probe>(maps, p, pipe, full, empty, k0, nstages, mb0, warp - CW, PW);
  } else {
    const bool g32 = p.group == 32;
    auto stage_ptr = [&](int s) { return pipe + (s % STAGES) * G::kStageBytes; };
    // Scales (and zero terms) of this thread's rows `row` and `row + 8` of row block rr, for the stage's
    // first (h = 0) and second (h = 1) 32 columns: sc[rr][h][0 or 1], both halves of each register.
    auto load_scales = [&](int s, uint32_t (&sc)[R][2][2], uint32_t (&zc)[R][2][2]) {
      const Act* ss = reinterpret_cast<const Act*>(stage_ptr(s) + G::kXBytes + G::kWBytes);
#pragma unroll
      for (int rr = 0; rr < R; ++rr) {
        const int row = ((wgroup * R + rr) * 4 + wq) * 16 + lane / 4;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int local = h && g32 ? 1 : 0;
          sc[rr][h][0] = splat(ss + local * G::kTileM + row);
          sc[rr][h][1] = splat(ss + local * G::kTileM + row + 8);
          if constexpr (Zero) {
            zc[rr][h][0] = splat(ss + 2 * G::kTileM + local * G::kTileM + row);
            zc[rr][h][1] = splat(ss + 2 * G::kTileM + local * G::kTileM + row + 8);
          }
        }
      }
    };
    // This warp's fragment of row block rr in K block kb of stage s, converted and scaled.
    auto convert_block = [&](int s, int kb, int rr, const uint32_t (&sc)[R][2][2], const uint32_t (&zc)[R][2][2],
                             uint32_t (&f)[4]) {
      const Word<Bits> wv = *reinterpret_cast<const Word<Bits>*>(stage_ptr(s) + G::kXBytes + kb * G::kWBlockBytes +
                                                                 ((wgroup * R + rr) * 4 + wq) * G::kAtomBytes +
                                                                 lane * Bits);
      uint32_t q[4];
      if constexpr (Probe::kConvert) {
        convert<Act, Signed>(wv, q);
      } else {
        q[0] = q[1] = q[2] = q[3] = *reinterpret_cast<const uint32_t*>(&wv);
      }
      const int h = kb / 2;   // 16-column K block kb lies in the stage's half h
#pragma unroll
      for (int i = 0; i < 4; ++i) {   // registers 0, 2: row; 1, 3: row + 8
        if constexpr (Zero)
          f[i] = fma2<Act>(q[i], sc[rr][h][i & 1], zc[rr][h][i & 1]);
        else
          f[i] = mul2<Act>(q[i], sc[rr][h][i & 1]);
      }
    };
    // The wgmma, or for a timing probe without MMAs (Probe::kMma false) a fold that keeps the fragment live.
    auto mma_or_fold = [&](float (&d)[kD], const uint32_t (&a)[4], uint64_t desc_b) {
      if constexpr (Probe::kMma) {
        Wgmma<Act, kN>::run(d, a, desc_b);
      } else {
        d[0] = __uint_as_float(__float_as_uint(d[0]) ^ a[0] ^ a[1] ^ a[2] ^ a[3] ^ uint32_t(desc_b));
      }
    };
    auto release = [&](int s) {
      __syncwarp();
      if (lane == 0) sm90::mbar_arrive(&empty[s % STAGES]);
      Probe::at(ProbePoint::kReleased, s);
    };
    uint32_t sc[R][2][2], zc[R][2][2];
    if constexpr (PerBlock) {
      // One K block at a time: convert block t, issue its R wgmmas, then wait_group 1 (block t-1 done),
      // so the fragments of two blocks are live, not of two stages: room for 256-row tiles.
      uint32_t f[2][R][4] = {};
      // Unrolled by two stages: with the loop rolled, ptxas could not tell the two buffers apart across
      // the back edge and serialised every wgmma (C7513).
#pragma unroll 2
      for (int s = 0; s < nstages; ++s) {
        if constexpr (Probe::kSync) sm90::mbar_wait(&full[s % STAGES], (s / STAGES) & 1);
        Probe::at(ProbePoint::kLanded, s);
        load_scales(s, sc, zc);
        const uint64_t desc = desc_kmajor_sw128(sm90::smem_addr(stage_ptr(s)));
#pragma unroll
        for (int kb = 0; kb < kStageBlocks; ++kb) {
#pragma unroll
          for (int rr = 0; rr < R; ++rr) convert_block(s, kb, rr, sc, zc, f[kb & 1][rr]);
          fence();
#pragma unroll
          for (int rr = 0; rr < R; ++rr) mma_or_fold(acc[rr], f[kb & 1][rr], desc + uint64_t(2 * kb));
          commit();
          wait_group<1>();
          if (kb == 0 && s > 0) release(s - 1);
        }
      }
    } else {
      uint32_t fa[kStageBlocks][R][4], fb[kStageBlocks][R][4];
      // Wait for stage s, then convert and scale all of this warp's fragments of it.
      auto convert_stage = [&](int s, uint32_t (&f)[kStageBlocks][R][4]) {
        if constexpr (Probe::kSync) sm90::mbar_wait(&full[s % STAGES], (s / STAGES) & 1);
        Probe::at(ProbePoint::kLanded, s);
        load_scales(s, sc, zc);
#pragma unroll
        for (int kb = 0; kb < kStageBlocks; ++kb)
#pragma unroll
          for (int rr = 0; rr < R; ++rr) convert_block(s, kb, rr, sc, zc, f[kb][rr]);
        Probe::at(ProbePoint::kConverted, s);
      };
      auto issue_stage = [&](int s, const uint32_t (&f)[kStageBlocks][R][4]) {
        const uint64_t desc = desc_kmajor_sw128(sm90::smem_addr(stage_ptr(s)));
        fence();
#pragma unroll
        for (int kb = 0; kb < kStageBlocks; ++kb)
#pragma unroll
          for (int rr = 0; rr < R; ++rr) mma_or_fold(acc[rr], f[kb][rr], desc + uint64_t(2 * kb));
        commit();
        Probe::at(ProbePoint::kMmaIssued, s);
      };
      // Two fragment buffers and the loop unrolled by two stages keep both in registers. After stage t's
      // wgmmas are issued, wait_group 1 means stage t-1's are done: its stage and its buffer are free.
      if (nstages > 0) convert_stage(0, fa);
#pragma unroll 1
      for (int s = 0; s < nstages; s += 2) {
        issue_stage(s, fa);
        wait_group<1>();
        if (s > 0) release(s - 1);
        if (s + 1 >= nstages) break;
        convert_stage(s + 1, fb);
        issue_stage(s + 1, fb);
        wait_group<1>();
        release(s);
        if (s + 2 < nstages) convert_stage(s + 2, fa);
      }
    }
    wait_group<0>();
    if (nstages > 0) release(nstages - 1);
  }

  cta_end<G, Act, Probe>(p, pipe, full, tid, [&](float* xfer, const PartialChunks& pc) {
    if (warp < CW) {
#pragma unroll
      for (int rr = 0; rr < R; ++rr)
#pragma unroll
        for (int c = 0; c < kD / 4; ++c)
          store_fragment(xfer, pc, (wgroup * R + rr) * 4 + wq, c, lane, acc[rr][4 * c + 0], acc[rr][4 * c + 1],
                         acc[rr][4 * c + 2], acc[rr][4 * c + 3]);
    }
  });
}

// The decode launcher (launcher.cuh) with this kernel; its geometry has no sum warp, and PW producer warps.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, bool PerBlock, int PW = 1>
using Launcher = decode::Launcher<Act, Bits, Signed, Zero, NT, CW, R, STAGES,
                                  &decode_wgmma_kernel<Act, Bits, Signed, Zero, NT, CW, R, STAGES, PerBlock, NoProbe, PW>,
                                  /*Pdl=*/false, /*SumWarp=*/false, /*KG=*/1, PW>;

}  // namespace wg
}  // namespace decode
}  // namespace mixgemm
