"""Checks the decode split plan's model (src/kernels/decode/splits.h) against the dev harness's mode `place`.

Usage: python bench/dev/fit_split_model.py LOG [LOG ...]
The mode `place` logs were removed from the tree (docs/notes/split-plan.md); get them from git history:
    for f in 70fd4e0 capacity-plan more-shapes; do
      git show b68cc5c:bench/results/dev/h100-sxm-place-$f.txt > /tmp/h100-sxm-place-$f.txt; done
    python bench/dev/fit_split_model.py /tmp/h100-sxm-place-*.txt

Reads, from the logs:
  - the cluster capacities at 1-4 CTAs per SM and the placements (busiest SM) of clustered grids, and
    checks that the busiest SM is the fewest CTAs per SM at which the clusters fit;
  - the forced split counts of each (configuration, layer, N), and for each CTA load of the kernels
    fitted in the catalog (cta_load: two 64-row warpgroups, int8 on two consumer groups) how far the
    model's pick is from the measured fastest count (regret), so that the constants can be re-fitted
    when the kernels change.
This is the C++ model re-stated for analysis (chunked plans, the capacity check, stage_time's table);
the library does not run it.
"""
import math
import os
import re
import sys

STAGE_K = 64
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "catalog"))
import catalog  # noqa: E402
from heuristic import TUNING  # noqa: E402  (the constants of src/dispatch/tuning.h)

TUNED = {c.name: c.value for c in TUNING}
BY_LOAD = TUNED["kStageTimeByLoad"]
LINE = re.compile(r"(\S+ \S+ \S+ \S+ \S+ \S+)\s+(\S+)\s+N=(\d+)\s+splits=(\d+)\((\w+)\) ctas/sm=(\d+)\s+err=\S+\s+([\d.]+) us")
SHAPES = {"reported": (3584, 8192), "8b.o": (4096, 4096), "8b.qkv": (6144, 4096), "8b.down": (4096, 14336),
          "70b.o": (8192, 8192), "70b.qkv": (10240, 8192)}


def shape_of(name):
    if name in SHAPES:
        return SHAPES[name]
    m, k = name.split("x")
    return int(m), int(k)


def stage_time(load, rows):
    if load >= 6:
        shared = BY_LOAD[6] + TUNED["kStageTimePerLoadAbove6"] * (load - 6)
    else:
        i = int(max(load, 0.0))
        shared = BY_LOAD[i] + (BY_LOAD[i + 1] - BY_LOAD[i]) * (max(load, 0.0) - i)
    return max(1.0 + TUNED["kChainPer128Rows"] * (max(1, rows // 128) - 1), shared)


def chunked(stages, splits):
    chunk = -(-stages // splits)
    return -(-stages // chunk), chunk


def busiest(cap, tiles, splits, per_sm):
    return next((k for k in range(1, per_sm + 1) if cap[k][splits] >= tiles), per_sm)


def read(paths):
    cap, placements, cells = {}, [], {}
    for path in paths:
        for line in open(path):
            m = re.match(r"capacity per_sm=(\d) .*clusters of 1..8: (.*)", line)
            if m:
                cap[int(m.group(1))] = [0] + [int(v) for v in m.group(2).split()]
            m = re.match(r"placement tiles=(\d+) splits=(\d+) ctas=\d+ per_sm=(\d+): busiest (\d+)", line)
            if m:
                placements.append(tuple(int(v) for v in m.groups()))
            m = LINE.match(line)
            if m and float(m.group(7)) > 0 and m.group(5) == "set":
                cfg, layer, n, splits, _, per_sm, us = m.groups()
                cell = cells.setdefault((cfg, layer, int(n)), {"per_sm": int(per_sm), "us": {}})
                cell["us"][int(splits)] = float(us)
    return cap, placements, cells


def load_of(cfg, loads):
    rows = 16 * int(re.search(r"cw(\d+)", cfg).group(1)) * int(re.search(r" r(\d+)", cfg).group(1))
    if cfg.startswith("kg2 s8"):
        return rows, loads["s8_two_groups"]
    if rows == 128 and re.search(r"nt[68] ", cfg):
        return rows, loads["two_warpgroups"]
    return rows, max(1, rows // 128)


def allowed(cap, cfg, layer, cell, s):
    """Whether plan_splits may take s splits (the constraints, not the cost)."""
    rows, _ = load_of(cfg, {"two_warpgroups": 1, "s8_two_groups": 1})
    m, k = shape_of(layer)
    tiles, stages = -(-m // rows), k // STAGE_K
    splits, _ = chunked(stages, s)
    capped = cfg.startswith("kg2 s8")   # int8's two-group kernels: at most one CTA per SM's worth of CTAs
    return s == 1 or not (stages // s < 2 or tiles * s > TUNED["kMaxGridCtasPerSmTimes2"] * 132 // 2 or (capped and tiles * s > 132)
                          or cap[cell["per_sm"]][splits] < tiles or (rows >= 128 and tiles >= 132))


def pick(cap, cfg, layer, cell, loads):
    rows, load = load_of(cfg, loads)
    m, k = shape_of(layer)
    tiles, stages, per_sm = -(-m // rows), k // STAGE_K, cell["per_sm"]
    best, best_cost = None, math.inf
    for s in sorted(s for s in cell["us"] if allowed(cap, cfg, layer, cell, s)):
        splits, chunk = chunked(stages, s)
        cost = chunk * stage_time(busiest(cap, tiles, splits, per_sm) * load, rows)
        if cost < best_cost:
            best, best_cost = s, cost
    return best


def regret(cap, cells, loads, verbose=False):
    """Mean of (time at the model's pick) / (time at the fastest count the constraints allow) - 1."""
    total = 0.0
    for (cfg, layer, n), cell in cells.items():
        us = cell["us"]
        chosen = pick(cap, cfg, layer, cell, loads)
        fastest = min((s for s in us if allowed(cap, cfg, layer, cell, s)), key=us.get)
        r = us[chosen] / us[fastest] - 1
        total += r
        if verbose and r > 0.01:
            print(f"  {cfg:24s} {layer:10s} N={n:<3d} picks {chosen} ({us[chosen]:.2f} us), fastest {fastest} "
                  f"({us[fastest]:.2f} us): +{100 * r:.1f}%")
        overall = min(us, key=us.get)
        if verbose and us[overall] < 0.97 * us[fastest]:
            print(f"  {cfg:24s} {layer:10s} N={n:<3d} a count the constraints exclude is faster: {overall} "
                  f"({us[overall]:.2f} us)")
    return total / max(1, len(cells))


def main():
    cap, placements, cells = read(sys.argv[1:])
    one_wave = [p for p in placements if cap[p[2]][p[1]] >= p[0]]
    agree = sum(busiest(cap, t, s, k) == b for t, s, k, b in one_wave)
    print(f"placement: the capacity rule names the busiest SM's CTAs in {agree} of {len(one_wave)} one-wave grids")
    # the catalog's cta_load of the two-warpgroup 48/64-token tiles and of int8's two-group tiles
    by_entry = {(e.weight, e.tile_m, e.tile_n): e.cta_load for e in catalog.ENTRIES if e.family == "decode"}
    loads = {"two_warpgroups": by_entry[("s4", 128, 64)], "s8_two_groups": by_entry[("s8", 128, 8)]}
    print(f"{len(cells)} cells; mean regret of the model's picks: {100 * regret(cap, cells, loads, True):.2f}%")
    for key, values in (("two_warpgroups", (1.0, 1.3, 1.5, 2.0)), ("s8_two_groups", (1.0, 1.1, 1.2, 1.3, 2.0))):
        print(key, " ".join(f"{v}: {100 * regret(cap, cells, {**loads, key: v}):.2f}%" for v in values))


if __name__ == "__main__":
    main()
