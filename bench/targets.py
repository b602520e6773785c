"""Issue 3's targets, evaluated from the benchmark records of one run (bench/results/<card>.jsonl).

Usage: python bench/targets.py bench/results/h100-sxm.jsonl [--commit b5c5448[,c0ffee1]]
Prints each target with the measured numbers; "MET"/"SHORT" per line. Records of the latest commit
are used unless --commit is given. Several commits, comma-separated: a (weight type, act) run of a later
one replaces the earlier one's (for a commit that re-benchmarked only the types its change touched).
Every ratio is within one run: target 1's bandwidth ceiling is cuBLAS fp16 at N=1 from the int4 run,
target 5 compares int8 with the cuBLAS fp16 of the int8 run.
"""
import argparse
import collections
import json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--commit", default=None)
    args = ap.parse_args()
    rows = [json.loads(l) for l in open(args.results) if l.strip()]
    commits = (args.commit or rows[-1]["commit"]).split(",")
    newest = {}   # (weight, act) -> the last listed commit that benchmarked that type
    for r in rows:
        if r["commit"] in commits:
            t = (r["weight"], r["act"])
            if t not in newest or commits.index(r["commit"]) > commits.index(newest[t]):
                newest[t] = r["commit"]
    rows = [r for r in rows if r["commit"] == newest.get((r["weight"], r["act"]))]
    us = {}
    gbps = {}
    meta = {}
    for r in rows:
        key = (r["impl"], r["layer"], r["N"], r["weight"], r["act"])
        us[key], gbps[key] = r["us"], r["gbps"]
        meta[r["layer"]] = r
    print(f"commit {', '.join(commits)}, {len(rows)} records, card {rows[0]['card']}"
          + "".join(f"\n  {w} {a}: commit {c}" for (w, a), c in sorted(newest.items()) if len(commits) > 1))
    layers = list(dict.fromkeys(r["layer"] for r in rows))

    def big(layer):   # int4 weight bytes >= 64 MB
        m = meta[layer]
        return m["M"] * m["K"] / 2 >= 64e6

    for act in ("float16", "bfloat16"):
        ceiling = max((v for (i, l, n, w, a), v in gbps.items()
                       if i == "cublas_fp16" and n == 1 and w == "s4" and a == act), default=None)
        if ceiling is None:
            continue
        print(f"\n[{act}] cuBLAS fp16 best N=1 bandwidth: {ceiling:.0f} GB/s; 85% = {0.85 * ceiling:.0f} GB/s")
        print("target 1: >=64 MB int4 layers, N=1..16, >= 85% of that")
        for l in layers:
            if not big(l):
                continue
            for n in (1, 2, 4, 8, 16):
                v = gbps.get(("mixgemm", l, n, "s4", act))
                if v is not None:
                    print(f"  {l:20s} N={n:<3d} {v:6.0f} GB/s = {v / ceiling:5.1%}  {'MET' if v >= 0.85 * ceiling else 'SHORT'}")
        v = us.get(("mixgemm", "reported-case", 16, "s4", act))
        f = us.get(("cublas_fp8", "reported-case", 16, "s4", act))
        if v and f:
            print(f"target 2: reported case N=16: {v:.1f} us vs FP8 {f:.1f} us = {f / v:.2f}x (need 2.0x)  "
                  f"{'MET' if f / v >= 2 else 'SHORT'}")
        print("target 3: >=64 MB layers, N=32/64, >= 1.6x FP8")
        for l in layers:
            for n in (32, 64):
                v, f = us.get(("mixgemm", l, n, "s4", act)), us.get(("cublas_fp8", l, n, "s4", act))
                if big(l) and v and f:
                    print(f"  {l:20s} N={n:<3d} {f / v:.2f}x  {'MET' if f / v >= 1.6 else 'SHORT'}")
        measured_ns = sorted({key[2] for key in us if key[2] <= 64})   # every N <= 64 the run measured
        slower = [(l, n, us[("mixgemm", l, n, "s4", act)] / us[("cublas_fp8", l, n, "s4", act)])
                  for l in layers for n in measured_ns
                  if ("mixgemm", l, n, "s4", act) in us and ("cublas_fp8", l, n, "s4", act) in us
                  and us[("mixgemm", l, n, "s4", act)] > us[("cublas_fp8", l, n, "s4", act)]]
        print(f"target 4 (vs FP8 part): {len(slower)} (layer, N<=64) cases slower than FP8"
              + "".join(f"\n  {l:20s} N={n:<3d} {r:.2f}x FP8's time" for l, n, r in slower))
    print("\ntarget 5: u4 vs s4 (fp16), s8 vs cuBLAS fp16")
    for l in layers:
        for n in (1, 16):
            s4, u4 = us.get(("mixgemm", l, n, "s4", "float16")), us.get(("mixgemm", l, n, "u4", "float16"))
            s8, f16 = us.get(("mixgemm", l, n, "s8", "float16")), us.get(("cublas_fp16", l, n, "s8", "float16"))
            parts = []
            if s4 and u4:
                parts.append(f"u4/s4 {u4 / s4:5.2f} {'MET' if u4 <= 1.05 * s4 else 'SHORT'}")
            if s8 and f16:
                parts.append(f"s8 vs fp16 {f16 / s8:4.2f}x {'MET' if f16 / s8 >= 1.7 else 'SHORT'}")
            if parts:
                print(f"  {l:20s} N={n:<3d} " + "   ".join(parts))


if __name__ == "__main__":
    main()
