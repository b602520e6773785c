#include "dispatch/dispatch.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "catalog_table.inc"   // generated: kEntries, kEntryCount (namespace mixgemm)
#include "kernels/decode_splits.h"

namespace mixgemm {

const char* weight_type_name(WeightType w) {
  switch (w) {
    case WeightType::S4: return "s4";
    case WeightType::U4: return "u4";
    case WeightType::S8: return "s8";
  }
  return "?";
}

const char* act_type_name(ActType a) { return a == ActType::F16 ? "f16" : "bf16"; }

const KernelEntry* catalog_entries() { return kEntries; }
size_t catalog_size() { return kEntryCount; }

const KernelEntry* find_entry(const std::string& name) {
  for (size_t i = 0; i < kEntryCount; ++i)
    if (name == kEntries[i].name) return &kEntries[i];
  return nullptr;
}

std::string validate_problem(const GemmProblem& p) {
  if (p.m <= 0 || p.k <= 0) return "M and K must be positive";
  if (p.n < 0) return "N must not be negative";
  if (p.group_size <= 0) return "group_size must be positive";
  if (p.k % p.group_size != 0) return "K must be a multiple of group_size";
  // The packed layout tiles 16x16 blocks, and quantize() packs K in multiples of 64.
  if (p.m % 16 != 0) return "M (out_features) must be a multiple of 16";
  if (p.k % 64 != 0) return "K (in_features) must be a multiple of 64";
  return {};
}

namespace {

// A wgmma decode entry's time in units of one 128-row stage: the launcher's split plan and its cost
// model (decode_splits.h), with the grid's waves at 3 CTAs per SM on 128-row tiles and 2 on 256-row
// (the launcher's capacity check is not known here); on ties the 128-row tile. It orders the bench
// layers' 128- and 256-row times at 16 tokens as measured. Same-run candidates at 07d0996
// (bench/results/h100-sxm-candidates-07d0996.jsonl, us, 128 vs 256 rows):
// 8b.qkv 9.5 / 10.1, 70b.qkv 20.1 / 23.4, 70b.o 17.3 / 18.1, 8b.gate_up 28.0 / 25.9; dev harness mode
// splits: reported case 9.6 / 10.4, 8b.o 7.5 / 9.3, 8b.down 15.6 / 22.0, 70b.down 49.5 / 47.0.
double decode_stage_walk(int tile_m, const GemmProblem& p, int sm_count) {
  const int64_t tiles = (p.m + tile_m - 1) / tile_m;
  if (tiles <= 0 || p.k < decode::kStageK || sm_count <= 0) return 0.0;
  const double load = std::max(1, tile_m / 128);
  const decode::SplitPlan plan = decode::plan_splits(tiles, p.k, sm_count, 0, nullptr, decode::SplitKernel{tile_m, 0, load});
  return decode::split_cost(plan, tiles, sm_count, decode::SplitKernel{tile_m, tile_m == 256 ? 2 : 3, load});
}

// Cost model for the stock CUTLASS entries: waves of output tiles (stream-K spreads the K loop of
// the last wave over idle SMs, so wave quantization matters less than padding waste), plus the
// N padding inside a tile. Small-N problems are memory-bound: any tile reads the weight once, so
// the narrowest tile that covers N wins; large N is compute-bound and prefers wide tiles.
// 256-row tiles (64 tokens) read the activations once per 256 rows instead of per 128: measured on
// the H100 at N=64 (same-run candidates, bench/results/h100-sxm-candidates-n64-e85c3f1.jsonl) they win from
// 80M weight elements (70b.gate_up 138.8 vs 170.0 us, 70b.down 74.1 vs 85.7, 70b.qkv 34.0 vs 41.3,
// 8b.gate_up 37.1 vs 46.0) and lose below (70b.o 31.9 vs 28.9, reported case 34.5 vs 23.1). Below it,
// at 33-64 tokens, the wgmma decode kernel takes the call (heuristic_cost).
constexpr double kWideRowsElements = 80.0e6;

// The wgmma decode entry of these types with this tile, if built.
const KernelEntry* decode_tile(const GemmProblem& p, int tile_m, int tile_n) {
  for (size_t i = 0; i < kEntryCount; ++i) {
    const KernelEntry& e = kEntries[i];
    if (e.weight == p.weight && e.act == p.act && std::string(e.family) == "decode" &&
        std::string(e.mma) == "wgmma" && e.tile_m == tile_m && e.tile_n == tile_n && e.ops->stage_walk)
      return &e;
  }
  return nullptr;
}

// 32-64 tokens: 64-row tiles (one warpgroup, three CTAs per SM, half the partial sums per CTA) instead
// of the bucket's 128-row tile where their CTAs walk at most 1.3x the stages, under each tile's launch
// plan (the split count its clusters fit at, the waves), on weights below 100M elements (the largest
// measured, 70b.qkv, has 84M). Dev harness mode rows64 (H100, us, N=64, 128 / 64 rows, the walks'
// ratio): it picks the faster tile on 11 of 12 shapes: 8b.o 12.2 / 10.9 (1.30), 70b.qkv 37.0 / 31.9
// (1.00), 5120x5120 14.1 / 12.8 (1.25), 5120x13824 28.2 / 27.5 (1.23), 2048x4096 10.4 / 8.8 (1.00)
// against the reported case 13.8 / 15.4 (2.00), 8b.qkv 12.9 / 13.8 (1.38), 8b.down 22.8 / 24.2
// (1.41), 13824x5120, 15360x5120 and 8b.gate_up (2.00: one split, or two waves); it misses 70b.o,
// 27.1 / 26.6 (1.49). Mode rows64b at 32 and 48 tokens on five small layers: right on all five at 32
// (8b.o 9.04 / 8.64 at 1.30; the others 11-23% slower on 64 rows) and on four of five at 48 (8b.o
// 10.46 / 9.74; misses 70b.o, 24.6 / 23.8 at 1.49). Since the plans know where clusters land
// (decode_splits.h, eleventh session) 70b.o's 128-row plan at 48/64 tokens is 2 splits (64 stages, not
// 43), so the rule takes the 64-row tile there; same-run candidates at ae197b4 (us, 64 / 128 rows): N=48
// 24.6 / 24.9, N=64 26.4 / 26.2 (FP8 27.5 / 27.3). Without the device (device < 0) the plans take
// every cluster to fit, which can differ from the launch's (70b.qkv: 4 splits of 128 rows, not 2).
bool prefer_64_rows(const GemmProblem& p, int tile_n, int sm_count, int device) {
  if (double(p.m) * double(p.k) >= 100.0e6) return false;
  const KernelEntry* rows64 = decode_tile(p, 64, tile_n);
  const KernelEntry* rows128 = decode_tile(p, 128, tile_n);
  if (!rows64 || !rows128) return false;
  const int64_t walk64 = rows64->ops->stage_walk(p, sm_count, device);
  const int64_t walk128 = rows128->ops->stage_walk(p, sm_count, device);
  return walk64 > 0 && walk128 > 0 && double(walk64) <= 1.3 * double(walk128);
}

double heuristic_cost(const KernelEntry& e, const GemmProblem& p, int sm_count, int device) {
  const double elements = double(p.m) * double(p.k);
  if (std::string(e.family) == "decode") {
    // Measured on the H100 (bench/NOTES.md): for N <= 16 the decode family beats every stock entry on
    // the bench layers (70b.gate_up N=16: 96 us vs 117 us; reported case 15.6 vs 19.3 us), and so do
    // its wgmma entries at 32 tokens (reported case 13.3 vs 20.1 us, 70b.down 55.9 vs 66.9, dev
    // harness against the bench's CUTLASS picks) and at 64 tokens on weights below 80M elements
    // (reported case 15.1 vs 23.1 us, 8b.o 13.0 vs 17.8, 8b.down 23.9 vs 28.6, 8b.qkv 15.4 vs 18.7 with
    // the split count its clusters fit in, decode_splits.h; 70b.o, 67M, since the bulk-copy exchange:
    // 26.7 us in the dev harness against the stock 128x64 tile's 28.7 in the bench), and so does its
    // 48-token bucket at 33-48 tokens (the narrowest bucket, as below); for wider N,
    // larger weights at 64 tokens, and mma.sync at 32 and 64 tokens, the stock tiles win, and decode
    // entries only run what they cannot (group size 32).
    // Within the family: the narrowest token bucket, then 128 or 256 rows (8 consumer warps). For the
    // wgmma kernel and the 4-bit 8-token kernel the tile whose CTAs walk fewer stage costs
    // (decode_stage_walk; 8 tokens, same-run candidates at 13be77f, us, 128 vs 256 rows: 70b.qkv 19.6 /
    // 20.5, 70b.down 47.2 / 47.0, 70b.gate_up 89.9 / 89.0, 8b.gate_up 25.0 / 25.1, 70b.o 17.0 / 17.1).
    // int8 by weight size as measured: 8 and 16 tokens, 256 rows from 80M elements (16 tokens since
    // the two-group 128-row kernel, same-run candidates at 6fbc68d, us, 128 vs 256 rows: 8b.down 25.2 /
    // 27.6, 70b.o 25.5 / 29.0, 70b.qkv 38.3 / 36.1); 32 tokens, from 48M (8b.down N=32 as measured
    // before: 31.2 / 26.2 us).
    // At 32-64 tokens, the bucket's 64- or 128-row tile (prefer_64_rows); the 64-row one also from
    // 80M elements, where it beats the stock 256-row tile (70b.qkv 31.9 against 34.3 us at N=64).
    const bool wgmma = std::string(e.mma) == "wgmma";
    const bool rows64 = wgmma && e.tile_n >= 32 && e.tile_m <= 128 && p.n <= 64 &&
                        prefer_64_rows(p, e.tile_n, sm_count, device);
    const bool preferred = e.tile_m == 64 ? rows64
                           : (e.tile_n <= 16 || (e.tile_n == 32 && wgmma) ||
                              (e.tile_n >= 48 && wgmma && elements < kWideRowsElements && p.n <= 64)) &&
                                 !(e.tile_m == 128 && rows64);
    const bool walk = wgmma || (e.tile_n < 16 && e.weight != WeightType::S8);
    const bool wide_rows = walk ? decode_stage_walk(256, p, sm_count) < decode_stage_walk(128, p, sm_count)
                                : elements >= (e.tile_n <= 16 ? 80.0e6 : 48.0e6);
    const bool tile_fits = (e.tile_m == 256) == wide_rows;
    return (preferred ? 1.0 : 1.0e6) + (tile_fits ? 0.0 : 0.5) + e.tile_n / 64.0;
  }
  const double n = double(std::max<int64_t>(p.n, 1));
  const double tiles_m = std::ceil(double(p.m) / e.tile_m);
  const double tiles_n = std::ceil(n / e.tile_n);
  const double padded_n = tiles_n * e.tile_n;
  // Work in "MMA columns" of 128-row tiles (padding included), plus the weight streamed once per
  // column of N tiles. One stream of the weight costs about what 64 MMA columns per 128 rows do (64
  // tokens is where int4 x fp16 turns from memory- to compute-bound on the H100), so at 33-63 tokens
  // one 64-wide tile beats three 16-wide ones that each stream the weight (70b.gate_up N=64: 170 vs
  // 435 us, same-run candidates), and wide tiles win at large N.
  const double rows128 = tiles_m * (e.tile_m / 128.0);
  const double mma_cols = rows128 * padded_n;
  const double weight_rereads = rows128 * tiles_n;
  const double waves = std::ceil(tiles_m * tiles_n / std::max(sm_count, 1));
  // 256-row tiles: out of the running below kWideRowsElements; above, ahead of the 128-row tile of the
  // same width where the terms above tie (one wave either way, e.g. 70b.down).
  const double wide_rows = e.tile_m != 256 ? 0.0 : elements >= kWideRowsElements ? -0.25 : 1.0e3;
  return mma_cols / 64.0 + weight_rereads + 0.5 * waves + wide_rows;
}

}  // namespace

std::vector<Candidate> rank_candidates(const GemmProblem& p, int sm_count, int device) {
  std::vector<Candidate> out;
  const std::string problem_error = validate_problem(p);
  for (size_t i = 0; i < kEntryCount; ++i) {
    const KernelEntry& e = kEntries[i];
    if (e.weight != p.weight || e.act != p.act) continue;
    Candidate c{&e, problem_error, 0.0};
    if (c.rejection.empty()) c.rejection = e.ops->check(p);
    c.score = heuristic_cost(e, p, sm_count, device);
    out.push_back(c);
  }
  std::stable_sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    if (a.rejection.empty() != b.rejection.empty()) return a.rejection.empty();
    return a.score < b.score;
  });
  return out;
}

Selection select_kernel(const GemmProblem& p, int sm_count, const std::string& forced, int device) {
  Selection s;
  if (!forced.empty()) {
    const KernelEntry* e = find_entry(forced);
    if (!e) {
      s.reason = "no catalog entry named '" + forced + "' in this build (see mixgemm.kernels())";
      return s;
    }
    if (e->weight != p.weight || e->act != p.act) {
      s.reason = "kernel '" + forced + "' is for " + weight_type_name(e->weight) + " weights and " +
                 act_type_name(e->act) + " activations, but the call has " + weight_type_name(p.weight) +
                 " weights and " + act_type_name(p.act) + " activations";
      return s;
    }
    std::string why = validate_problem(p);
    if (why.empty()) why = e->ops->check(p);
    if (!why.empty()) {
      s.reason = "kernel '" + forced + "' cannot run this problem: " + why;
      return s;
    }
    s.entry = e;
    s.reason = "forced with kernel=";
    return s;
  }
  auto ranked = rank_candidates(p, sm_count, device);
  if (ranked.empty()) {
    s.reason = std::string("this build has no kernel for ") + weight_type_name(p.weight) + " weights with " +
               act_type_name(p.act) + " activations";
    return s;
  }
  if (!ranked.front().rejection.empty()) {
    std::ostringstream os;
    os << "no kernel can run M=" << p.m << " N=" << p.n << " K=" << p.k << " group=" << p.group_size << ": ";
    const std::string problem_error = validate_problem(p);
    if (!problem_error.empty()) {
      os << problem_error;
    } else {   // each distinct reason once, with the kernels it applies to
      std::vector<std::pair<std::string, std::string>> reasons;
      for (const Candidate& c : ranked) {
        auto it = std::find_if(reasons.begin(), reasons.end(), [&](auto& r) { return r.first == c.rejection; });
        if (it == reasons.end()) reasons.emplace_back(c.rejection, c.entry->name);
        else it->second += std::string(", ") + c.entry->name;
      }
      for (size_t i = 0; i < reasons.size(); ++i)
        os << (i ? "; " : "") << reasons[i].first << " (" << reasons[i].second << ")";
    }
    s.reason = os.str();
    return s;
  }
  s.entry = ranked.front().entry;
  std::ostringstream os;
  os << "lowest heuristic cost (" << ranked.front().score << ") among " << ranked.size()
     << " entries for these types; tile " << s.entry->tile_m << "x" << s.entry->tile_n << " for N=" << p.n;
  s.reason = os.str();
  return s;
}

}  // namespace mixgemm
