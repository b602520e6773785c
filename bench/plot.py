"""Plot effective bandwidth (GB/s) against tokens N for each layer from bench/results/<card>.jsonl.

Usage: python bench/plot.py bench/results/h100-sxm.jsonl [--weight s4 --act float16] [-o out.png]
The dashed line is the best bandwidth cuBLAS fp16 reached at N=1 in the same run (the practical
HBM ceiling on that card).
"""
import argparse
import collections
import json
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"mixgemm": ("tab:red", "o"), "cublas_fp16": ("tab:blue", "s"), "cublas_fp8": ("tab:green", "^"),
         "torch_int4": ("tab:gray", "x")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--weight", default="s4")
    ap.add_argument("--act", default="float16")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--commit", default=None, help="records of this commit (default: the file's last run)")
    args = ap.parse_args()
    rows = [json.loads(l) for l in open(args.results) if l.strip()]
    commit = args.commit or rows[-1]["commit"]
    rows = [r for r in rows if r["commit"] == commit]
    rows = [r for r in rows if r["weight"] == args.weight and r["act"] == args.act and r["impl"] in STYLE]
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    ceiling = max((r["gbps"] for r in rows if r["impl"] == "cublas_fp16" and r["N"] == 1), default=None)
    cols = 3
    fig, axes = plt.subplots(math.ceil(len(layers) / cols), cols, figsize=(5 * cols, 3.4 * math.ceil(len(layers) / cols)),
                             squeeze=False)
    for ax, layer in zip(axes.flat, layers):
        series = collections.defaultdict(list)
        for r in rows:
            if r["layer"] == layer:
                series[r["impl"]].append((r["N"], r["gbps"]))
        for impl, pts in series.items():
            pts.sort()
            color, marker = STYLE[impl]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, color=color, label=impl)
        if ceiling:
            ax.axhline(ceiling, color="k", ls="--", lw=0.8, label=f"fp16 N=1 best ({ceiling:.0f} GB/s)")
        m = next(r for r in rows if r["layer"] == layer)
        ax.set_title(f"{layer}  M={m['M']} K={m['K']} g={m['group']}", fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("tokens N")
        ax.set_ylabel("effective GB/s")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(layers):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    card = rows[0]["card"] if rows else "?"
    fig.suptitle(f"{args.weight} weights, {args.act} activations on {card}, commit {commit} "
                 "(bytes: weights+scales+activations+output)")
    fig.tight_layout()
    out = args.output or args.results.replace(".jsonl", f"-{args.weight}-{args.act}.png")
    fig.savefig(out, dpi=90)
    print(out)


if __name__ == "__main__":
    main()
