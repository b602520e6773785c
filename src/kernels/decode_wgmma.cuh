// The decode family's wgmma kernel: the pipeline of decode_gemm.cuh (producer, TMA stages, split-K
// exchange, unchanged) with warpgroup MMAs in place of mma.sync. Serves the 16-, 32- and
// 64-token buckets of 4-bit weights in the catalog (decode_entry.cuh; bench/NOTES.md has the numbers).
//
//  - Consumer warps form warpgroups; warpgroup g owns R slabs of 64 rows and warp w of the group the
//    16 rows (w % 4) of each slab. That is one packed 16x16 block per K block, and the A fragment of
//    wgmma.m64nNk16 held by one warp has the layout of mma.m16n8k16's A: the packed layout and the
//    integer conversion are decode_kernel's.
//  - The activation box (N rows of 128 bytes, 128-byte swizzled, as the TMA writes it) is the K-major
//    B operand: one shared-memory descriptor per stage, advanced 32 bytes per K block.
//  - The group scale (and for uint4 the zero term z' = -s*z) is applied to the converted fragment in
//    16-bit arithmetic, so the accumulators hold finished sums: no per-group fp32 fold that would have
//    to wait for the wgmmas, no sum warp. The wgmmas of one step stay in flight while the warpgroup
//    converts the next (wgmma.wait_group 1). Cost: one 16-bit multiply (or FMA) per weight pair and one
//    16-bit rounding of each scaled weight, as in Marlin and CUTLASS's scale-in-registers mode.
//    Measured on the H100 at N=16 against decode_kernel (dev harness, us): reported case 16.6 ->
//    13.9, 8b.o 13.5 -> 12.3, 70b.o 29.7 -> 26.2 (128-row tiles); 70b.gate_up 97.7 -> 95.8, 70b.down
//    62.4 -> 61.2 (256-row tiles); uint4 2-7% over int4 on the 256-row tiles in the harness (5-10% in
//    the bench at 14cf925; 11-18% with decode_kernel's sum warp).
//  - Two pipelines: per stage (PerBlock = false: two stages' fragments live, fastest on 128-row tiles)
//    or per K block (PerBlock = true: two K blocks' fragments live, which leaves registers for 256-row
//    tiles at three CTAs per SM).
#pragma once

#include "kernels/decode_gemm.cuh"
#include "kernels/decode_streamk.cuh"

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

template <> struct Wgmma<__half, 16> {
  static __device__ __forceinline__ void run(float (&d)[8], const uint32_t (&a)[4], uint64_t desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %13, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n16k16.f32.f16.f16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7}, {%8, %9, %10, %11}, %12, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
  }
};

template <> struct Wgmma<__nv_bfloat16, 16> {
  static __device__ __forceinline__ void run(float (&d)[8], const uint32_t (&a)[4], uint64_t desc_b) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %13, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7}, {%8, %9, %10, %11}, %12, p, 1, 1, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "n"(1));
  }
};

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

// Stream-K: settle a finished segment of row tile t (streamk::settle) and, where this CTA holds the
// tile's whole sum, write y and the bias: thread tid (a consumer) holds the m64nN accumulator fragments
// of its warp's 16 rows (and + 8) of R slabs, in `sums` (local memory: not inlined, so that the
// epilogue's registers do not count against the main loop's).
template <class Act, int kTileM, int R, int kD>
__device__ __noinline__ void finish_tile(float4* sums, const streamk::Schedule sch, int me, int64_t t, bool whole,
                                         const Params& p, int tid, int threads, int* flag) {
  if (!streamk::settle<R * kD / 4>(sums, sch, me, t, whole, p, tid, threads, flag)) return;
  const int warp = tid / 32, lane = tid % 32, wgroup = warp / 4, wq = warp % 4;
  Act* y = static_cast<Act*>(p.y);
  const Act* bias = static_cast<const Act*>(p.bias);
  const float* a = reinterpret_cast<const float*>(sums);
  for (int rr = 0; rr < R; ++rr) {
    // rows row and row + 8 (M is a multiple of 16, so both are in y or both past it)
    const int64_t row = t * kTileM + ((wgroup * R + rr) * 4 + wq) * 16 + lane / 4;
    if (row >= p.m) continue;
    const float b_lo = bias ? ActOps<Act>::to_float(bias[row]) : 0.f;
    const float b_hi = bias ? ActOps<Act>::to_float(bias[row + 8]) : 0.f;
    for (int c = 0; c < kD / 4; ++c) {
#pragma unroll
      for (int j = 0; j < 2; ++j) {   // tokens n = 8c + 2(lane % 4) + j: registers 4c + j (row), 4c + 2 + j (row + 8)
        const int n = 8 * c + 2 * (lane % 4) + j;
        if (n < p.n) {
          y[int64_t(n) * p.m + row] = ActOps<Act>::from_float(a[rr * kD + 4 * c + j] + b_lo);
          y[int64_t(n) * p.m + row + 8] = ActOps<Act>::from_float(a[rr * kD + 4 * c + 2 + j] + b_hi);
        }
      }
    }
  }
}

// PerBlock: pipeline one K block at a time (else one stage at a time). Probe: decode_gemm.cuh's
// timestamp hook (the dev harness's mode wprobe); NoProbe compiles to nothing. StreamK: the grid walks
// equal shares of the row tiles' stages (decode_streamk.cuh) instead of a split-K cluster per row tile.
// MinCtas: CTAs per SM the registers must leave room for (__launch_bounds__).
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, bool PerBlock,
          class Probe = NoProbe, bool StreamK = false, int MinCtas = 1>
__global__ void __launch_bounds__(Geometry<Bits, NT, Zero, CW, R, STAGES, false>::kThreads, MinCtas)
    decode_wgmma_kernel(const __grid_constant__ Maps maps, const Params p) {
  Probe::at(ProbePoint::kEntry);
  using G = Geometry<Bits, NT, Zero, CW, R, STAGES, /*SumWarp=*/false>;
  constexpr int kN = G::kNPad;
  constexpr int kD = kN / 2;
  static_assert(CW % 4 == 0, "consumer warps form whole warpgroups");
  static_assert(kN == 16 || kN == 32 || kN == 64, "wgmma buckets are 16, 32 or 64 tokens");
  extern __shared__ __align__(128) unsigned char smem[];
  uint64_t* full = reinterpret_cast<uint64_t*>(smem);
  uint64_t* empty = full + STAGES;
  unsigned char* pipe = smem + stage_ring_offset<G>(smem);

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  // The row tiles and stages this CTA walks: one segment (its split of one tile) or, for stream-K,
  // its share of the units, tile by tile (odd CTAs last tile first). The share's bounds are kept in
  // shared memory and each segment is worked out when it starts: held in registers across the main
  // loop they cost a CTA per SM on the 16- and 32-token tiles.
  const streamk::Schedule sch{int64_t((p.m + G::kTileM - 1) / G::kTileM) * (p.k / kStageK), p.k / kStageK,
                              int(gridDim.x)};
  const int me = int(blockIdx.x);
  __shared__ int64_t share[2];
  if (StreamK && tid == 0) share[0] = sch.start(me), share[1] = sch.start(me + 1);

  if (tid == 32 * CW) prepare_producer<G, Zero>(maps, full);
  __syncthreads();
  Probe::at(ProbePoint::kReady);

  const int nseg = StreamK ? __shfl_sync(0xffffffffu, int((share[1] - 1) / sch.stages - share[0] / sch.stages + 1), 0) : 1;
  struct Segment {
    int64_t tile;
    int k0, nstages;
  };
  auto segment = [&](int i) {
    if constexpr (!StreamK) {
      const CtaWork cta = cta_work<G>(p);
      return Segment{int64_t(blockIdx.x), cta.k0, cta.nstages};
    } else {
      const int64_t u0 = *static_cast<volatile int64_t*>(share), u1 = *static_cast<volatile int64_t*>(share + 1);
      const int64_t t = (me & 1) ? (u1 - 1) / sch.stages - i : u0 / sch.stages + i;
      const int64_t lo = max(u0, t * sch.stages) - t * sch.stages;
      const int64_t hi = min(u1, (t + 1) * sch.stages) - t * sch.stages;
      return Segment{t, int(lo) * kStageK, int(hi - lo)};
    }
  };

  const int wgroup = warp / 4, wq = warp % 4;
  float acc[R][kD];

  // Branch on the warpgroup index read through a shuffle, so the compiler knows every warp of a
  // warpgroup takes the same side (else it serialises the wgmmas: ptxas C7520).
  const int warpgroup_idx = __shfl_sync(0xffffffffu, tid / 128, 0);
  if (warpgroup_idx == CW / 4) {
    if (warp == CW && lane == 0) {
      int ph0 = 0;
      for (int i = 0; i < nseg; ++i) {
        const Segment sg = segment(i);
        produce_stages<G, Zero, STAGES, Probe>(maps, p, pipe, full, empty, sg.k0, sg.nstages,
                                               int(sg.tile * (G::kTileM / 16)), ph0);
        const int padded = (sg.nstages + STAGES - 1) / STAGES * STAGES;
        if (i + 1 < nseg) pad_ring<STAGES>(full, empty, sg.nstages, padded, ph0);
        ph0 ^= (padded / STAGES) & 1;
      }
    }
  } else {
    const bool g32 = p.group == 32;
    auto stage_ptr = [&](int q) { return pipe + (q % STAGES) * G::kStageBytes; };
    // Scales (and zero terms) of this thread's rows `row` and `row + 8` of row block rr, for the stage's
    // first (h = 0) and second (h = 1) 32 columns: sc[rr][h][0 or 1], both halves of each register.
    auto load_scales = [&](int q, uint32_t (&sc)[R][2][2], uint32_t (&zc)[R][2][2]) {
      const Act* ss = reinterpret_cast<const Act*>(stage_ptr(q) + G::kXBytes + G::kWBytes);
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
    // This warp's fragment of row block rr in K block kb of the stage at ring position q, converted
    // and scaled.
    auto convert_block = [&](int q, int kb, int rr, const uint32_t (&sc)[R][2][2], const uint32_t (&zc)[R][2][2],
                             uint32_t (&f)[4]) {
      const Word<Bits> wv = *reinterpret_cast<const Word<Bits>*>(stage_ptr(q) + G::kXBytes + kb * G::kWBlockBytes +
                                                                 ((wgroup * R + rr) * 4 + wq) * G::kAtomBytes +
                                                                 lane * Bits);
      uint32_t qv[4];
      convert<Act, Signed>(wv, qv);
      const int h = kb / 2;   // 16-column K block kb lies in the stage's half h
#pragma unroll
      for (int i = 0; i < 4; ++i) {   // registers 0, 2: row; 1, 3: row + 8
        if constexpr (Zero)
          f[i] = fma2<Act>(qv[i], sc[rr][h][i & 1], zc[rr][h][i & 1]);
        else
          f[i] = mul2<Act>(qv[i], sc[rr][h][i & 1]);
      }
    };
    auto release = [&](int q, int s) {
      __syncwarp();
      if (lane == 0) sm90::mbar_arrive(&empty[q % STAGES]);
      Probe::at(ProbePoint::kReleased, s);
    };
    // Walk `nstages` stages into acc (which the caller zeroed). A segment starts at ring slot 0, in
    // the ring's phase ph0 (decode_streamk.cuh's segments are padded to whole rings: a slot index
    // from the loop counter alone keeps the stage descriptors in uniform registers).
    auto consume = [&](int ph0, int nstages) {
      uint32_t sc[R][2][2], zc[R][2][2];
      if constexpr (PerBlock) {
        // One K block at a time: convert block t, issue its R wgmmas, then wait_group 1 (block t-1
        // done), so the fragments of two blocks are live, not of two stages: room for 256-row tiles.
        uint32_t f[2][R][4] = {};
        // Unrolled by two stages: with the loop rolled, ptxas could not tell the two buffers apart
        // across the back edge and serialised every wgmma (C7513).
#pragma unroll 2
        for (int s = 0; s < nstages; ++s) {
          const int q = s;
          sm90::mbar_wait(&full[q % STAGES], ((q / STAGES) & 1) ^ ph0);
          Probe::at(ProbePoint::kLanded, s);
          load_scales(q, sc, zc);
          const uint64_t desc = desc_kmajor_sw128(sm90::smem_addr(stage_ptr(q)));
#pragma unroll
          for (int kb = 0; kb < kStageBlocks; ++kb) {
#pragma unroll
            for (int rr = 0; rr < R; ++rr) convert_block(q, kb, rr, sc, zc, f[kb & 1][rr]);
            fence();
#pragma unroll
            for (int rr = 0; rr < R; ++rr) Wgmma<Act, kN>::run(acc[rr], f[kb & 1][rr], desc + uint64_t(2 * kb));
            commit();
            wait_group<1>();
            if (kb == 0 && s > 0) release(q - 1, s - 1);
          }
        }
      } else {
        uint32_t fa[kStageBlocks][R][4], fb[kStageBlocks][R][4];
        // Wait for stage s, then convert and scale all of this warp's fragments of it.
        auto convert_stage = [&](int s, uint32_t (&f)[kStageBlocks][R][4]) {
          const int q = s;
          sm90::mbar_wait(&full[q % STAGES], ((q / STAGES) & 1) ^ ph0);
          Probe::at(ProbePoint::kLanded, s);
          load_scales(q, sc, zc);
#pragma unroll
          for (int kb = 0; kb < kStageBlocks; ++kb)
#pragma unroll
            for (int rr = 0; rr < R; ++rr) convert_block(q, kb, rr, sc, zc, f[kb][rr]);
          Probe::at(ProbePoint::kConverted, s);
        };
        auto issue_stage = [&](int s, const uint32_t (&f)[kStageBlocks][R][4]) {
          const uint64_t desc = desc_kmajor_sw128(sm90::smem_addr(stage_ptr(s)));
          fence();
#pragma unroll
          for (int kb = 0; kb < kStageBlocks; ++kb)
#pragma unroll
            for (int rr = 0; rr < R; ++rr) Wgmma<Act, kN>::run(acc[rr], f[kb][rr], desc + uint64_t(2 * kb));
          commit();
          Probe::at(ProbePoint::kMmaIssued, s);
        };
        // Two fragment buffers and the loop unrolled by two stages keep both in registers. After stage
        // t's wgmmas are issued, wait_group 1 means stage t-1's are done: its stage and buffer are free.
        if (nstages > 0) convert_stage(0, fa);
#pragma unroll 1
        for (int s = 0; s < nstages; s += 2) {
          issue_stage(s, fa);
          wait_group<1>();
          if (s > 0) release(s - 1, s - 1);
          if (s + 1 >= nstages) break;
          convert_stage(s + 1, fb);
          issue_stage(s + 1, fb);
          wait_group<1>();
          release(s, s);
          if (s + 2 < nstages) convert_stage(s + 2, fa);
        }
      }
      wait_group<0>();
      if (nstages > 0) release(nstages - 1, nstages - 1);
    };

    int ph0 = 0;
    for (int i = 0; i < nseg; ++i) {
      Segment sg = segment(i);
      // Through a shuffle the compiler knows the stage count is the same across the warp, so the loop
      // counter and the stage descriptors stay in uniform registers (read from shared memory it took 48
      // R2UR moves per two stages on the 32-token tile).
      if constexpr (StreamK) sg.nstages = __shfl_sync(0xffffffffu, sg.nstages, 0);
#pragma unroll
      for (int rr = 0; rr < R; ++rr)
#pragma unroll
        for (int j = 0; j < kD; ++j) acc[rr][j] = 0.f;
      consume(ph0, sg.nstages);
      if constexpr (StreamK) {
        // Pad the segment to whole rings: wait for each padding slot's empty arrival and hand it back.
        const int padded = (sg.nstages + STAGES - 1) / STAGES * STAGES;
        if (i + 1 < nseg)
          for (int s = sg.nstages; s < padded; ++s) {
            sm90::mbar_wait(&full[s % STAGES], ((s / STAGES) & 1) ^ ph0);
            release(s, s);
          }
        ph0 ^= (padded / STAGES) & 1;
      }
      if constexpr (StreamK) {
        __shared__ int last_flag;
        float4 sums[R * kD / 4];
#pragma unroll
        for (int j = 0; j < R * kD / 4; ++j)
          sums[j] = make_float4(acc[j / (kD / 4)][j % (kD / 4) * 4], acc[j / (kD / 4)][j % (kD / 4) * 4 + 1],
                                acc[j / (kD / 4)][j % (kD / 4) * 4 + 2], acc[j / (kD / 4)][j % (kD / 4) * 4 + 3]);
        finish_tile<Act, G::kTileM, R, kD>(sums, sch, me, sg.tile, sg.k0 == 0 && sg.nstages == sch.stages, p, tid,
                                            32 * CW, &last_flag);
      }
    }
  }
  if constexpr (StreamK) return;

  __syncthreads();
  Probe::at(ProbePoint::kLoopDone);
  float* xfer = reinterpret_cast<float*>(pipe);   // the split-K exchange (PartialChunks)
  const PartialChunks pc(G::kTileM, kN, int(gridDim.y));
  if (warp < CW) {
#pragma unroll
    for (int rr = 0; rr < R; ++rr)
#pragma unroll
      for (int c = 0; c < kD / 4; ++c)
        store_fragment(xfer, pc, (wgroup * R + rr) * 4 + wq, c, lane, acc[rr][4 * c + 0], acc[rr][4 * c + 1],
                       acc[rr][4 * c + 2], acc[rr][4 * c + 3]);
  }
  exchange_and_store<Act, G::kTileM, G::kThreads, Probe>(xfer, &full[G::kPartialsBarrier], pc, p, tid);
  Probe::at(ProbePoint::kStored);
}

// decode_gemm.cuh's launcher (maps, splits, cluster launch) with this kernel; its geometry has no sum
// warp. StreamK: one launch of as many CTAs as fit at once (or `ctas` > 0 of them, for experiments),
// with the workspace (streamk::workspace_bytes) in the parameters and its counters zero.
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, bool PerBlock,
          bool StreamK = false, int MinCtas = 1>
struct Launcher
    : decode::Launcher<Act, Bits, Signed, Zero, NT, CW, R, STAGES,
                       &decode_wgmma_kernel<Act, Bits, Signed, Zero, NT, CW, R, STAGES, PerBlock, NoProbe, StreamK, MinCtas>,
                       /*Pdl=*/false, /*SumWarp=*/false> {
  using Base = decode::Launcher<Act, Bits, Signed, Zero, NT, CW, R, STAGES,
                                &decode_wgmma_kernel<Act, Bits, Signed, Zero, NT, CW, R, STAGES, PerBlock, NoProbe,
                                                     StreamK, MinCtas>,
                                /*Pdl=*/false, /*SumWarp=*/false>;
  using G = typename Base::G;
  static constexpr bool kStreamK = StreamK;
  // CTAs per SM at most, from shared memory and threads alone (the registers may allow fewer): sizes
  // the workspace without asking the device.
  static constexpr int kCtaBound = std::min<int>(233472 / int(G::kSmem + 1024), 2048 / G::kThreads);

  static streamk::Schedule schedule(int64_t m, int64_t k, int ctas) {
    return streamk::Schedule{(m + G::kTileM - 1) / G::kTileM * (k / kStageK), int(k / kStageK), ctas};
  }
  static int grid(int64_t m, int64_t k, int device, int sm_count, int ctas = 0) {
    const int capacity = std::min(Base::ctas_per_sm(device), kCtaBound) * sm_count;
    const streamk::Schedule s = schedule(m, k, 1);
    return ctas > 0 ? std::min<int>(ctas, int(std::min<int64_t>(s.units, capacity)))
                    : streamk::grid_for(s.units, s.stages, capacity);
  }
  static size_t workspace_size(int64_t m, int64_t k, int sm_count) {
    if (!StreamK) return 0;
    return streamk::workspace_bytes((m + G::kTileM - 1) / G::kTileM, kCtaBound * sm_count, G::kTileM, G::kNPad);
  }

  static void launch(const Params& prm, int device, int sm_count, cudaStream_t stream, int splits_or_ctas = 0) {
    if constexpr (!StreamK) {
      Base::launch(prm, device, sm_count, stream, splits_or_ctas);
    } else {
      const int ctas = grid(prm.m, prm.k, device, sm_count, splits_or_ctas);
      const Maps maps = Base::make_maps(prm);
      cudaLaunchAttribute attr[2];
      const cudaLaunchConfig_t cfg =
          cluster_launch_config(dim3(unsigned(ctas), 1, 1), G::kThreads, G::kSmem, 1, stream, attr);
      const cudaError_t err = cudaLaunchKernelEx(&cfg, Base::kernel, maps, prm);
      if (err != cudaSuccess)
        throw std::runtime_error(std::string("mixgemm: decode kernel launch failed: ") + cudaGetErrorString(err));
    }
  }
};

}  // namespace wg
}  // namespace decode
}  // namespace mixgemm
