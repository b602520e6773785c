// The decode kernels' policy hooks. The catalog's kernels take NoProbe: every switch on, every hook
// empty, so the policy compiles to nothing. The development harness (bench/dev/decode_dev.cu) derives
// timing probes from it (timestamps at the points below, or parts of the pipeline switched off).
#pragma once

namespace mixgemm {
namespace decode {

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
  static constexpr bool kPdl = false;     // mma.sync kernel, true: waits for the previous grid (PDL)
  static __device__ __forceinline__ void at(ProbePoint, int = 0) {}
};


}  // namespace decode
}  // namespace mixgemm
