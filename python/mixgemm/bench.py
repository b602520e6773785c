"""Benchmark mixgemm against cuBLAS fp16, cuBLAS FP8 and PyTorch's int4 kernel, in one run.

Method (DESIGN.md "Measuring"): every implementation rotates through enough weight copies to exceed
4x the L2 so each call streams its weight from HBM; calls are captured in a CUDA graph and timed with
CUDA events over graph replays; the median of several replays is reported. Bytes count weights +
scales + zeros + activations + output. Needs PyTorch with CUDA.
"""
from __future__ import annotations

import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, Iterable, List, Optional

DEFAULT_TOKENS = [1, 16, 64, 4096]


def _shapes_file() -> Optional[str]:
    here = os.path.dirname(os.path.abspath(__file__))
    # The copy packaged with mixgemm, else a source checkout's bench/ folder.
    for cand in (os.path.join(here, "bench_shapes.json"), os.path.join(here, "..", "..", "bench", "bench_shapes.json")):
        if os.path.exists(cand):
            return cand
    return None


def load_layers(names: Optional[Iterable[str]] = None) -> List[dict]:
    path = _shapes_file()
    if path is None:
        raise FileNotFoundError("bench_shapes.json not found; pass --shape M,K,G")
    with open(path) as f:
        layers = json.load(f)["layers"]
    if names:
        wanted = set(names)
        layers = [l for l in layers if l["name"] in wanted]
    return layers


def _git_commit() -> str:
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.check_output(["git", "-C", here, "rev-parse", "--short", "HEAD"],
                                       stderr=subprocess.DEVNULL, text=True).strip()
    except Exception:
        return os.environ.get("MIXGEMM_COMMIT", "unknown")


def time_rotating(torch, fns: List[Callable[[], None]], calls: int, replays: int = 7) -> float:
    """Median microseconds per call over CUDA-graph replays of `calls` calls cycling through fns."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for f in fns[: min(len(fns), 3)]:   # warm up (allocations, lazy init) outside the graph
            f()
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for i in range(calls):
            fns[i % len(fns)]()
    # Warm up for ~50 ms of replays: the first measured configuration of each layer read 10-20% slow
    # with a single warm-up replay (GPU clocks still ramping after the host-side setup).
    warm_start = time.perf_counter()
    while True:
        graph.replay()
        torch.cuda.synchronize()
        if time.perf_counter() - warm_start > 0.05:
            break
    times = []
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(replays):
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1000.0 / calls)
    del graph
    return statistics.median(times)


def run(layers: List[dict], tokens: List[int], weight: str = "s4", act: str = "float16",
        impls: Iterable[str] = ("mixgemm", "cublas_fp16", "cublas_fp8", "torch_int4"),
        kernel: Optional[str] = None, out_path: Optional[str] = None, progress: bool = True,
        candidates: bool = False) -> List[dict]:
    """Time the implementations on every (layer, N); with candidates=True also every catalog kernel
    that can run the problem (impl "kernel", for tuning the heuristic)."""
    import torch

    import mixgemm
    from mixgemm import _linear

    dev = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(dev)
    l2 = int(getattr(props, "L2_cache_size", 50 * 2**20))
    rotate_bytes = 4 * l2 + 16 * 2**20
    tdtype = getattr(torch, act)
    card = props.name
    meta = dict(card=card, date=datetime.date.today().isoformat(), commit=_git_commit(),
                cuda=torch.version.cuda, torch=torch.__version__)
    records: List[dict] = []
    total = len(layers) * len(tokens)
    done = 0
    for layer in layers:
        M, K, g = layer["M"], layer["K"], layer["group"]
        torch.manual_seed(0)
        w = torch.randn(M, K, device="cuda", dtype=tdtype) / math.sqrt(K)
        bits = 8 if weight == "s8" else 4
        qw0 = mixgemm.quantize(w, bits=bits, group_size=g, symmetric=(weight != "u4"), act_dtype=act)
        copies_q = max(2, math.ceil(rotate_bytes / qw0.nbytes))
        qws = [qw0] + [mixgemm.QuantizedWeight(qw0.packed.clone(), qw0.scales.clone(),
                                               None if qw0.zeros is None else qw0.zeros.clone(),
                                               qw0.shape, qw0.group_size, qw0.weight, qw0.act_dtype)
                       for _ in range(copies_q - 1)]
        w_ref = mixgemm.dequantize(qw0)
        for n in tokens:
            done += 1
            if progress:
                print(f"[{done}/{total}] {layer['name']} M={M} K={K} g={g} N={n}", file=sys.stderr, flush=True)
            x = torch.randn(n, K, device="cuda", dtype=tdtype)
            base = dict(meta, layer=layer["name"], M=M, N=n, K=K, group=g, weight=weight, act=act)
            act_bytes = 2 * n * K + 2 * n * M
            flops = 2.0 * M * n * K

            def record(impl: str, us: float, weight_bytes: int, extra: Optional[dict] = None) -> None:
                r = dict(base, impl=impl, us=round(us, 3), gbps=round((weight_bytes + act_bytes) / us / 1e3, 1),
                         tflops=round(flops / us / 1e6, 2))
                if extra:
                    r.update(extra)
                records.append(r)
                if out_path:   # written as we go, so an interrupted run keeps what it measured
                    with open(out_path, "a") as f:
                        f.write(json.dumps(r) + "\n")

            if "mixgemm" in impls:
                y = torch.empty(n, M, device="cuda", dtype=tdtype)
                y.fill_(float("nan"))
                mixgemm.linear(x, qw0, out=y, kernel=kernel)
                ref = x.float() @ w_ref.T
                err = float(torch.linalg.norm(y.float() - ref) / torch.linalg.norm(ref))
                outs = [torch.empty(n, M, device="cuda", dtype=tdtype) for _ in range(2)]
                fns = [(lambda q=q, o=outs[i % 2]: mixgemm.linear(x, q, out=o, kernel=kernel))
                       for i, q in enumerate(qws)]
                us = time_rotating(torch, fns, calls=max(len(fns), 20))
                name = _linear._select(qw0, n, False, kernel, dev)[0]
                record("mixgemm", us, qw0.nbytes, dict(kernel=name, rel_err=err))
                if candidates:
                    info = mixgemm.explain(M, n, K, group_size=g, weight=weight, act_dtype=act, device=dev)
                    for cand in info["candidates"]:
                        if cand["rejection"] or cand["name"] == name:
                            continue
                        cfns = [(lambda q=q, o=outs[i % 2], c=cand["name"]: mixgemm.linear(x, q, out=o, kernel=c))
                                for i, q in enumerate(qws)]
                        cus = time_rotating(torch, cfns, calls=max(len(cfns), 20))
                        record("kernel", cus, qw0.nbytes, dict(kernel=cand["name"]))
            if "cublas_fp16" in impls:
                wbytes = M * K * 2
                ws = [torch.randn(M, K, device="cuda", dtype=tdtype) for _ in range(max(2, math.ceil(rotate_bytes / wbytes)))]
                fns = [(lambda wi=wi: torch.matmul(x, wi.T)) for wi in ws]
                record("cublas_fp16", time_rotating(torch, fns, calls=max(len(fns), 20)), wbytes)
                del ws
            if "cublas_fp8" in impls and hasattr(torch, "_scaled_mm"):
                n_pad = max(16, -(-n // 16) * 16)
                wbytes = M * K
                x8 = torch.randn(n_pad, K, device="cuda").to(torch.float8_e4m3fn)
                one = torch.ones((), device="cuda")
                ws = [torch.randn(M, K, device="cuda").to(torch.float8_e4m3fn)
                      for _ in range(max(2, math.ceil(rotate_bytes / wbytes)))]
                fns = [(lambda wi=wi: torch._scaled_mm(x8, wi.T, scale_a=one, scale_b=one, out_dtype=torch.bfloat16))
                       for wi in ws]
                try:
                    record("cublas_fp8", time_rotating(torch, fns, calls=max(len(fns), 20)), wbytes)
                except RuntimeError as e:   # pragma: no cover - depends on the torch build
                    print(f"  cublas_fp8 skipped: {e}", file=sys.stderr)
                del ws
            if "torch_int4" in impls and n <= 256:   # tinygemm is a decode kernel; large N takes minutes
                r = _torch_int4(torch, x, M, K, g, rotate_bytes)
                if r is not None:
                    us, wbytes = r
                    record("torch_int4", us, wbytes)
            torch.cuda.empty_cache()
        del qws, w, w_ref
        torch.cuda.empty_cache()
    return records


def _torch_int4(torch, x, M: int, K: int, g: int, rotate_bytes: int):
    """PyTorch's tinygemm int4 kernel (bf16 activations only); None when this torch lacks it."""
    try:
        xb = x.to(torch.bfloat16)
        wbytes = M * K // 2 + M * (K // g) * 4
        copies = max(2, math.ceil(rotate_bytes / wbytes))
        packs = []
        for _ in range(copies):
            q = torch.randint(0, 16, (M, K), dtype=torch.int32, device="cuda")
            q = (q[:, ::2] << 4 | q[:, 1::2]).to(torch.uint8)
            packed = torch._convert_weight_to_int4pack(q, 8)
            sz = torch.rand(K // g, M, 2, device="cuda", dtype=torch.bfloat16)
            packs.append((packed, sz))
        fns = [(lambda p=p, s=s: torch._weight_int4pack_mm(xb, p, g, s)) for p, s in packs]
        return time_rotating(torch, fns, calls=max(len(fns), 20)), wbytes
    except Exception as e:  # pragma: no cover - API differs across torch versions
        print(f"  torch_int4 skipped: {type(e).__name__}: {e}", file=sys.stderr)
        return None


def format_table(records: List[dict]) -> str:
    by_key: Dict[tuple, Dict[str, dict]] = {}
    for r in records:
        by_key.setdefault((r["layer"], r["M"], r["K"], r["N"]), {})[r["impl"]] = r
    lines = [f"{'layer':<20} {'M':>6} {'K':>6} {'N':>5} | {'mixgemm us':>10} {'GB/s':>7} | {'fp16 us':>8} {'fp8 us':>8} "
             f"{'int4 us':>8} | {'vs fp16':>7} {'vs fp8':>7} | kernel"]
    for (layer, M, K, N), d in by_key.items():
        mg = d.get("mixgemm")
        f16, f8, i4 = d.get("cublas_fp16"), d.get("cublas_fp8"), d.get("torch_int4")
        fmt = lambda r: f"{r['us']:8.1f}" if r else f"{'-':>8}"
        ratio = lambda r: f"{r['us'] / mg['us']:6.2f}x" if (r and mg) else f"{'-':>7}"
        lines.append(f"{layer:<20} {M:>6} {K:>6} {N:>5} | {mg['us'] if mg else float('nan'):10.1f} "
                     f"{mg['gbps'] if mg else float('nan'):7.0f} | {fmt(f16)} {fmt(f8)} {fmt(i4)} | "
                     f"{ratio(f16)} {ratio(f8)} | {mg.get('kernel', '') if mg else ''}")
    return "\n".join(lines)
