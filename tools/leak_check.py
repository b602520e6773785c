"""Memory-leak measurement for mixgemm.linear (issue 5): many calls, memory before and after.

A mix of call variants (out= and allocating paths, bias, batch dims, explicit stream= and stream
contexts, forced decode and heuristic stream-K kernels with their per-call workspace, u4 zero points,
calls rejected with TypeError/ValueError, and the DLPack path through CuPy when CuPy is installed)
runs round-robin. After a warm-up, and at checkpoints, it records (after synchronize, gc.collect()
and emptying the framework caches):
  - torch.cuda.memory_allocated (live torch tensors),
  - device memory in use by the process per cudaMemGetInfo (catches cudaMalloc outside torch),
  - host RSS (/proc/self/status VmRSS) and the number of Python objects tracked by gc.
Exit code 1 if any of them grew past its limit between the warm-up and the end.

Usage: python tools/leak_check.py                   # 1,000,000 calls (about 1-2 minutes on an H100)
       python tools/leak_check.py --calls 20000 --checkpoints 4   # what tests/gpu/test_concurrency.py runs
"""
import argparse
import gc
import sys
import time

import torch

import mixgemm

MIB = 1 << 20


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def build_variants(m: int, k: int, n: int, use_cupy: bool):
    """[(name, fn)]: each fn makes one call (or one rejected call)."""
    present = {(e["weight"], e["act"]) for e in mixgemm.kernels()}
    variants = []
    gen = torch.Generator(device="cuda").manual_seed(0)
    for weight, act in [("s4", "float16"), ("u4", "bfloat16"), ("s8", "float16"), ("s4", "bfloat16"), ("u4", "float16")]:
        if (weight, act) not in present:
            continue
        tdtype = getattr(torch, act)
        w = (torch.randn(m, k, device="cuda", generator=gen) / k ** 0.5).to(tdtype)
        qw = mixgemm.quantize(w, bits=8 if weight == "s8" else 4, group_size=128, symmetric=weight != "u4")
        x = torch.randn(n, k, device="cuda", generator=gen).to(tdtype)
        xb = torch.randn(2, 2, k, device="cuda", generator=gen).to(tdtype)
        bias = torch.randn(m, device="cuda", generator=gen).to(tdtype)
        out = torch.empty(n, m, device="cuda", dtype=tdtype)
        side = torch.cuda.Stream()
        decode = [e["name"] for e in mixgemm.kernels() if e["weight"] == weight and e["act"] == act
                  and e["family"] == "decode" and e["tile_n"] >= n]
        tag = f"{weight}/{act}"
        variants += [
            (f"{tag} out=", lambda x=x, qw=qw, out=out: mixgemm.linear(x, qw, out=out)),
            (f"{tag} alloc", lambda x=x, qw=qw: mixgemm.linear(x, qw)),
            (f"{tag} bias+out", lambda x=x, qw=qw, b=bias, out=out: mixgemm.linear(x, qw, bias=b, out=out)),
            (f"{tag} batch dims", lambda x=xb, qw=qw: mixgemm.linear(x, qw)),
            (f"{tag} stream=", lambda x=x, qw=qw, s=side: mixgemm.linear(x, qw, stream=s)),
        ]

        def in_side(x=x, qw=qw, s=side):
            with torch.cuda.stream(s):
                return mixgemm.linear(x, qw)
        variants.append((f"{tag} stream ctx", in_side))
        if decode:
            variants.append((f"{tag} {decode[0]}", lambda x=x, qw=qw, kn=decode[0]: mixgemm.linear(x, qw, kernel=kn)))

        def rejected(x=x, qw=qw):
            try:
                mixgemm.linear(x.float(), qw)
            except TypeError:
                return None
            raise AssertionError("a float32 x was accepted")
        variants.append((f"{tag} rejected", rejected))
        if use_cupy and act == "float16":
            import cupy
            cx = cupy.from_dlpack(x)
            cw = cupy.from_dlpack(w)
            cqw = mixgemm.quantize(cw, bits=8 if weight == "s8" else 4, group_size=128, symmetric=weight != "u4")
            variants.append((f"{tag} cupy", lambda cx=cx, cqw=cqw: mixgemm.linear(cx, cqw)))
    if not variants:
        raise SystemExit("this build has none of the kernel types the leak check uses")
    torch.cuda.synchronize()     # inputs ready before calls on other streams read them
    return variants


def measure(use_cupy: bool) -> dict:
    torch.cuda.synchronize()
    gc.collect()
    torch.cuda.empty_cache()
    if use_cupy:
        import cupy
        cupy.get_default_memory_pool().free_all_blocks()
    free, total = torch.cuda.mem_get_info()
    return dict(allocated=torch.cuda.memory_allocated(), device_used=total - free, rss=rss_bytes(),
                objects=len(gc.get_objects()))


def fmt(m: dict) -> str:
    return (f"torch allocated {m['allocated'] / MIB:9.2f} MiB | device in use {m['device_used'] / MIB:9.1f} MiB | "
            f"RSS {m['rss'] / MIB:8.1f} MiB | gc objects {m['objects']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--warmup", type=int, default=5000)
    ap.add_argument("--checkpoints", type=int, default=10)
    ap.add_argument("--m", type=int, default=256)
    ap.add_argument("--k", type=int, default=512)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--sync-every", type=int, default=1000)
    ap.add_argument("--max-rss-mib", type=float, default=32.0)
    ap.add_argument("--max-device-mib", type=float, default=16.0)
    ap.add_argument("--max-allocated-mib", type=float, default=1.0)
    ap.add_argument("--max-objects", type=int, default=5000)
    ap.add_argument("--no-cupy", action="store_true")
    args = ap.parse_args()
    use_cupy = False
    if not args.no_cupy:
        try:
            import cupy
            use_cupy = True
            print(f"CuPy {cupy.__version__} found: the DLPack path is part of the mix")
        except ImportError:
            pass
    variants = build_variants(args.m, args.k, args.n, use_cupy)
    print(f"leak check: {args.calls} calls after {args.warmup} warm-up calls, M={args.m} K={args.k} N={args.n}, "
          f"{len(variants)} variants round-robin: {', '.join(v[0] for v in variants)}", flush=True)

    def run(count: int, offset: int) -> None:
        nv = len(variants)
        for i in range(count):
            variants[(offset + i) % nv][1]()
            if (i + 1) % args.sync_every == 0:
                torch.cuda.synchronize()

    run(args.warmup, 0)
    base = measure(use_cupy)
    print(f"after warm-up : {fmt(base)}", flush=True)
    per = max(1, args.calls // max(1, args.checkpoints))
    done = 0
    t0 = time.perf_counter()
    history = []
    while done < args.calls:
        step = min(per, args.calls - done)
        run(step, args.warmup + done)
        done += step
        now = measure(use_cupy)
        history.append(now)
        rate = done / (time.perf_counter() - t0)
        print(f"{done:>9} calls : {fmt(now)} | {rate:,.0f} calls/s", flush=True)
    end = history[-1]
    growth = {key: end[key] - base[key] for key in base}
    limits = dict(allocated=args.max_allocated_mib * MIB, device_used=args.max_device_mib * MIB,
                  rss=args.max_rss_mib * MIB, objects=args.max_objects)
    elapsed = time.perf_counter() - t0
    print(f"\n{args.calls} calls in {elapsed:.1f} s ({args.calls / elapsed:,.0f} calls/s, "
          f"{elapsed / args.calls * 1e6:.1f} us/call including checkpoints)")
    failed = False
    for key, lim in limits.items():
        g = growth[key]
        unit = "" if key == "objects" else " MiB"
        scale = 1 if key == "objects" else MIB
        per_call = g / args.calls
        verdict = "ok" if g <= lim else "LEAK?"
        failed |= g > lim
        print(f"  {key:<12} growth {g / scale:+10.2f}{unit} (limit {lim / scale:.0f}{unit}; "
              f"{per_call:+.3f} {'objects' if key == 'objects' else 'bytes'}/call)  {verdict}")
    print("RESULT:", "FAIL (memory grew past a limit)" if failed else "PASS (no growth past the limits)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
