"""The kernel catalog: the one declarative list every other part is generated from.

Each entry is one compiled kernel. generate.py turns this list into one .cu file per entry and the
entry table that dispatch, tests, benchmarks and ``mixgemm.kernels()`` iterate. Edit here only.
"""
from __future__ import annotations

from dataclasses import dataclass

# Weight formats: s4 = int4 symmetric (scale only), u4 = uint4 with zero points, s8 = int8 symmetric.
WEIGHTS = {
    "s4": dict(cpp_enum="WeightType::S4", cutlass_type="cutlass::int4b_t", zero=False),
    "u4": dict(cpp_enum="WeightType::U4", cutlass_type="cutlass::uint4b_t", zero=True),
    "s8": dict(cpp_enum="WeightType::S8", cutlass_type="int8_t", zero=False),
}
ACTS = {
    "f16": dict(cpp_enum="ActType::F16", cutlass_type="cutlass::half_t", cuda_type="__half"),
    "bf16": dict(cpp_enum="ActType::BF16", cutlass_type="cutlass::bfloat16_t", cuda_type="__nv_bfloat16"),
}


@dataclass(frozen=True)
class Entry:
    family: str          # "cutlass": stock CUTLASS sm90 mixed-input collective; "decode": our small-N kernel
    weight: str          # key of WEIGHTS
    act: str             # key of ACTS
    tile_m: int
    tile_n: int
    tile_k: int
    cluster_m: int
    scheduler: str       # "streamk" | "persistent" | "clusterk" (split-K reduced inside a thread-block cluster)
    mma: str = "wgmma"   # tensor-core instruction: "wgmma" (warpgroup MMA) | "mma.sync" (per-warp MMA)

    @property
    def name(self) -> str:
        return (f"{self.family}_{self.weight}_{self.act}_{self.tile_m}x{self.tile_n}x{self.tile_k}"
                f"_c{self.cluster_m}x1_{self.scheduler}")


# Tiles that span small to large N (tokens). Small-N tiles use stream-K so that all SMs stream weights
# even when M / tile_m is far below the SM count; stream-K also falls back to data-parallel tiles on
# its own when there are enough output tiles, so large tiles use it too.
CUTLASS_TILES = [
    # (tile_m, tile_n, cluster_m, scheduler)
    (128, 16, 1, "streamk"),
    (128, 32, 1, "streamk"),
    (128, 64, 1, "streamk"),
    (256, 64, 1, "streamk"),   # 64 tokens on large 4-bit weights: activations read once per 256 rows
    (128, 128, 1, "streamk"),
    (128, 256, 1, "streamk"),
]
# 256-row stock tiles only for 4-bit weights: at N=64 they beat the 128-row tile from 80M int4/uint4
# elements (70b.gate_up 138 vs 164 us), while int8 measured no gain or a loss (70b.qkv 45.8 vs 38.9 us,
# 70b.down 104.5 vs 95.0, 70b.gate_up 182.0 vs 181.9; H100, bench at 8676ae7 against 6fc3650).
WIDE_ROW_WEIGHTS = ("s4", "u4")

# The decode family (src/kernels/decode_gemm.cuh): TMA-fed warp-specialised kernels for small N,
# split-K across a thread-block cluster. (tile_m, tile_n) pairs: N up to tile_n tokens; 256-row tiles
# for large weights, 128-row tiles for small ones, 64-row tiles at 32-64 tokens where their split plans
# favour them (dispatch.cpp has the measured rules).
# tile_k is the K depth of one pipeline stage.
DECODE_TILES = [(128, 8), (128, 16), (128, 32), (128, 48), (128, 64), (64, 32), (64, 48), (64, 64), (256, 8), (256, 16),
                (256, 32)]
# Tiles that exist only as wgmma kernels (4-bit weights):
#  - 128 rows x 48 tokens: m64n48k16 on two warpgroups of 64 rows, as at 64 tokens. At 33-48 tokens it
#    is 3-9% faster than the 64-token kernel (fewer MMA columns and accumulators per stage; dev harness
#    mode n48, H100, us, N=48: reported case 13.45 -> 12.60, 8b.qkv 12.59 -> 11.87, 8b.o 10.84 ->
#    10.47, 8b.down 22.13 -> 20.66, 70b.o 26.53 -> 24.59).
#  - 64 rows x 32, 48 and 64 tokens: one warpgroup, three CTAs per SM, half the partial sums per CTA;
#    faster than the 128-row tile where its CTAs walk at most 1.3x the stages (dispatch.cpp; dev harness
#    modes rows64 and rows64b, H100, us: N=64 70b.qkv 31.9 against 37.0 and the stock 256x64 tile's
#    34.3, 8b.o 10.9 against 12.2, 5120x5120 12.8 against 14.1; 8b.o N=32 8.64 against 9.04, N=48 9.74
#    against 10.46).
WGMMA_ONLY_TILES = ((128, 48), (64, 32), (64, 48), (64, 64))


def decode_mma(weight: str, tile_n: int) -> str:
    """The decode kernel a (weight, token bucket) runs, as measured fastest on the H100 (bench/NOTES.md,
    "wgmma decode kernel" and "64 tokens"): wgmma with the scales applied to the weight fragments for
    16, 32 and 64 tokens of 4-bit weights (dev harness, N=16: reported case 16.6 -> 13.9 us, 70b.gate_up
    97.7 -> 95.5 us; N=32 with the parallel cluster reduction: reported case 13.3 us and 70b.down 55.9 us
    against the stock CUTLASS picks' 20.1 and 66.9 us; N=64 on two warpgroups of 64 rows: reported case
    15.1 us, 8b.o 13.0 us against 23.1 and 17.8 us on the best stock tile and 21.6 and 16.1 us on
    mma.sync); mma.sync elsewhere (at 8 tokens nothing to gain from wider MMAs, and int8 at 16 tokens
    measured only 1-3% apart)."""
    return "wgmma" if tile_n in (16, 32, 48, 64) and weight in ("s4", "u4") else "mma.sync"


ENTRIES = [
    Entry("cutlass", w, a, tm, tn, 64, cm, sched)   # CUTLASS's sm90 collectives issue wgmma
    for w in WEIGHTS
    for a in ACTS
    for (tm, tn, cm, sched) in CUTLASS_TILES
    if tm == 128 or w in WIDE_ROW_WEIGHTS
] + [
    Entry("decode", w, a, tm, tn, 64, 1, "clusterk", decode_mma(w, tn))
    for w in WEIGHTS
    for a in ACTS
    for (tm, tn) in DECODE_TILES
    if (tm, tn) not in WGMMA_ONLY_TILES or decode_mma(w, tn) == "wgmma"
]
