// Host-only checks of the pieces that decide what runs: the packed-weight layout, the catalog
// table, and kernel selection. Runs without a GPU (no CUDA call is made).
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "catalog/entry.h"
#include "dispatch/dispatch.h"
#include "kernels/decode/splits.h"
#include "kernels/pack.h"

using namespace mixgemm;

static int failures = 0;
#define EXPECT(cond, ...)                                       \
  do {                                                          \
    if (!(cond)) {                                              \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::printf(__VA_ARGS__);                                 \
      std::printf("\n");                                        \
      ++failures;                                               \
    }                                                           \
  } while (0)

// Lane t of a warp must own rows t/4 and t/4+8 and columns 2(t%4)+{0,1,8,9} of each 16x16 block
// (the mma A-fragment), at offsets 8t..8t+7, with the documented value interleave.
static void test_atom(int bits) {
  auto off = weight_atom_offsets(bits);
  std::set<int> seen(off.begin(), off.end());
  EXPECT(seen.size() == 256 && *seen.begin() == 0 && *seen.rbegin() == 255, "atom is not a permutation (bits=%d)", bits);
  // value v of the mma fragment: 0:(r,2c) 1:(r,2c+1) 2:(r+8,2c) 3:(r+8,2c+1) 4:(r,2c+8) 5:(r,2c+9) 6:(r+8,2c+8) 7:(r+8,2c+9)
  const int slot_of_value_4[8] = {0, 4, 1, 5, 2, 6, 3, 7};   // storage v0 v2 v4 v6 v1 v3 v5 v7
  const int slot_of_value_8[8] = {0, 2, 1, 3, 4, 6, 5, 7};   // storage v0 v2 v1 v3 v4 v6 v5 v7
  for (int t = 0; t < 32; ++t) {
    int r = t / 4, c = 2 * (t % 4);
    int rows[8] = {r, r, r + 8, r + 8, r, r, r + 8, r + 8};
    int cols[8] = {c, c + 1, c, c + 1, c + 8, c + 9, c + 8, c + 9};
    for (int v = 0; v < 8; ++v) {
      int slot = bits == 4 ? slot_of_value_4[v] : slot_of_value_8[v];
      int got = off[rows[v] * 16 + cols[v]];
      EXPECT(got == 8 * t + slot, "bits=%d lane %d value %d at %d, expected %d", bits, t, v, got, 8 * t + slot);
    }
  }
}

static void test_catalog() {
  std::set<std::string> names;
  for (size_t i = 0; i < catalog_size(); ++i) {
    const KernelEntry& e = catalog_entries()[i];
    EXPECT(names.insert(e.name).second, "duplicate entry %s", e.name);
    EXPECT(e.ops && e.ops->check && e.ops->run && e.ops->workspace_size, "entry %s lacks ops", e.name);
    EXPECT(find_entry(e.name) == &e, "find_entry(%s)", e.name);
    if (std::string(e.family) == "decode") {
      EXPECT(e.tile_m == 16 * e.consumer_warps * e.row_blocks && e.stages > 0 && e.stages % e.producer_warps == 0,
             "decode entry %s: geometry fields", e.name);
      EXPECT(e.ops->stage_walk != nullptr, "decode entry %s lacks a stage walk", e.name);
    }
  }
  EXPECT(find_entry("no_such_kernel") == nullptr, "unknown name found");
}

static void test_dispatch() {
  GemmProblem p;
  p.m = 3584; p.n = 16; p.k = 8192; p.group_size = 64;
  p.weight = WeightType::S4; p.act = ActType::F16;
  Selection s = select_kernel(p, 132);
  // Small N: the narrowest 128-row decode bucket if built (fastest measured), else the narrowest
  // CUTLASS tile; and the reason names the rule that fired.
  const char* want = find_entry("decode_s4_f16_128x16x64_wgmma_w4x2_g1_p1_s8_stage")
                         ? "decode_s4_f16_128x16x64_wgmma_w4x2_g1_p1_s8_stage"
                     : find_entry("cutlass_s4_f16_128x16x64_c1x1_streamk_stauto") ? "cutlass_s4_f16_128x16x64_c1x1_streamk_stauto"
                                                                                    : nullptr;
  if (want) {
    EXPECT(s.entry && std::string(s.entry->name) == want, "N=16 picks %s", s.entry ? s.entry->name : s.reason.c_str());
    EXPECT(s.reason.rfind("rule ", 0) == 0, "the reason names a rule: %s", s.reason.c_str());
  }
  // A layer with enough 256-row tiles for every SM takes the 256-row decode tile.
  GemmProblem tall = p;
  tall.m = 57344;
  Selection st = select_kernel(tall, 132);
  if (find_entry("decode_s4_f16_256x16x64_wgmma_w8x2_g1_p1_s6_kblock"))
    EXPECT(st.entry && std::string(st.entry->name) == "decode_s4_f16_256x16x64_wgmma_w8x2_g1_p1_s6_kblock",
           "M=57344 N=16 picks %s", st.entry ? st.entry->name : st.reason.c_str());
  // Large N: never a decode kernel.
  GemmProblem big = p;
  big.n = 4096;
  Selection sb = select_kernel(big, 132);
  if (sb.entry) EXPECT(std::string(sb.entry->family) != "decode", "N=4096 picks %s", sb.entry->name);
  // Bad problems are rejected with a reason, never selected.
  GemmProblem bad = p;
  bad.k = 8200;
  EXPECT(!validate_problem(bad).empty(), "K not a multiple of group accepted");
  EXPECT(select_kernel(bad, 132).entry == nullptr, "selected a kernel for an invalid problem");
  GemmProblem odd = p;
  odd.m = 3585;
  EXPECT(select_kernel(odd, 132).entry == nullptr, "selected a kernel for M %% 16 != 0");
  EXPECT(select_kernel(p, 132, "no_such_kernel").entry == nullptr, "forced unknown kernel accepted");
  // A forced kernel of the wrong types is refused with an explanation.
  for (size_t i = 0; i < catalog_size(); ++i) {
    const KernelEntry& e = catalog_entries()[i];
    if (e.weight != p.weight || e.act != p.act) {
      Selection f = select_kernel(p, 132, e.name);
      EXPECT(f.entry == nullptr && !f.reason.empty(), "forced %s of other types accepted", e.name);
    }
  }
  // Every type pair present in the build serves the decode and prefill shapes of the bench set
  // that its families cover (a filtered development build may hold only some families).
  for (size_t i = 0; i < catalog_size(); ++i) {
    const KernelEntry& e = catalog_entries()[i];
    bool has_cutlass = false;
    for (size_t j = 0; j < catalog_size(); ++j) {
      const KernelEntry& o = catalog_entries()[j];
      has_cutlass |= o.weight == e.weight && o.act == e.act && std::string(o.family) == "cutlass";
    }
    for (int64_t n : {1, 16, 64, 4096}) {
      if (n > 64 && !has_cutlass) continue;
      GemmProblem q = p;
      q.weight = e.weight; q.act = e.act; q.n = n; q.group_size = 128; q.k = 4096; q.m = 6144;
      EXPECT(select_kernel(q, 132).entry != nullptr, "no kernel for %s/%s N=%lld", weight_type_name(e.weight),
             act_type_name(e.act), (long long)n);
    }
  }
}

// The decode family's split plan: the cheapest by split_cost among the plans whose clusters all fit at
// once, with the H100's cluster capacities (dev harness mode place: clusters of 1..8 CTAs that fit at
// 1..4 CTAs per SM).
static decode::ClusterCapacity h100_capacity() {
  static const int kClusters[5][decode::kMaxSplits + 1] = {{0},
                                                           {0, 132, 66, 39, 30, 22, 17, 15, 15},
                                                           {0, 264, 132, 79, 62, 47, 39, 32, 30},
                                                           {0, 396, 198, 124, 92, 69, 62, 47, 45},
                                                           {0, 528, 264, 163, 124, 94, 79, 69, 62}};
  decode::ClusterCapacity c;
  for (int k = 1; k <= 4; ++k)
    for (int s = 1; s <= decode::kMaxSplits; ++s) c.clusters[k][s] = kClusters[k][s];
  return c;
}

static void test_split_plan() {
  using decode::plan_splits;
  using decode::SplitKernel;
  const decode::ClusterCapacity h100 = h100_capacity();
  const decode::ClusterCapacity* cap = &h100;
  // Where the busiest SM's CTAs come from: the fewest CTAs per SM at which the clusters fit (the
  // placement the H100 showed in all 207 grids measured).
  EXPECT(decode::busiest_sm_ctas(32, 4, 132, cap, 3) == 2, "32 clusters of 4: 30 fit at one CTA per SM");
  EXPECT(decode::busiest_sm_ctas(28, 4, 132, cap, 3) == 1, "28 clusters of 4 fit at one CTA per SM");
  EXPECT(decode::busiest_sm_ctas(64, 2, 132, cap, 2) == 1, "64 clusters of 2: 128 CTAs on 128 SMs");
  EXPECT(decode::busiest_sm_ctas(64, 4, 132, cap, 3) == 3, "64 clusters of 4: 62 fit at two CTAs per SM");
  EXPECT(decode::busiest_sm_ctas(64, 2, 132, nullptr, 0) == 2, "without capacities: 7/8 of the SMs");
  EXPECT(decode::stage_time(1.5, 128) > 1.0 && decode::stage_time(1.5, 128) < 1.36, "loads between the table's are interpolated");
  // 3 CTAs per SM (the 16- and 32-token wgmma kernels): the best split counts measured (dev harness
  // modes splits and place), and the capacity check.
  const SplitKernel tokens16{128, 3, 1.0};
  EXPECT(plan_splits(48, 4096, 132).splits == 6, "8b.qkv, capacity unknown (6 and 4 measured within 1-4%)");
  EXPECT(plan_splits(28, 8192, 132, 0, cap, tokens16).splits == 8, "reported case: 224 CTAs");
  EXPECT(plan_splits(32, 4096, 132, 0, cap, tokens16).splits == 7, "8b.o: 8 splits would put 3 CTAs on some SMs");
  EXPECT(plan_splits(32, 14336, 132, 0, cap, tokens16).splits == 7, "8b.down");
  EXPECT(plan_splits(64, 8192, 132, 0, cap, tokens16).splits == 5, "70b.o 128-row: 320 CTAs");
  EXPECT(plan_splits(80, 8192, 132, 0, cap, tokens16).splits == 4, "70b.qkv 128-row: 69 clusters of 5 fit, 80 needed");
  EXPECT(plan_splits(32, 28672, 132, 0, cap, SplitKernel{256, 3, 2.0}).splits == 7, "70b.down 256-row");
  EXPECT(plan_splits(14, 8192, 132, 0, cap, SplitKernel{256, 3, 2.0}).splits == 8, "reported case 256-row: 112 CTAs");
  EXPECT(plan_splits(16, 4096, 132, 0, cap, SplitKernel{256, 3, 2.0}).splits == 6,
         "8b.o 256-row: 16 clusters of 7 would double some SMs (15 fit at one per SM), of 6 not");
  // The 48/64-token kernel (two 64-row warpgroups, two CTAs per SM, load 1.5).
  const SplitKernel tokens64{128, 2, 1.5};
  EXPECT(plan_splits(48, 4096, 132, 0, cap, tokens64).splits == 4, "8b.qkv: 47 clusters of 5 fit, 48 needed");
  EXPECT(plan_splits(48, 4096, 132, 0, cap, tokens64).stages_per_cta == 16, "64 stages over 4 splits");
  EXPECT(plan_splits(28, 8192, 132, 0, cap, tokens64).splits == 8, "reported case: 30 clusters of 8 fit");
  EXPECT(plan_splits(64, 8192, 132, 0, cap, tokens64).splits == 2,
         "70b.o: 2 splits keep one CTA per SM (25.1 us against 26.9 at 3, mode place)");
  EXPECT(plan_splits(448, 8192, 132, 0, cap, tokens64).splits == 1, "70b.gate_up: no split");
  EXPECT(plan_splits(160, 8192, 132, 0, nullptr, SplitKernel{64, 0, 1.0}).splits == 2,
         "70b.qkv on 64-row tiles: they split past the SMs");
  EXPECT(plan_splits(224, 8192, 132, 0, nullptr, SplitKernel{256, 0, 2.0}).splits == 1, "256-row tiles filling the SMs: no split");
  EXPECT(plan_splits(48, 4096, 132, 6, cap, tokens64).splits == 6, "a requested count is kept");
  EXPECT(plan_splits(28, 448, 132).splits == 3 && plan_splits(28, 448, 132).stages_per_cta == 3,
         "7 stages: at least two per CTA, dealt in chunks of 3");
  // At most one CTA per SM (int8's two-group kernels: two CTAs per SM, load 1.1): the measured best
  // counts at 1 token (dev harness modes s8splits and place).
  const SplitKernel s8{128, 2, 1.1};
  EXPECT(plan_splits(28, 8192, 132, 0, cap, s8, 132).splits == 4, "reported case: 112 CTAs, not 224");
  EXPECT(plan_splits(48, 4096, 132, 0, cap, s8, 132).splits == 2, "8b.qkv: 96 CTAs");
  EXPECT(plan_splits(64, 8192, 132, 0, cap, s8, 132).splits == 2, "70b.o: 128 CTAs");
  EXPECT(plan_splits(32, 14336, 132, 0, cap, s8, 132).splits == 3, "8b.down: 96 CTAs");
  EXPECT(plan_splits(40, 5120, 132, 0, cap, s8, 132).splits == 3, "5120x5120: 120 CTAs (12.46 us; 2 splits 13.60)");
  EXPECT(plan_splits(32, 4096, 132, 0, cap, s8, 132).splits == 3,
         "8b.o: 96 CTAs (9.13 us); 4 splits double 8 SMs (9.58 us)");
  EXPECT(plan_splits(224, 4096, 132, 0, cap, s8, 132).splits == 1, "more tiles than SMs: no split");
}

int main() {
  test_atom(4);
  test_atom(8);
  test_catalog();
  test_dispatch();
  test_split_plan();
  std::printf("%zu catalog entries; %d failures\n", catalog_size(), failures);
  return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
