// The dispatch heuristic: each weight format's ordered rule table (generated from
// src/catalog/heuristic.py into heuristic_table.inc) and the facts its conditions read. Host code that
// makes no CUDA call itself; with a device index the 64-row rule asks the decode entries for their
// launch plans on that device (KernelOps::stage_walk, which reads the occupancy once per device).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "catalog/entry.h"
#include "dispatch/dispatch.h"
#include "dispatch/tuning.h"

namespace mixgemm {

// What a rule's condition may read about the problem. The plan comparisons are computed on first use
// and kept, with the values they compared, so that explain() can show them.
class Facts {
 public:
  Facts(const GemmProblem& p, int sm_count, int device, const KernelEntry* entries, size_t count);

  const int64_t n, m, k, group;
  const double elements;   // M x K weight elements

  // 256-row tiles walk fewer stage-costs than 128-row ones: the split plan's cost model for a generic
  // tile of each height at nominal occupancy (tuning::kNominalCtasPerSm128/256), without the device.
  bool rows256_walk_fewer() const;
  // The bucket's 64-row wgmma tile walks at most tuning::kRows64WalkRatio x the 128-row tile's stages
  // (each under its own launch plan, on the call's device where known), below kRows64MaxElements.
  bool rows64_walk_within(int tile_n) const;

  // The values behind the comparisons made so far, for explain() ("" if none was needed).
  std::string evidence() const;

 private:
  const GemmProblem& p_;
  const int sm_count_, device_;
  const KernelEntry* entries_;
  const size_t count_;
  mutable double walk256_ = -1, walk128_ = -1;
  struct Rows64 { int tile_n; int64_t walk64, walk128; bool within; };
  mutable std::vector<Rows64> rows64_;
};

struct Rule {
  enum Pick { kEntry, kCutlassCost, kDecodeFallback };
  WeightType weight;
  const char* name;
  bool (*when)(const Facts&);
  Pick pick;
  // kEntry: the entry of the problem's activation type with this family, tile and MMA
  const char* family;
  int tile_m, tile_n;
  const char* mma;
};

// Every entry of the problem's types, the heuristic's pick first: the entries of the rules that hold,
// in rule order; then stock CUTLASS entries by cost; then decode entries, narrowest bucket first; then
// the entries that cannot run the problem. `evidence` receives Facts::evidence().
std::vector<Candidate> rank_entries(const GemmProblem& p, int sm_count, int device, const std::string& problem_error,
                                 std::string* evidence = nullptr);

}  // namespace mixgemm
