// Kernel selection: legality checks over the catalog plus a heuristic ranking.
// Host code that makes no CUDA call itself, so it is unit-tested on machines without a GPU. With a
// device index (>= 0) it asks the decode entries for their launch plans on that device
// (KernelOps::stage_walk), which reads the device's occupancy once.
#pragma once

#include <string>
#include <vector>

#include "catalog/entry.h"

namespace mixgemm {

const KernelEntry* find_entry(const std::string& name);

struct Candidate {
  const KernelEntry* entry;
  std::string rejection;   // empty when the kernel can run the problem
  double score;            // heuristic cost; lower is preferred
};

// Every entry for the problem's weight/activation types, best first, with why others cannot run.
// device: the GPU the call will run on, or -1 (not known: plans without its cluster capacities).
std::vector<Candidate> rank_candidates(const GemmProblem& p, int sm_count, int device = -1);

struct Selection {
  const KernelEntry* entry = nullptr;   // null when nothing can run the problem
  std::string reason;                   // why this one (or why none)
};

// The heuristic choice, or the named kernel (validated) when `forced` is non-empty.
Selection select_kernel(const GemmProblem& p, int sm_count, const std::string& forced = "", int device = -1);

// Problem-level validation shared by all kernels (shapes, group size). Empty when valid.
std::string validate_problem(const GemmProblem& p);

}  // namespace mixgemm
