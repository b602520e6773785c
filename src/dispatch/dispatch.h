// Kernel selection over the catalog: problem validation, legality checks, and the heuristic's pick
// (heuristic.h). Host code that makes no CUDA call itself, so it is unit-tested on machines without a
// GPU. With a device index (>= 0) the decode entries plan their launches on that device.
#pragma once

#include <string>
#include <vector>

#include "catalog/entry.h"

namespace mixgemm {

const KernelEntry* find_entry(const std::string& name);

struct Candidate {
  const KernelEntry* entry;
  std::string rejection;   // empty when the kernel can run the problem
  std::string rule;        // the heuristic rule that picks it, "" if none
  double cost;             // decode: stages walked per CTA x waves; CUTLASS: its cost model; -1 if not computed
};

// Every entry for the problem's weight/activation types, best first, with why others cannot run.
// device: the GPU the call will run on, or -1 (not known: plans without its cluster capacities).
std::vector<Candidate> rank_candidates(const GemmProblem& p, int sm_count, int device = -1);

struct Selection {
  const KernelEntry* entry = nullptr;   // null when nothing can run the problem
  std::string reason;                   // why this one (or why none)
  std::vector<Candidate> candidates;    // the ranking behind the choice (empty when a kernel was forced)
};

// The heuristic choice, or the named kernel (validated) when `forced` is non-empty. With the
// environment variable MIXGEMM_LOG_DISPATCH set (to anything but "0"), each choice is printed to stderr.
Selection select_kernel(const GemmProblem& p, int sm_count, const std::string& forced = "", int device = -1);

// The rules every kernel shares (shapes, group size), checked before any entry's own. Empty when valid.
std::string validate_problem(const GemmProblem& p);

}  // namespace mixgemm
