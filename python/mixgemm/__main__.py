"""Command line: ``python -m mixgemm {kernels,explain,demo,bench}``."""
from __future__ import annotations

import argparse
import json
import sys


def _cmd_kernels(args) -> int:
    import mixgemm
    ks = mixgemm.kernels()
    if args.json:
        print(json.dumps(ks, indent=1))
        return 0
    print(f"{len(ks)} kernels in this build (CUTLASS {mixgemm.cutlass_version}):")
    for k in ks:
        print(f"  {k['name']:<52} {k['weight']}/{k['act']:<8} tile {k['tile_m']}x{k['tile_n']}x{k['tile_k']} "
              f"{k['mma']:<8} {k['scheduler']}")
    return 0


def _cmd_explain(args) -> int:
    import mixgemm
    info = mixgemm.explain(args.M, args.N, args.K, group_size=args.group, weight=args.weight,
                           act_dtype=args.act, kernel=args.kernel, device=args.device)
    print(f"problem: y[{args.N}, {args.M}] = x[{args.N}, {args.K}] @ W[{args.M}, {args.K}]^T, "
          f"{args.weight} weights, group {args.group}, {args.act}, {info['sm_count']} SMs")
    print(f"chosen:  {info['kernel']}")
    print(f"why:     {info['reason']}")
    print("candidates (best first):")
    for c in info["candidates"]:
        status = "ok" if not c["rejection"] else f"rejected: {c['rejection']}"
        cost = f"cost {c['cost']:9.2f}" if c["cost"] >= 0 else " " * 14
        print(f"  {c['name']:<52} {cost}  {status if c['rejection'] else c['rule'] or status}")
    return 0 if info["kernel"] else 1


def _need_gpu() -> "object":
    try:
        import torch
    except ImportError:
        print("this command needs PyTorch with CUDA (pip install torch)", file=sys.stderr)
        return None
    if not torch.cuda.is_available():
        print("this command needs an NVIDIA Hopper GPU; none is visible. Try: python -m mixgemm kernels / explain",
              file=sys.stderr)
        return None
    cc = torch.cuda.get_device_capability()
    if cc != (9, 0):
        print(f"mixgemm kernels need compute capability 9.0 (H100/H200); this GPU is {cc}", file=sys.stderr)
        return None
    return torch


def _cmd_demo(args) -> int:
    torch = _need_gpu()
    if torch is None:
        return 2
    import mixgemm
    from mixgemm.bench import time_rotating
    M, K, N, g = args.M, args.K, args.N, args.group
    dtype = getattr(torch, args.act)
    w = torch.randn(M, K, device="cuda", dtype=dtype) / K ** 0.5
    x = torch.randn(N, K, device="cuda", dtype=dtype)
    qw = mixgemm.quantize(w, bits=4, group_size=g)
    y = mixgemm.linear(x, qw)
    ref = x.float() @ mixgemm.dequantize(qw).T
    err = float(torch.linalg.norm(y.float() - ref) / torch.linalg.norm(ref))
    info = mixgemm.explain(M, N, K, group_size=g, act_dtype=args.act, device=torch.cuda.current_device())
    us = time_rotating(torch, [lambda: mixgemm.linear(x, qw)], calls=50)
    print(f"int4 g{g} linear: y[{N},{M}] = x[{N},{K}] @ W^T on {torch.cuda.get_device_name()}")
    print(f"  kernel   {info['kernel']}  ({info['reason']})")
    print(f"  error    {err:.2e} relative Frobenius vs fp32 dequantize-then-matmul")
    print(f"  time     {us:.1f} us per call (weight in L2; see `python -m mixgemm bench` for HBM-bound numbers)")
    return 0 if err < 2e-2 else 1


def _cmd_bench(args) -> int:
    torch = _need_gpu()
    if torch is None:
        return 2
    from mixgemm import bench
    if args.shape:
        layers = []
        for s in args.shape:
            m, k, g = (int(v) for v in s.split(","))
            layers.append(dict(name=f"{m}x{k}g{g}", M=m, K=k, group=g))
    else:
        layers = bench.load_layers(args.layer)
    tokens = [int(t) for t in args.tokens.split(",")]
    records = bench.run(layers, tokens, weight=args.weight, act=args.act, kernel=args.kernel,
                        impls=args.impls.split(","), out_path=args.out, candidates=args.candidates)
    print(bench.format_table(records))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mixgemm", description="mixgemm: mixed-input GEMM for Hopper")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("kernels", help="list the kernels compiled into this build")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=_cmd_kernels)
    p = sub.add_parser("explain", help="which kernel a problem uses, and why (no GPU needed)")
    p.add_argument("M", type=int, help="out_features")
    p.add_argument("N", type=int, help="tokens")
    p.add_argument("K", type=int, help="in_features")
    p.add_argument("--group", type=int, default=128)
    p.add_argument("--weight", default="s4", choices=["s4", "u4", "s8"])
    p.add_argument("--act", default="float16", choices=["float16", "bfloat16"])
    p.add_argument("--kernel", default=None, help="check a specific kernel instead of the heuristic's pick")
    p.add_argument("--device", type=int, default=None, help="plan for this GPU (default: the H100 the heuristic was fitted on)")
    p.set_defaults(fn=_cmd_explain)
    p = sub.add_parser("demo", help="quantize a random weight, run linear, check it, time it (needs an H100)")
    p.add_argument("--M", type=int, default=3584)
    p.add_argument("--K", type=int, default=8192)
    p.add_argument("--N", type=int, default=16)
    p.add_argument("--group", type=int, default=64)
    p.add_argument("--act", default="float16", choices=["float16", "bfloat16"])
    p.set_defaults(fn=_cmd_demo)
    p = sub.add_parser("bench", help="time mixgemm vs cuBLAS fp16/FP8 and torch int4 (needs an H100)")
    p.add_argument("--layer", action="append", help="layer name from bench_shapes.json (repeatable)")
    p.add_argument("--shape", action="append", help="M,K,group (repeatable) instead of named layers")
    p.add_argument("--tokens", default="1,16,64,4096")
    p.add_argument("--weight", default="s4", choices=["s4", "u4", "s8"])
    p.add_argument("--act", default="float16", choices=["float16", "bfloat16"])
    p.add_argument("--kernel", default=None)
    p.add_argument("--impls", default="mixgemm,cublas_fp16,cublas_fp8,torch_int4")
    p.add_argument("--out", default=None, help="append JSON lines to this file")
    p.add_argument("--candidates", action="store_true", help="also time every kernel that can run each problem")
    p.set_defaults(fn=_cmd_bench)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
