// The mma.sync decode kernel (1-64 tokens; the catalog's 8-token tiles and int8): consumer warps read
// each stage's weight blocks and activations from shared memory and issue mma.m16n8k16 per quantization
// group, folding each group's fp32 sum with its scale (docs/notes/mma-sync-kernel.md).
#pragma once

#include "kernels/decode/pipeline.cuh"

namespace mixgemm {
namespace decode {

template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, class Probe = NoProbe,
          int KG = 1, int PW = 1>
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

  cta_begin<G, Zero, Probe>(maps, full, tid);

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

  cta_end<G, Act, Probe>(p, pipe, full, tid, [&acc, warp, lane, cw, kg](float* xfer, const PartialChunks& pc) {
    // Each group's partial sums of the same rows, added in group order.
    for (int g = 0; g < KG; ++g) {
      if (warp < CW * KG && kg == g) {
#pragma unroll
        for (int rr = 0; rr < R; ++rr)
#pragma unroll
          for (int t = 0; t < NT; ++t)
            store_fragment(xfer, pc, cw * R + rr, t, lane, acc[rr][t][0], acc[rr][t][1], acc[rr][t][2],
                           acc[rr][t][3], g > 0);
      }
      if (KG > 1) __syncthreads();
    }
  });
}

template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, int KG = 1, int PW = 1>
__global__ void __launch_bounds__(Geometry<Bits, NT, Zero, CW, R, STAGES, Zero && NT >= 2, KG, PW>::kThreads)
    decode_kernel(const __grid_constant__ Maps maps, const Params p) {
  decode_body<Act, Bits, Signed, Zero, NT, CW, R, STAGES, NoProbe, KG, PW>(maps, p);
}

}  // namespace decode
}  // namespace mixgemm
