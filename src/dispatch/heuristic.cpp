#include "dispatch/heuristic.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "heuristic_table.inc"   // generated: kRules
#include "kernels/decode/splits.h"

namespace mixgemm {

Facts::Facts(const GemmProblem& p, int sm_count, int device, const KernelEntry* entries, size_t count)
    : n(p.n), m(p.m), k(p.k), group(p.group_size), elements(double(p.m) * double(p.k)), p_(p), sm_count_(sm_count),
      device_(device), entries_(entries), count_(count) {}

namespace {

bool is(const char* a, const char* b) { return std::string(a) == b; }

// The split plan's cost of a generic decode tile of `tile_m` rows (cta_load: its rows / 128) at the
// nominal CTAs per SM, without the device's cluster capacities.
double generic_stage_walk(int tile_m, const GemmProblem& p, int sm_count) {
  const int64_t tiles = (p.m + tile_m - 1) / tile_m;
  if (tiles <= 0 || p.k < decode::kStageK || sm_count <= 0) return 0.0;
  const double load = std::max(1, tile_m / 128);
  const decode::SplitPlan plan =
      decode::plan_splits(tiles, p.k, sm_count, 0, nullptr, decode::SplitKernel{tile_m, 0, load});
  const int nominal = tile_m == 256 ? tuning::kNominalCtasPerSm256 : tuning::kNominalCtasPerSm128;
  return decode::split_cost(plan, tiles, sm_count, decode::SplitKernel{tile_m, nominal, load});
}

// The built wgmma decode entry of these types with this tile (it has a stage walk), if any.
const KernelEntry* decode_tile(const KernelEntry* entries, size_t count, const GemmProblem& p, int tile_m, int tile_n) {
  for (size_t i = 0; i < count; ++i) {
    const KernelEntry& e = entries[i];
    if (e.weight == p.weight && e.act == p.act && is(e.family, "decode") && is(e.mma, "wgmma") &&
        e.tile_m == tile_m && e.tile_n == tile_n && e.ops->stage_walk)
      return &e;
  }
  return nullptr;
}

}  // namespace

bool Facts::rows256_walk_fewer() const {
  if (walk256_ < 0) {
    walk256_ = generic_stage_walk(256, p_, sm_count_);
    walk128_ = generic_stage_walk(128, p_, sm_count_);
  }
  return walk256_ < walk128_;
}

bool Facts::rows64_walk_within(int tile_n) const {
  for (const Rows64& r : rows64_)
    if (r.tile_n == tile_n) return r.within;
  Rows64 r{tile_n, 0, 0, false};
  if (elements < tuning::kRows64MaxElements) {
    const KernelEntry* rows64 = decode_tile(entries_, count_, p_, 64, tile_n);
    const KernelEntry* rows128 = decode_tile(entries_, count_, p_, 128, tile_n);
    if (rows64 && rows128) {
      r.walk64 = rows64->ops->stage_walk(p_, sm_count_, device_);
      r.walk128 = rows128->ops->stage_walk(p_, sm_count_, device_);
      r.within = r.walk64 > 0 && r.walk128 > 0 && double(r.walk64) <= tuning::kRows64WalkRatio * double(r.walk128);
    }
  }
  rows64_.push_back(r);
  return r.within;
}

std::string Facts::evidence() const {
  std::string out;
  char buf[160];
  if (walk256_ >= 0) {
    std::snprintf(buf, sizeof buf, "generic stage cost 256 rows %.1f, 128 rows %.1f", walk256_, walk128_);
    out += buf;
  }
  for (const Rows64& r : rows64_) {
    if (r.walk64 == 0 && r.walk128 == 0) continue;
    std::snprintf(buf, sizeof buf, "%s%d-token stage walk 64 rows %lld, 128 rows %lld", out.empty() ? "" : "; ",
                  r.tile_n, static_cast<long long>(r.walk64), static_cast<long long>(r.walk128));
    out += buf;
  }
  return out;
}

namespace {

// Cost model for the stock CUTLASS entries: work in MMA columns of 128-row tiles (padding included),
// plus the weight streamed once per column of N tiles, plus the waves of output tiles. Small N is
// memory-bound (the narrowest tile that covers N wins); large N is compute-bound (wide tiles win).
// 256-row tiles read the activations once per 256 rows: out of the running below kWideRowsElements,
// ahead of the 128-row tile of the same width above it where the other terms tie.
double cutlass_cost(const KernelEntry& e, const GemmProblem& p, int sm_count) {
  const double elements = double(p.m) * double(p.k);
  const double n = double(std::max<int64_t>(p.n, 1));
  const double tiles_m = std::ceil(double(p.m) / e.tile_m);
  const double tiles_n = std::ceil(n / e.tile_n);
  const double rows128 = tiles_m * (e.tile_m / 128.0);
  const double mma_cols = rows128 * tiles_n * e.tile_n;
  const double weight_rereads = rows128 * tiles_n;
  const double waves = std::ceil(tiles_m * tiles_n / std::max(sm_count, 1));
  const double wide_rows = e.tile_m != 256 ? 0.0 : elements >= tuning::kWideRowsElements ? -0.25 : 1.0e3;
  return mma_cols / tuning::kMmaColumnsPerWeightStream + weight_rereads + tuning::kCostPerWave * waves + wide_rows;
}

// The decode fallback's row tile: the one the rules would take for this bucket (256 rows where they walk
// fewer stages; int8's mma.sync tiles by weight size).
bool decode_fallback_fits(const KernelEntry& e, const GemmProblem& p, const Facts& f) {
  const bool walk = is(e.mma, "wgmma") || (e.tile_n < 16 && p.weight != WeightType::S8);
  const bool wide = walk ? f.rows256_walk_fewer()
                         : f.elements >= (e.tile_n <= 16 ? tuning::kWideRowsElements : tuning::kInt8WideRowsFallback);
  return (e.tile_m == 256) == wide;
}

bool rule_picks(const Rule& r, const KernelEntry& e) {
  return r.pick == Rule::kEntry && is(e.family, r.family) && e.tile_m == r.tile_m && e.tile_n == r.tile_n &&
         is(e.mma, r.mma);
}

}  // namespace

std::vector<Candidate> rank_entries(const GemmProblem& p, int sm_count, int device, const std::string& problem_error,
                                 std::string* evidence) {
  const KernelEntry* entries = catalog_entries();
  const size_t count = catalog_size();
  const Facts f(p, sm_count, device, entries, count);
  std::vector<Candidate> runnable, rejected;
  std::vector<const KernelEntry*> cutlass, decode;   // runnable, in catalog order
  for (size_t i = 0; i < count; ++i) {
    const KernelEntry& e = entries[i];
    if (e.weight != p.weight || e.act != p.act) continue;
    const std::string why = problem_error.empty() ? e.ops->check(p) : problem_error;
    if (!why.empty()) {
      rejected.push_back(Candidate{&e, why, "", -1});
      continue;
    }
    (is(e.family, "cutlass") ? cutlass : decode).push_back(&e);
  }
  auto listed = [&](const KernelEntry* e) {
    return std::any_of(runnable.begin(), runnable.end(), [&](const Candidate& r) { return r.entry == e; });
  };
  auto walk = [&](const KernelEntry& e) {
    return e.ops->stage_walk ? double(e.ops->stage_walk(p, sm_count, device)) : -1.0;
  };
  int index = 0;
  // What the rules had compared when the pick's rule fired (the later rules, walked only to rank the
  // other candidates, may compare more).
  std::string pick_evidence;
  bool picked = false;
  for (const Rule& r : kRules) {
    if (r.weight != p.weight) continue;
    if (!picked && !runnable.empty()) pick_evidence = f.evidence(), picked = true;
    ++index;
    const std::string label = "rule " + std::to_string(index) + ": " + r.name;
    if (!r.when(f)) continue;
    if (r.pick == Rule::kEntry) {
      for (const KernelEntry* e : decode)
        if (rule_picks(r, *e) && !listed(e)) runnable.push_back(Candidate{e, "", label, walk(*e)});
      for (const KernelEntry* e : cutlass)
        if (rule_picks(r, *e) && !listed(e)) runnable.push_back(Candidate{e, "", label, cutlass_cost(*e, p, sm_count)});
    } else if (r.pick == Rule::kCutlassCost) {
      std::vector<Candidate> by_cost;
      for (const KernelEntry* e : cutlass)
        if (!listed(e)) by_cost.push_back(Candidate{e, "", label, cutlass_cost(*e, p, sm_count)});
      std::stable_sort(by_cost.begin(), by_cost.end(), [](const Candidate& a, const Candidate& b) { return a.cost < b.cost; });
      runnable.insert(runnable.end(), by_cost.begin(), by_cost.end());
    } else {
      std::vector<const KernelEntry*> rest;
      for (const KernelEntry* e : decode)
        if (!listed(e)) rest.push_back(e);
      // Narrowest bucket first, then the row tile the rules would take, then catalog order.
      std::stable_sort(rest.begin(), rest.end(), [&](const KernelEntry* a, const KernelEntry* b) {
        if (a->tile_n != b->tile_n) return a->tile_n < b->tile_n;
        return decode_fallback_fits(*a, p, f) && !decode_fallback_fits(*b, p, f);
      });
      for (const KernelEntry* e : rest) runnable.push_back(Candidate{e, "", label, walk(*e)});
    }
  }
  // Entries no rule reaches (a table without its fallbacks) still appear, after the rest.
  for (const KernelEntry* e : cutlass)
    if (!listed(e)) runnable.push_back(Candidate{e, "", "", cutlass_cost(*e, p, sm_count)});
  for (const KernelEntry* e : decode)
    if (!listed(e)) runnable.push_back(Candidate{e, "", "", walk(*e)});
  if (evidence) *evidence = picked ? pick_evidence : f.evidence();
  runnable.insert(runnable.end(), rejected.begin(), rejected.end());
  return runnable;
}

}  // namespace mixgemm
