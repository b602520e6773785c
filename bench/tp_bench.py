"""Tensor-parallel benchmark: mixgemm.parallel's column- and row-parallel layers on N GPUs, per rank, next to
the single-GPU time of the unsharded layer. Run with torchrun from the repository root:

    torchrun --nproc-per-node=2 bench/tp_bench.py --out bench/results/h100-sxm-tp2.jsonl
    torchrun --nproc-per-node=4 bench/tp_bench.py --out bench/results/h100-sxm-tp4.jsonl
    torchrun --nproc-per-node=2 bench/tp_bench.py --layer llama3-8b.qkv --tokens 1,16 --eager   # quick look

Layers come from bench_shapes.json (default: the four llama3-70b layers): ``*.o`` and ``*.down`` are
row-parallel (input features split; the all-reduce sums the partials), the others column-parallel
(output features split; the all-gather joins the outputs). ``--shape M,K,group,column|row`` adds others.

For every (layer, N) each rank times, and rank 0 appends to ``--out`` as JSON lines (one per rank and impl):
  impl "single_gpu"  rank 0 only: mixgemm.linear on the whole weight (the baseline the layers are compared to)
  impl "local_gemm"  mixgemm.linear on this rank's shard alone (no collective)
  impl "collective"  the layer's collective alone on an output-sized buffer (all_gather / all_reduce)
  impl "layer"       the layer's forward: its GEMM and its collective (column: gather_output=True on the
                     full input; row: the rank's pre-split input, as after a column layer without gather)
Fields: us (median per call), weight_bytes (what this rank's kernel reads: its shard's packed values,
scales and zeros; the whole weight for single_gpu), comm_bytes (the collective's per-rank output
buffer, N * M * 2, for "collective" and "layer"), kernel, rel_err (the layer's output on this rank vs the fp32 reference of the
unsharded weight), timing ("graph" or "eager"), and the machine (card, world_size, rank, commit, versions).

Method: as mixgemm.bench, each rank rotates through enough weight copies (shards, or layers holding
shard copies) to exceed 4x the L2, so every call streams its weight from HBM; the calls are captured in
one CUDA graph (NCCL collectives included) and replays are timed with CUDA events, median of --replays.
All ranks warm up and replay the same number of times, after a barrier, since a collective waits for
every rank. If graph capture fails on any rank, all ranks time eager calls instead ("eager": includes
the host's launch overhead, several us per call). NCCL_NVLS_ENABLE=0 (NVLink multicast off) unless set.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import statistics
import sys
import time
from typing import Callable, List, Optional

DEFAULT_LAYERS = ["llama3-70b.qkv", "llama3-70b.o", "llama3-70b.gate_up", "llama3-70b.down"]
ROW_PARALLEL_SUFFIXES = (".o", ".down")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layer", action="append", help="layer name from bench_shapes.json (repeatable)")
    ap.add_argument("--shape", action="append", help="M,K,group,column|row (repeatable)")
    ap.add_argument("--tokens", default="1,16,64,256")
    ap.add_argument("--weight", default="s4", choices=["s4", "u4"])
    ap.add_argument("--act", default="float16", choices=["float16", "bfloat16"])
    ap.add_argument("--calls", type=int, default=20, help="calls per graph (at least one per weight copy)")
    ap.add_argument("--replays", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=10, help="untimed replays before timing (same on every rank)")
    ap.add_argument("--eager", action="store_true", help="time eager calls instead of CUDA-graph replays")
    ap.add_argument("--no-single", action="store_true", help="skip the single-GPU baseline on rank 0")
    ap.add_argument("--out", default=None, help="append JSON lines to this file (rank 0 writes)")
    ap.add_argument("--table", metavar="JSONL", help="print the summary of a results file and exit (no torchrun)")
    return ap.parse_args(argv)


def layers_from_args(args) -> List[dict]:
    from mixgemm.bench import load_layers
    layers = []
    for s in args.shape or []:
        parts = s.split(",")
        if len(parts) != 4 or parts[3] not in ("column", "row"):
            raise SystemExit(f"--shape {s!r}: expected M,K,group,column|row")
        m, k, g = (int(v) for v in parts[:3])
        layers.append(dict(name=f"{m}x{k}g{g}", M=m, K=k, group=g, mode=parts[3]))
    if args.layer or not layers:
        names = args.layer or DEFAULT_LAYERS
        found = load_layers(names)
        missing = set(names) - {layer["name"] for layer in found}
        if missing:
            raise SystemExit(f"unknown layers {sorted(missing)} (see bench_shapes.json)")
        for layer in found:
            layers.append(dict(layer, mode="row" if layer["name"].endswith(ROW_PARALLEL_SUFFIXES) else "column"))
    return layers


def init_distributed():
    import torch
    import torch.distributed as dist
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")
    if "RANK" not in os.environ:
        raise SystemExit("run with torchrun: torchrun --nproc-per-node=N bench/tp_bench.py ...")
    torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl", timeout=datetime.timedelta(minutes=10))
    return torch, dist


def time_calls(torch, dist, fns: List[Callable[[], object]], calls: int, replays: int, warmup: int,
               use_graph: bool, lockstep: bool) -> tuple:
    """(median us per call, "graph" | "eager") over replays of ``calls`` calls cycling through fns.

    lockstep: every rank of the world calls this together (the fns may hold collectives): fixed warm-up
    counts, a barrier before timing, and a capture failure anywhere makes every rank time eager calls."""
    calls = max(calls, len(fns))
    for f in fns[: min(len(fns), 3)]:     # lazy initialisation (allocations, NCCL communicators) outside a graph
        f()
    torch.cuda.synchronize()
    graph = None
    if use_graph:
        try:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                for i in range(calls):
                    fns[i % len(fns)]()
        except Exception as e:   # pragma: no cover - depends on the torch/NCCL build
            print(f"rank {dist.get_rank() if lockstep else 0}: CUDA graph capture failed "
                  f"({type(e).__name__}: {e}); timing eager calls", file=sys.stderr)
            graph = None
        if lockstep:
            ok = torch.tensor([int(graph is not None)], device="cuda", dtype=torch.int32)
            dist.all_reduce(ok, op=dist.ReduceOp.MIN)
            if not int(ok.item()):
                graph = None

    def run_once():
        if graph is not None:
            graph.replay()
        else:
            for i in range(calls):
                fns[i % len(fns)]()

    for _ in range(warmup):
        run_once()
    torch.cuda.synchronize()
    if lockstep:
        dist.barrier()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(replays):
        start.record()
        run_once()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) * 1000.0 / calls)
    timing = "graph" if graph is not None else "eager"
    graph = None     # frees the graph (and its memory pool) now
    return statistics.median(times), timing


def copy_weight(torch, qw):
    """A QuantizedWeight with its own copies of every array (for rotation)."""
    return dataclasses.replace(qw, **{k: None if getattr(qw, k) is None else getattr(qw, k).clone()
                                      for k in ("packed", "scales", "zeros", "zero_points", "act_perm")})


def _git_commit() -> str:
    from mixgemm.bench import _git_commit as commit
    return commit()


def bench_layer(torch, dist, layer: dict, tokens: List[int], args, meta: dict, rotate_bytes: int) -> List[dict]:
    import mixgemm
    from mixgemm import _linear
    from mixgemm.parallel import ColumnParallelLinear, RowParallelLinear
    rank, world = dist.get_rank(), dist.get_world_size()
    M, K, g, mode = layer["M"], layer["K"], layer["group"], layer["mode"]
    dtype = getattr(torch, args.act)
    dev = torch.cuda.current_device()
    use_graph = not args.eager
    torch.manual_seed(0)                       # the same weight on every rank (same seed, same GPU model)
    w = torch.randn(M, K, device="cuda", dtype=dtype) / math.sqrt(K)
    qw = mixgemm.quantize(w, bits=4, group_size=g, symmetric=(args.weight == "s4"), act_dtype=args.act)
    del w
    checksum = torch.stack([qw.packed.view(torch.int32).sum(dtype=torch.int64),
                            qw.scales.view(torch.int16).sum(dtype=torch.int64)])
    lo, hi = checksum.clone(), checksum.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    if not torch.equal(lo, hi):
        raise SystemExit(f"{layer['name']}: ranks built different weights (GPU models differ?)")
    w_ref = mixgemm.dequantize(qw)
    cls = ColumnParallelLinear if mode == "column" else RowParallelLinear
    shard = qw.shard(0 if mode == "column" else 1, rank, world)
    copies = max(2, math.ceil(rotate_bytes / shard.nbytes))
    shards = [shard] + [copy_weight(torch, shard) for _ in range(copies - 1)]
    kw = dict(gather_output=True) if mode == "column" else dict(input_is_parallel=True)
    layers = [cls(s, weight_is_shard=True, **kw) for s in shards]
    ks = shard.shape[1]
    records: List[dict] = []
    singles = None
    if rank == 0 and not args.no_single:
        single_copies = max(2, math.ceil(rotate_bytes / qw.nbytes))
        singles = [qw] + [copy_weight(torch, qw) for _ in range(single_copies - 1)]
    for n in tokens:
        gen = torch.Generator(device="cuda").manual_seed(n)
        x = torch.randn(n, K, device="cuda", dtype=dtype, generator=gen)
        x_in = x if mode == "column" else x[:, rank * ks:(rank + 1) * ks].contiguous()
        base = dict(meta, layer=layer["name"], mode=mode, M=M, K=K, group=g, N=n, weight=args.weight,
                    act=args.act, world_size=world, rank=rank)
        ref = x.float() @ w_ref.T
        y = layers[0](x_in)
        rel_err = float(torch.linalg.norm(y.float() - ref) / torch.linalg.norm(ref))

        def record(impl: str, us: float, timing: str, weight_bytes: int, comm_bytes: int, **extra) -> None:
            records.append(dict(base, impl=impl, us=round(us, 3), timing=timing, weight_bytes=weight_bytes,
                                comm_bytes=comm_bytes, **extra))

        # Single-GPU baseline: rank 0 alone, while the others wait at the barrier below.
        if singles is not None:
            outs = [torch.empty(n, M, device="cuda", dtype=dtype) for _ in range(2)]
            fns = [(lambda q=q, o=outs[i % 2]: mixgemm.linear(x, q, out=o)) for i, q in enumerate(singles)]
            us, timing = time_calls(torch, dist, fns, args.calls, args.replays, args.warmup, use_graph, False)
            record("single_gpu", us, timing, qw.nbytes, 0, kernel=_linear._select(qw, n, False, None, dev)[0])
        dist.barrier()
        # This rank's GEMM alone (all ranks at once, as in the layer).
        outs = [torch.empty(n, shard.shape[0], device="cuda", dtype=dtype) for _ in range(2)]
        fns = [(lambda s=s, o=outs[i % 2]: mixgemm.linear(x_in, s, out=o)) for i, s in enumerate(shards)]
        us, timing = time_calls(torch, dist, fns, args.calls, args.replays, args.warmup, use_graph, True)
        record("local_gemm", us, timing, shard.nbytes, 0, kernel=_linear._select(shard, n, False, None, dev)[0])
        # The collective alone, on a buffer of the layer's output size.
        if mode == "column":
            part = torch.randn(n, shard.shape[0], device="cuda").to(dtype)
            gathered = torch.empty(world * n, shard.shape[0], device="cuda", dtype=dtype)
            gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
            fns = [lambda: gather(gathered, part)]
        else:
            buf = torch.randn(n, M, device="cuda").to(dtype)
            fns = [lambda: dist.all_reduce(buf)]
        us, timing = time_calls(torch, dist, fns, args.calls, args.replays, args.warmup, use_graph, True)
        record("collective", us, timing, 0, n * M * 2)
        # The whole layer.
        fns = [(lambda lay=lay: lay(x_in)) for lay in layers]
        us, timing = time_calls(torch, dist, fns, args.calls, args.replays, args.warmup, use_graph, True)
        record("layer", us, timing, shard.nbytes, n * M * 2, rel_err=rel_err)
        del outs, fns
        torch.cuda.empty_cache()
    return records


def write_and_print(dist, records: List[dict], out: Optional[str]) -> None:
    """Gather every rank's records on rank 0; rank 0 appends them to ``out`` and prints a summary."""
    everyone = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(records, everyone, dst=0)
    if dist.get_rank() != 0:
        return
    flat = [r for recs in everyone for r in recs]
    if out:
        with open(out, "a") as f:
            for r in flat:
                f.write(json.dumps(r) + "\n")
    for line in summary_lines(flat):
        print(line, flush=True)


def summary_lines(records: List[dict]) -> List[str]:
    """One line per (weight, act, layer, N): the single-GPU call next to the layer on the slowest rank, its
    GEMM and collective, the weight bytes each rank reads, and the GEMM's effective bandwidth."""
    keys = []
    for r in records:
        key = (r["weight"], r["act"], r["world_size"], r["layer"], r["N"])
        if key not in keys:
            keys.append(key)
    lines = []
    for key in keys:
        rs = [r for r in records if (r["weight"], r["act"], r["world_size"], r["layer"], r["N"]) == key]
        worst = lambda impl: max((r["us"] for r in rs if r["impl"] == impl), default=float("nan"))   # noqa: E731
        single, layer_us, gemm = worst("single_gpu"), worst("layer"), worst("local_gemm")
        rank_mb = max((r["weight_bytes"] for r in rs if r["impl"] == "local_gemm"), default=0) / 1e6
        single_mb = max((r["weight_bytes"] for r in rs if r["impl"] == "single_gpu"), default=0) / 1e6
        first = rs[0]
        lines.append(
            f"{first['weight']}/{first['act']:<8} {first['layer']:<19} {first['mode']:<6} N={first['N']:<4} "
            f"world={first['world_size']} | single {single:7.1f} us {single_mb:6.1f} MB | layer {layer_us:7.1f} us "
            f"(slowest rank) = gemm {gemm:6.1f} us {rank_mb:6.1f} MB/rank {rank_mb / gemm:4.2f} TB/s "
            f"+ collective {worst('collective'):5.1f} us | speedup {single / layer_us:4.2f}x | {first['timing']}")
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.table:
        with open(args.table) as f:
            print("\n".join(summary_lines([json.loads(line) for line in f if line.strip()])))
        return 0
    tokens = [int(t) for t in args.tokens.split(",") if t]
    torch, dist = init_distributed()
    layers = layers_from_args(args)
    props = torch.cuda.get_device_properties(torch.cuda.current_device())
    l2 = int(getattr(props, "L2_cache_size", 50 * 2**20))
    rotate_bytes = 4 * l2 + 16 * 2**20
    nccl = ".".join(str(v) for v in torch.cuda.nccl.version()) if hasattr(torch.cuda, "nccl") else "?"
    meta = dict(card=props.name, date=datetime.date.today().isoformat(), commit=_git_commit(),
                cuda=torch.version.cuda, torch=torch.__version__, nccl=nccl,
                nccl_nvls_enable=os.environ.get("NCCL_NVLS_ENABLE"))
    if dist.get_rank() == 0:
        print(f"{dist.get_world_size()} ranks on {props.name}; layers {[l['name'] for l in layers]}; tokens {tokens}",
              file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    for layer in layers:
        records = bench_layer(torch, dist, layer, tokens, args, meta, rotate_bytes)
        write_and_print(dist, records, args.out)
        torch.cuda.empty_cache()
    dist.barrier()
    if dist.get_rank() == 0:
        print(f"done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
