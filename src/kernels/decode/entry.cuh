// The decode family's catalog adapter: a generated config struct (src/catalog/catalog.py, one per
// entry) in, the entry's KernelOps (check, workspace, run, stage walk) out. Every template value comes
// from the config; this file only maps the names to the kernels' parameters.
#pragma once

#include <algorithm>
#include <string>

#include "catalog/entry.h"
#include "kernels/decode/kernel_mma_sync.cuh"
#include "kernels/decode/kernel_wgmma.cuh"
#include "kernels/decode/launcher.cuh"

namespace mixgemm {
namespace decode {

// A decode config (generated; the field list is catalog.py's Entry):
//   using Act;                                  __half or __nv_bfloat16
//   WeightType kWeight; int kTileM, kTokens;    tile rows and token bucket
//   bool kWgmma;                                wgmma kernel (kernel_wgmma.cuh), else mma.sync (kernel_mma_sync.cuh)
//   int kConsumerWarps, kRowBlocks, kConsumerGroups, kProducerWarps, kStages;
//   bool kPerKBlock, kSumWarp;                  wgmma pipeline per K block; mma.sync sum warp
//   double kCtaLoad; bool kOneCtaPerSm, kAnyN;  the launch plan's knobs
// The launcher of a config's kernel. A specialisation, not std::conditional: naming a kernel
// instantiates it, and the wgmma kernel exists only for its token buckets.
template <class C, int Bits, bool Signed, bool Zero, bool Wgmma = C::kWgmma>
struct LauncherOf {
  static constexpr int NT = C::kTokens / 8;
  using type = Launcher<typename C::Act, Bits, Signed, Zero, NT, C::kConsumerWarps, C::kRowBlocks, C::kStages,
                        &decode_kernel<typename C::Act, Bits, Signed, Zero, NT, C::kConsumerWarps, C::kRowBlocks,
                                       C::kStages, C::kConsumerGroups, C::kProducerWarps>,
                        /*Pdl=*/false, C::kSumWarp, C::kConsumerGroups, C::kProducerWarps>;
};
template <class C, int Bits, bool Signed, bool Zero>
struct LauncherOf<C, Bits, Signed, Zero, true> {
  static_assert(C::kConsumerGroups == 1 && !C::kSumWarp, "the wgmma kernel has one consumer group, no sum warp");
  using type = wg::Launcher<typename C::Act, Bits, Signed, Zero, C::kTokens / 8, C::kConsumerWarps, C::kRowBlocks,
                            C::kStages, C::kPerKBlock, C::kProducerWarps>;
};

template <class C>
struct DecodeGemm {
  using Act = typename C::Act;
  static constexpr int kBits = C::kWeight == WeightType::S8 ? 8 : 4;
  static constexpr bool kSigned = C::kWeight != WeightType::U4;
  static constexpr bool kZero = C::kWeight == WeightType::U4;
  static constexpr int kNPad = C::kTokens;
  static_assert(C::kTileM == 16 * C::kConsumerWarps * C::kRowBlocks, "tile rows = 16 x consumer warps x row blocks");
  static_assert(C::kTokens % 8 == 0 && (C::kWgmma || !C::kPerKBlock), "mma.sync has one pipeline");
  // decode_kernel derives its sum warp from the weight type and bucket: the catalog must agree with it.
  static_assert(C::kWgmma || C::kSumWarp == (kZero && C::kTokens >= 16), "mma.sync sum warp: uint4, 16+ tokens");
  using L = typename LauncherOf<C, kBits, kSigned, kZero>::type;
  static_assert(L::G::kTileM == C::kTileM && L::G::kThreads == 32 * (C::kConsumerWarps * C::kConsumerGroups +
                                                                    C::kProducerWarps + (C::kSumWarp ? 1 : 0)),
                "the kernel's geometry is the catalog's");

  static std::string check(const GemmProblem& p) {
    if (p.n > kNPad && !C::kAnyN)
      return "N=" + std::to_string(p.n) + " exceeds this kernel's " + std::to_string(kNPad) + " tokens";
    if (p.group_size != 32 && p.group_size % 64 != 0) return "group_size must be 32 or a multiple of 64";
    if (p.m > (int64_t(1) << 30) || p.k > (int64_t(1) << 30) || p.n * p.k > (int64_t(1) << 40))
      return "problem too large";
    return {};
  }

  static size_t workspace_size(const GemmProblem&, int) { return 0; }

  // The launches' CTA cap (plan_splits' max_ctas): the SM count for kOneCtaPerSm, else none.
  static int64_t max_ctas(int sm_count) { return C::kOneCtaPerSm ? sm_count : 0; }

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
    for (int64_t n0 = 0; n0 < p.n; n0 += kNPad) {   // kAnyN: chunks of the bucket, each streaming W again
      prm.n = int(std::min<int64_t>(kNPad, p.n - n0));
      prm.x = static_cast<const Act*>(a.x) + n0 * p.k;
      prm.y = static_cast<Act*>(a.y) + n0 * p.m;
      L::launch(prm, a.device, a.sm_count, stream, 0, max_ctas(a.sm_count), C::kCtaLoad);
    }
  }

  // KernelOps::stage_walk: the stages each CTA walks under the launch's plan (L::plan, as run()'s
  // launches take it), times the waves of CTAs the device holds at once (plan_waves, as the split
  // cost counts them; one wave without a device).
  static int64_t stage_walk(const GemmProblem& p, int sm_count, int device) {
    const SplitPlan plan = L::plan(p.m, p.k, sm_count, device, 0, max_ctas(sm_count), C::kCtaLoad);
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
