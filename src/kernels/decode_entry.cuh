// The decode family's catalog adapter: which kernel and configuration serves each (weight type,
// activation type, token bucket, tile rows) entry, its problem checks, and its launch per call.
#pragma once

#include <string>
#include <type_traits>

#include "kernels/decode_gemm.cuh"
#include "kernels/decode_wgmma.cuh"

namespace mixgemm {
namespace decode {

// The launcher of decode_kernel with KG consumer groups, or with Wgmma of decode_wgmma_kernel
// (per-K-block pipeline on 256-row tiles, i.e. 8 consumer warps of 2 row blocks; per-stage
// pipeline on 128-row tiles). A specialisation, not
// std::conditional: naming a wgmma launcher instantiates its kernel, which exists only for 16, 32, 48
// and 64 tokens.
// Producer warps of decode_kernel (mma.sync): two on the two-group 128-row kernel for int8 (1 and 16
// tokens, whose plan keeps one CTA per SM, so one producer thread per SM issues every copy) and uint4
// (1-8 tokens, four boxes a stage); one elsewhere. Dev harness mode pwmma under the bench's sustained
// load (H100, us, one -> two producers): int8 N=16 8b.o 10.36 -> 9.89, 8b.qkv 13.13 -> 12.22, 8b.down
// 26.05 -> 23.27, reported case 13.49 -> 13.79, 70b.o 25.21 -> 25.50; uint4 N=1 reported case 10.25 ->
// 9.73, 8b.down 16.85 -> 14.57, 70b.o 17.65 -> 17.73; int4 N=1 mixed (70b.o 16.17 -> 17.25, 8b.down
// 15.01 -> 13.89), so it keeps one.
constexpr int mma_sync_producer_warps(int bits, bool zero, int kg) { return kg == 2 && (bits == 8 || zero) ? 2 : 1; }
template <bool Wgmma, class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, int KG>
struct LauncherFor {
  static constexpr int kPW = mma_sync_producer_warps(Bits, Zero, KG);
  using type = Launcher<Act, Bits, Signed, Zero, NT, CW, R, STAGES,
                        &decode_kernel<Act, Bits, Signed, Zero, NT, CW, R, STAGES, KG, kPW>, /*Pdl=*/false,
                        /*SumWarp=*/Zero && NT >= 2, KG, kPW>;
};
// Producer warps of the wgmma kernel: two (taking alternate stages) at 48 and 64 tokens, and at 32 tokens
// on 64- and 256-row tiles; one elsewhere. One producer thread issues a stage's three or four TMA
// boxes at ~500 cycles a stage (bench/NOTES.md, "Producer warps"), which is slower than the consumers
// of these tiles: without any copies at all (timing-only probe) 70b.down at 64 tokens takes 58.6 us,
// with them 79.4, and with two producers 70.6. Dev harness modes prod4 and pwsmall (H100, us, one ->
// two producers): 64 tokens 70b.down 83.0 -> 70.6, 70b.o 26.5 -> 22.3, 70b.qkv (64 rows) 33.6 ->
// 31.3, reported case (64 rows) 16.1 -> 14.0; 48 tokens 70b.o 25.8 -> 20.4, 8b.down 21.3 -> 20.4;
// 32 tokens 256 rows 70b.down 54.9 -> 53.3, 64 rows 70b.o 24.6 -> 19.5. Not on the 128-row 16- and
// 32-token tiles (the extra warp costs them a CTA per SM: 70b.qkv at 32 tokens 22.1 -> 28.5) or the
// 256-row 16-token tile of int4 (3 -> 2 CTAs per SM, within 3% either way); uint4's four boxes a stage
// make two worth that CTA there (mode pwu4, sustained: 70b.gate_up 104.0-105.8 -> 98.5-99.9, 70b.down
// 54.5 -> 51.3-53.2, 8b.gate_up within 1%).
constexpr int wgmma_producer_warps(int nt, int tile_m, bool zero) {
  return nt >= 6 || tile_m == 64 || (tile_m == 256 && (nt == 4 || (nt == 2 && zero))) ? 2 : 1;
}
template <class Act, int Bits, bool Signed, bool Zero, int NT, int CW, int R, int STAGES, int KG>
struct LauncherFor<true, Act, Bits, Signed, Zero, NT, CW, R, STAGES, KG> {
  static_assert(KG == 1, "the wgmma kernel has one consumer group");
  using type = wg::Launcher<Act, Bits, Signed, Zero, NT, CW, R, STAGES, /*PerBlock=*/16 * CW * R == 256,
                            wgmma_producer_warps(NT, 16 * CW * R, Zero)>;
};

// Catalog adapter: N up to NT*8 tokens and TM rows per CTA. 256-row tiles: 8 consumer warps x 2 row
// blocks. 64-row tiles (wgmma, 32-64 tokens): one warpgroup, 4 x 1, three CTAs per SM; 6 stages at
// 64 tokens, 8 at 32 and 48 (as the dev harness measured them: modes n64wide, rows64b).
// 128-row tiles: 4 x 2, except the wgmma kernel at 48 and 64 tokens: 8 warps (two warpgroups of 64
// rows) x 1, whose accumulators (24 or 32 fp32 per thread) and two stages of fragments leave two CTAs
// per SM (dev harness mode n64, H100, us: reported case 15.1, 8b.o 13.0, 8b.down 23.9 against 15.8, 13.1 and
// 24.1 with one warpgroup of 128 rows, and against the stock CUTLASS tiles' 23.1, 17.8 and 28.6).
// Stage counts as measured best on the H100 (bench/NOTES.md), chosen for
// two or more CTAs per SM. int8 with 256-row tiles and 16 tokens takes 5 stages of 19 KB, not 6: six
// left one CTA per SM, and five (two CTAs) measured 70b.down N=16 131.6 -> 101.2 us, 70b.qkv 49.8 ->
// 47.6, 70b.gate_up 174.2 -> 176.0 (dev harness mode s8stages, H100, 2026-11-25).
// Wgmma: the wgmma kernel (decode_wgmma.cuh; per-stage pipeline on 128-row tiles, per-K-block on
// 256-row tiles, as measured fastest), else decode_kernel's mma.sync; the catalog (catalog.py,
// decode_mma) says which entry takes which. The wgmma kernel at 32 tokens takes 6 stages (two CTAs per
// SM as the dev harness measured it), at 48 and 64 tokens on two warpgroups 8 stages of 11-13 KB
// (two CTAs per SM; 10 stages measured 2-6% slower at 48 tokens, dev harness mode n48). 8-token
// 128-row tiles (the small layers' mma.sync kernel) take two consumer groups: 8-11%
// faster at N=1 and 8 on the small bench layers (reported case 12.05 -> 10.50 us, 8b.o 9.20 -> 8.42,
// 70b.o 20.31 -> 19.23; dev harness mode kgroups, H100); four groups were no faster (occupancy
// halves). int8 takes two groups at 16 tokens too, and then splits K only as far as one CTA per SM
// (kGroups, kOneCtaPerSm below).
template <class Act, WeightType WT, int NT, int TM, bool Wgmma>
struct DecodeGemm {
  static constexpr int kBits = WT == WeightType::S8 ? 8 : 4;
  static constexpr bool kSigned = WT != WeightType::U4;
  static constexpr bool kZero = WT == WeightType::U4;
  static constexpr int kNPad = NT * 8;
  // 48 and 64 tokens on 128-row tiles: two warpgroups of 64 rows; 64-row tiles: one
  static constexpr bool kTwoGroupsOf64Rows = Wgmma && NT >= 6 && TM == 128;
  static constexpr int kR = kTwoGroupsOf64Rows || TM == 64 ? 1 : 2;
  static constexpr int kCW = TM / (16 * kR);
  static constexpr int stages() {
    if (TM == 64) return NT == 8 ? 6 : 8;
    if (kBits == 8 && TM == 256 && NT == 2) return 5;
    if (kTwoGroupsOf64Rows) return 8;
    if (TM == 256 || NT >= 8 || (Wgmma && NT >= 4)) return 6;
    return 8;
  }
  static constexpr int kStages = stages();
  // Two consumer groups also for int8 at 16 tokens (128 rows): faster than one at every split count
  // on the small layers (dev harness mode s8splits with DEV_S8_N16, H100, us, one group at the plan's
  // count -> two groups capped as below: reported case 15.84 -> 13.24, 8b.qkv 13.81 -> 12.32, 8b.down
  // 27.05 -> 24.46, 70b.o 28.80 -> 25.04, 8b.o 10.95 -> 10.36).
  static constexpr int kGroups = !Wgmma && TM == 128 && (NT == 1 || (kBits == 8 && NT == 2)) ? 2 : 1;
  // int8 on the two-group kernel: two CTAs on one SM stream no faster than one (reported case N=1,
  // per stage 0.28 us alone against 0.63 us each in pairs), so it splits K only as far as one CTA per
  // SM. Dev harness mode s8splits (H100, us, the plan's pick before -> capped, 1 token): reported case
  // 13.96 -> 12.82 (4 splits, not 8), 8b.qkv 12.26 -> 11.65, 70b.o 26.56 -> 24.77, 5120x5120 13.03 ->
  // 12.44, 8b.o 9.77 -> 9.58; 8b.down, 2048x4096 and 5120x13824 within 1%. int4 keeps its plan (four
  // CTAs per SM there).
  static constexpr bool kOneCtaPerSm = kBits == 8 && kGroups == 2;
  static_assert(TM == 128 || TM == 256 || (TM == 64 && Wgmma && NT >= 4),
                "decode tiles are 128 or 256 rows, or 64 rows for the wgmma kernel at 32-64 tokens");
  using L = typename LauncherFor<Wgmma, Act, kBits, kSigned, kZero, NT, kCW, kR, kStages, kGroups>::type;

  // The widest bucket also runs any N, in chunks of kNPad tokens (each chunk streams the weight
  // again): it is there for what no stock entry can run, e.g. group size 32 at prefill sizes.
  static constexpr bool kChunksTokens = NT == 8;

  static std::string check(const GemmProblem& p) {
    if (p.n > kNPad && !kChunksTokens)
      return "N=" + std::to_string(p.n) + " exceeds this kernel's " + std::to_string(kNPad) + " tokens";
    if (p.m % 16 != 0) return "M (out_features) must be a multiple of 16";
    if (p.k % 64 != 0) return "K (in_features) must be a multiple of 64";
    if (p.group_size != 32 && p.group_size % 64 != 0) return "group_size must be 32 or a multiple of 64";
    if (p.m > (int64_t(1) << 30) || p.k > (int64_t(1) << 30) || p.n * p.k > (int64_t(1) << 40))
      return "problem too large";
    return {};
  }

  static size_t workspace_size(const GemmProblem&, int) { return 0; }

  static void run(const GemmArgs& a, void*, size_t, cudaStream_t stream) {
    const GemmProblem& p = a.problem;
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
    prm.k_chunk = 0;
    for (int64_t n0 = 0; n0 < p.n; n0 += kNPad) {
      prm.n = int(std::min<int64_t>(kNPad, p.n - n0));
      prm.x = static_cast<const Act*>(a.x) + n0 * p.k;
      prm.y = static_cast<Act*>(a.y) + n0 * p.m;
      L::launch(prm, a.device, a.sm_count, stream, 0, max_ctas(a.sm_count));
    }
  }

  // The launches' CTA cap (plan_splits' max_ctas): the SM count for kOneCtaPerSm, else none.
  static int64_t max_ctas(int sm_count) { return kOneCtaPerSm ? sm_count : 0; }

  // KernelOps::stage_walk: the stages each CTA walks under the launch's plan (L::plan, as run()'s
  // launches take it), times the waves of CTAs the device holds at once (plan_waves, as the split
  // cost counts them; one wave without a device).
  static int64_t stage_walk(const GemmProblem& p, int sm_count, int device) {
    const SplitPlan plan = L::plan(p.m, p.k, sm_count, device, 0, max_ctas(sm_count));
    if (device < 0) return plan.stages_per_cta;
    const auto& occupancy = L::occupancy(device);   // the same once-per-device values L::ctas_per_sm reads
    const int64_t waves = plan_waves(plan, L::row_tiles(p.m), std::max(sm_count, 1),
                                     std::max(occupancy.ctas_per_sm, 1), &occupancy.capacity);
    return waves * plan.stages_per_cta;
  }

  static constexpr KernelOps ops() { return KernelOps{&check, &workspace_size, &run, &stage_walk}; }
};

}  // namespace decode
}  // namespace mixgemm
