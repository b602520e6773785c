#include "dispatch/dispatch.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "catalog_table.inc"   // generated: kEntries, kEntryCount (namespace mixgemm)
#include "dispatch/heuristic.h"

namespace mixgemm {

const char* weight_type_name(WeightType w) {
  switch (w) {
    case WeightType::S4: return "s4";
    case WeightType::U4: return "u4";
    case WeightType::S8: return "s8";
  }
  return "?";
}

const char* act_type_name(ActType a) { return a == ActType::F16 ? "float16" : "bfloat16"; }

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
  if (p.m % kRowBlock != 0) return "M (out_features) must be a multiple of " + std::to_string(kRowBlock);
  if (p.k % kKStep != 0) return "K (in_features) must be a multiple of " + std::to_string(kKStep);
  return {};
}

std::vector<Candidate> rank_candidates(const GemmProblem& p, int sm_count, int device) {
  return rank_entries(p, sm_count, device, validate_problem(p));
}

namespace {

bool log_dispatch() {
  static const bool on = [] {
    const char* v = std::getenv("MIXGEMM_LOG_DISPATCH");
    return v != nullptr && *v != '\0' && std::string(v) != "0";
  }();
  return on;
}

Selection select_unlogged(const GemmProblem& p, int sm_count, const std::string& forced, int device) {
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
  const std::string problem_error = validate_problem(p);
  std::string evidence;
  s.candidates = rank_entries(p, sm_count, device, problem_error, &evidence);
  const std::vector<Candidate>& ranked = s.candidates;
  if (ranked.empty()) {
    s.reason = std::string("this build has no kernel for ") + weight_type_name(p.weight) + " weights with " +
               act_type_name(p.act) + " activations";
    return s;
  }
  if (!ranked.front().rejection.empty()) {
    std::ostringstream os;
    os << "no kernel can run M=" << p.m << " N=" << p.n << " K=" << p.k << " group=" << p.group_size << ": ";
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
  os << ranked.front().rule;
  if (!evidence.empty()) os << " (" << evidence << ")";
  if (ranked.size() > 1 && ranked[1].rejection.empty()) {
    os << "; runner-up " << ranked[1].entry->name;
    // Costs compare within a family only (decode: stages walked x waves; CUTLASS: its cost model).
    if (ranked[1].cost >= 0 && ranked.front().cost >= 0 &&
        std::string(ranked[1].entry->family) == ranked.front().entry->family)
      os << " at cost " << ranked[1].cost << " against " << ranked.front().cost;
    if (!ranked[1].rule.empty() && ranked[1].rule != ranked.front().rule) os << " (" << ranked[1].rule << ")";
  }
  s.reason = os.str();
  return s;
}

}  // namespace

Selection select_kernel(const GemmProblem& p, int sm_count, const std::string& forced, int device) {
  Selection s = select_unlogged(p, sm_count, forced, device);
  if (log_dispatch())
    std::fprintf(stderr, "mixgemm: M=%lld N=%lld K=%lld group=%lld %s/%s sms=%d device=%d -> %s: %s\n",
                 static_cast<long long>(p.m), static_cast<long long>(p.n), static_cast<long long>(p.k),
                 static_cast<long long>(p.group_size), weight_type_name(p.weight), act_type_name(p.act), sm_count,
                 device, s.entry ? s.entry->name : "none", s.reason.c_str());
  return s;
}

}  // namespace mixgemm
