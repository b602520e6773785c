"""The dispatch heuristic: an ordered rule table per weight format, and the constants fitted to it.

For a problem, dispatch (src/dispatch/heuristic.cpp) walks the weight format's rules in order and takes
the first whose condition holds and whose entry is built and can run the problem. A rule's condition
is a C++ expression over ``const Facts& f`` (src/dispatch/heuristic.h):
  f.n, f.m, f.k, f.group, f.elements     the problem (elements = M x K weight elements)
  f.rows256_walk_fewer()                 256-row tiles walk fewer stage-costs than 128-row ones
                                         (the split plan's cost model at nominal occupancy)
  f.rows64_walk_within(tile_n)           the 64-row tile of that bucket walks at most kRows64WalkRatio x
                                         the 128-row tile's stages under each one's launch plan on the
                                         call's device, on weights below kRows64MaxElements
Two picks end every table: the stock CUTLASS tile of lowest cost (cutlass_cost in heuristic.cpp),
then the narrowest decode bucket that runs the problem (group 32 and the like, which CUTLASS refuses).

generate.py writes the rules to heuristic_table.inc (build tree) and the constants to the committed
src/dispatch/tuning.h; docs/catalog.md shows both. The measurements behind them: docs/notes/.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from catalog import WEIGHTS


@dataclass(frozen=True)
class Rule:
    name: str     # what explain() reports when the rule fires
    when: str     # C++ condition over `const Facts& f`
    pick: tuple   # ("decode" | "cutlass", tile_m, tile_n, mma), or ("cutlass_cost",) / ("decode_fallback",)


CUTLASS_COST = ("cutlass_cost",)
DECODE_FALLBACK = ("decode_fallback",)

RULES_4BIT = [
    Rule("1-8 tokens, 256-row tiles walk fewer stages", "f.n <= 8 && f.rows256_walk_fewer()",
         ("decode", 256, 8, "mma.sync")),
    Rule("1-8 tokens", "f.n <= 8", ("decode", 128, 8, "mma.sync")),
    Rule("9-16 tokens, 256-row tiles walk fewer stages", "f.n <= 16 && f.rows256_walk_fewer()",
         ("decode", 256, 16, "wgmma")),
    Rule("9-16 tokens", "f.n <= 16", ("decode", 128, 16, "wgmma")),
    Rule("17-32 tokens, 64-row tiles walk within the ratio", "f.n <= 32 && f.rows64_walk_within(32)",
         ("decode", 64, 32, "wgmma")),
    Rule("17-32 tokens, 256-row tiles walk fewer stages", "f.n <= 32 && f.rows256_walk_fewer()",
         ("decode", 256, 32, "wgmma")),
    Rule("17-32 tokens", "f.n <= 32", ("decode", 128, 32, "wgmma")),
    Rule("33-48 tokens, 64-row tiles walk within the ratio", "f.n <= 48 && f.rows64_walk_within(48)",
         ("decode", 64, 48, "wgmma")),
    Rule("33-48 tokens, weight below kWideRowsElements", "f.n <= 48 && f.elements < kWideRowsElements",
         ("decode", 128, 48, "wgmma")),
    Rule("33-64 tokens, 64-row tiles walk within the ratio", "f.n <= 64 && f.rows64_walk_within(64)",
         ("decode", 64, 64, "wgmma")),
    Rule("49-64 tokens, weight below kWideRowsElements", "f.n <= 64 && f.elements < kWideRowsElements",
         ("decode", 128, 64, "wgmma")),
    Rule("stock CUTLASS tile of lowest cost", "true", CUTLASS_COST),
    Rule("narrowest decode bucket that runs it", "true", DECODE_FALLBACK),
]

RULES_INT8 = [
    Rule("1-8 tokens, weight from kWideRowsElements", "f.n <= 8 && f.elements >= kWideRowsElements",
         ("decode", 256, 8, "mma.sync")),
    Rule("1-8 tokens", "f.n <= 8", ("decode", 128, 8, "mma.sync")),
    Rule("9-16 tokens, weight from kWideRowsElements", "f.n <= 16 && f.elements >= kWideRowsElements",
         ("decode", 256, 16, "mma.sync")),
    Rule("9-16 tokens", "f.n <= 16", ("decode", 128, 16, "mma.sync")),
    Rule("stock CUTLASS tile of lowest cost", "true", CUTLASS_COST),
    Rule("narrowest decode bucket that runs it", "true", DECODE_FALLBACK),
]

RULES = {"s4": RULES_4BIT, "u4": RULES_4BIT, "s8": RULES_INT8}


@dataclass(frozen=True)
class Constant:
    name: str
    cpp_type: str
    value: object
    meaning: str
    fitted_on: str   # the measurement behind the value (file at commit, or the notes' topic)


# Fitted on the H100 80GB HBM3 (132 SMs). Results files named "at <sha>" were removed from the tree
# after that commit; git history keeps them.
TUNING = [
    Constant("kFittedSmCount", "int", 132,
             "SMs of the card the constants were fitted on; explain() without a device plans for it",
             "the H100 80GB HBM3 (SXM5)"),
    Constant("kWideRowsElements", "double", 80.0e6,
             "weight elements from which the stock 256-row tile beats 128 rows at 33-64 tokens (and the 4-bit "
             "decode buckets of 48/64 tokens give way to it), and int8 takes 256-row decode tiles at 1-16 tokens",
             "bench/results/h100-sxm-candidates-n64-e85c3f1.jsonl and h100-sxm-candidates-s8-n16-6fbc68d.jsonl "
             "at ee74984"),
    Constant("kInt8WideRowsFallback", "double", 48.0e6,
             "int8 decode buckets of 32+ tokens (group 32 only): 256-row tiles from this many elements",
             "docs/notes/tile-choice.md (8b.down N=32: 31.2 / 26.2 us, 128 / 256 rows)"),
    Constant("kRows64MaxElements", "double", 100.0e6,
             "64-row decode tiles only below this many weight elements (the largest measured: 84M)",
             "bench/results/dev/h100-sxm-rows64-walk.txt at ee74984"),
    Constant("kRows64WalkRatio", "double", 1.3,
             "64-row tiles when their CTAs walk at most this times the 128-row tile's stages",
             "bench/results/dev/h100-sxm-rows64-walk.txt and h100-sxm-rows64-32-48.txt at ee74984"),
    Constant("kNominalCtasPerSm128", "int", 3,
             "CTAs per SM assumed for 128-row tiles when rows256_walk_fewer() compares row tiles",
             "bench/results/h100-sxm-candidates-07d0996.jsonl at ee74984"),
    Constant("kNominalCtasPerSm256", "int", 2,
             "CTAs per SM assumed for 256-row tiles in the same comparison",
             "bench/results/h100-sxm-candidates-07d0996.jsonl at ee74984"),
    Constant("kStageTimeByLoad", "double[7]", [1.0, 1.0, 1.36, 1.92, 2.64, 3.55, 4.5],
             "a stage's time against the busiest SM's load 0..6 (CTAs x cta_load), in lone 4-bit 128-row stages",
             "bench/results/dev/h100-sxm-splits-0959382.txt and h100-sxm-place-*.txt at ee74984 "
             "(bench/dev/fit_split_model.py)"),
    Constant("kStageTimePerLoadAbove6", "double", 0.95,
             "the stage time's slope past load 6", "as kStageTimeByLoad"),
    Constant("kChainPer128Rows", "double", 0.53,
             "a lone CTA's stage time per 128 rows past the first (256 rows: 1.53)", "as kStageTimeByLoad"),
    Constant("kIdleSmsPerEight", "int", 1,
             "SMs per eight that clustered grids of more than ~124 CTAs leave empty (no capacities known)",
             "bench/results/dev/h100-sxm-place-70fd4e0.txt at ee74984"),
    Constant("kMaxGridCtasPerSmTimes2", "int", 5,
             "split plans keep the grid within this / 2 CTAs per SM (beyond, every measured grid was slower)",
             "bench/results/dev/h100-sxm-splits-0959382.txt at ee74984"),
    Constant("kMmaColumnsPerWeightStream", "double", 64.0,
             "CUTLASS cost model: MMA columns (per 128 rows) that cost as much as streaming the weight once",
             "docs/notes/tile-choice.md (70b.gate_up N=64: 170 vs 435 us, 64- vs 16-wide tiles)"),
    Constant("kCostPerWave", "double", 0.5, "CUTLASS cost model: the cost of one wave of output tiles",
             "docs/notes/tile-choice.md"),
]


def _cpp_value(c: Constant) -> str:
    if isinstance(c.value, list):
        return "{" + ", ".join(repr(v) for v in c.value) + "}"
    return repr(c.value)


def tuning_header() -> str:
    lines = ["// Generated by src/catalog/generate.py from src/catalog/heuristic.py (TUNING). Do not edit:",
             "// change the value there and run `python src/catalog/generate.py --docs`.",
             "// The constants the dispatch rules and the decode split plan were fitted with, each with the",
             "// measurement behind it.",
             "#pragma once", "", "namespace mixgemm {", "namespace tuning {", ""]
    for c in TUNING:
        base, _, dims = c.cpp_type.partition("[")
        decl = f"{c.name}[{dims}" if dims else c.name
        lines += textwrap.wrap(f"{c.meaning}.", 110, initial_indent="// ", subsequent_indent="// ")
        lines += textwrap.wrap(f"Fitted on: {c.fitted_on}.", 110, initial_indent="// ", subsequent_indent="//   ")
        lines.append(f"inline constexpr {base} {decl} = {_cpp_value(c)};")
        lines.append("")
    lines += ["}  // namespace tuning", "}  // namespace mixgemm", ""]
    return "\n".join(lines)


def table_source() -> str:
    """heuristic_table.inc: kRules, every weight format's rules in order."""
    lines = ["// Generated by src/catalog/generate.py from src/catalog/heuristic.py. Do not edit.",
             "namespace mixgemm {", "namespace {", "using namespace tuning;", "static const Rule kRules[] = {"]
    for weight, rules in RULES.items():
        for r in rules:
            if r.pick == CUTLASS_COST:
                pick = "Rule::kCutlassCost, nullptr, 0, 0, nullptr"
            elif r.pick == DECODE_FALLBACK:
                pick = "Rule::kDecodeFallback, nullptr, 0, 0, nullptr"
            else:
                family, tile_m, tile_n, mma = r.pick
                pick = f'Rule::kEntry, "{family}", {tile_m}, {tile_n}, "{mma}"'
            arg = "const Facts&" if r.when == "true" else "const Facts& f"
            lines.append(f'  {{{WEIGHTS[weight]["cpp_enum"]}, "{r.name}", []({arg}) {{ return {r.when}; }}, {pick}}},')
    lines += ["};", "}  // namespace", "}  // namespace mixgemm", ""]
    return "\n".join(lines)


def rules_markdown() -> str:
    out = ["## Dispatch rules", "",
           "Per weight format, in order: the first rule whose condition holds and whose kernel is built and",
           "can run the problem picks it (`src/catalog/heuristic.py`; `MIXGEMM_LOG_DISPATCH=1` prints each",
           "choice at run time, `mixgemm.explain()` names the rule).", ""]
    for weights, rules in (("s4, u4", RULES_4BIT), ("s8", RULES_INT8)):
        out += [f"### {weights}", "", "| # | rule | condition | pick |", "|---|---|---|---|"]
        for i, r in enumerate(rules, 1):
            pick = ("stock CUTLASS tile of lowest cost" if r.pick == CUTLASS_COST else
                    "narrowest decode bucket that runs it" if r.pick == DECODE_FALLBACK else
                    f"{r.pick[0]} {r.pick[1]}x{r.pick[2]} {r.pick[3]}")
            out.append(f"| {i} | {r.name} | `{r.when}` | {pick} |")
        out.append("")
    out += ["## Tuning constants", "", "`src/dispatch/tuning.h`, fitted on the H100.", "",
            "| constant | value | meaning | fitted on |", "|---|---|---|---|"]
    out += [f"| `{c.name}` | {_cpp_value(c)} | {c.meaning} | {c.fitted_on} |" for c in TUNING]
    return "\n".join(out)
