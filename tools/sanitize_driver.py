"""Driver for tools/sanitize.sh: every catalog entry at a few shapes (one off every tile), under compute-sanitizer.

Only mixgemm's kernels run on the GPU: data is made on the host with NumPy and copied in (copies are not
kernels), outputs are NaN-poisoned on the host, and torch serves only as the allocator. With
PYTORCH_NO_CUDA_MEMORY_CACHING=1 (sanitize.sh sets it) every tensor is its own cudaMalloc, so memcheck
knows each array's exact bounds instead of a caching-allocator segment around it. The kernels that run:
mixgemm's quantize/pack (once per weight), every selected entry, and dequantize for a light check of each
result (a wrong result under a sanitizer points at the same bug class: races, missing barriers).

Usage: python tools/sanitize_driver.py [--shapes full|small] [--kernels 'cutlass_*,decode_s4_*'] [--no-check]
Prints one line per launch; exit code 1 if a result check failed.
"""
import argparse
import fnmatch
import math
import sys
import time

import numpy as np
import torch

import mixgemm

TOL = {"float16": 4e-3, "bfloat16": 2e-2}


def shapes_for(entry: dict, preset: str):
    """[(M, K, N, group)] for one entry: on-tile and off-tile N, M off the 128-row tile, several K tiles
    (stream-K splits them across CTAs), per-channel scales, and group 32 for the decode family."""
    tn = entry["tile_n"]
    decode = entry["family"] == "decode"
    n_off = max(1, tn - 3) if decode else tn + 3
    if preset == "small":              # racecheck: one small off-tile problem per entry
        return [(144, 256, n_off, 64)]
    out = [(256, 512, tn, 128), (272, 576, n_off, 64), (144, 256, 1, 256)]
    if decode:
        out.append((272, 512, n_off, 32))
    return out


def host_tensor(a: np.ndarray, dtype: str) -> torch.Tensor:
    """A CUDA tensor of `dtype` holding `a`, converted on the host and copied (no GPU kernel)."""
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return t.to(getattr(torch, dtype)).cuda()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", choices=["full", "small"], default="full")
    ap.add_argument("--kernels", default="*", help="comma-separated fnmatch patterns of entry names")
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()
    pats = [p.strip() for p in args.kernels.split(",") if p.strip()]
    entries = [e for e in mixgemm.kernels() if any(fnmatch.fnmatchcase(e["name"], p) for p in pats)]
    if not entries:
        print(f"no catalog entry matches {args.kernels!r}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    weights = {}     # (weight, act, M, K, g) -> (qw, dequantized fp64 weight on the host)
    launches = failures = 0
    t0 = time.time()
    for e in entries:
        act = e["act"]
        for (m, k, n, g) in shapes_for(e, args.shapes):
            info = mixgemm.explain(m, n, k, group_size=g, weight=e["weight"], act_dtype=act, kernel=e["name"])
            if info["kernel"] is None:
                continue
            key = (e["weight"], act, m, k, g)
            if key not in weights:
                w = host_tensor(rng.standard_normal((m, k)) / math.sqrt(k), act)
                qw = mixgemm.quantize(w, bits=8 if e["weight"] == "s8" else 4, group_size=g,
                                      symmetric=e["weight"] != "u4")
                wd = mixgemm.dequantize(qw).cpu().numpy().astype(np.float64)
                weights[key] = (qw, wd)
            qw, wd = weights[key]
            xh = rng.standard_normal((n, k))
            x = host_tensor(xh, act)
            bh = rng.standard_normal(m) if launches % 2 else None
            bias = host_tensor(bh, act) if bh is not None else None
            out = host_tensor(np.full((n, m), np.nan), act)
            mixgemm.linear(x, qw, bias=bias, out=out, kernel=e["name"])
            torch.cuda.synchronize()
            launches += 1
            msg = ""
            if not args.no_check:
                xr = x.cpu().float().numpy().astype(np.float64)
                ref = xr @ wd.T + (bias.cpu().float().numpy().astype(np.float64) if bias is not None else 0.0)
                y = out.cpu().float().numpy().astype(np.float64)
                if np.isnan(y).any():
                    msg = f"FAIL: {int(np.isnan(y).sum())} NaN outputs"
                else:
                    rel = float(np.linalg.norm(y - ref) / np.linalg.norm(ref))
                    msg = f"rel err {rel:.2e}" if rel < TOL[act] else f"FAIL: rel err {rel:.2e}"
                failures += msg.startswith("FAIL")
            print(f"entry {e['name']} M={m} N={n} K={k} g={g} bias={bias is not None}: {msg or 'ran'} "
                  f"[{time.time() - t0:.0f} s]", flush=True)
    print(f"DRIVER: {len(entries)} entries, {launches} launches, {failures} result check failures, "
          f"{time.time() - t0:.0f} s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
