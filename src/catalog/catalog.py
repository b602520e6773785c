"""The kernel catalog: every compiled kernel and every value that shapes it.

generate.py turns ENTRIES into one .cu file per entry (each decode entry's values as one named config
struct), the entry table that dispatch, tests, benchmarks and ``mixgemm.kernels()`` iterate, and
docs/catalog.md. No other file chooses a template value: to change a kernel, change its row here.
Which entry serves which problem is heuristic.py's table; why each row is what it is, docs/notes/.
"""
from __future__ import annotations

from dataclasses import dataclass

# Weight formats: s4 = int4 symmetric (scale only), u4 = uint4 with zero points, s8 = int8 symmetric.
# Activation types: keyed by the short code entry names use; "name" is how the API, kernels() and
# messages spell them. The C++ enums (entry.h) and the bindings' nb::enum_ carry the same names
# (tests/cpu/test_catalog.py checks that they agree).
WEIGHTS = {
    "s4": dict(cpp_enum="WeightType::S4", cutlass_type="cutlass::int4b_t", zero=False, bits=4),
    "u4": dict(cpp_enum="WeightType::U4", cutlass_type="cutlass::uint4b_t", zero=True, bits=4),
    "s8": dict(cpp_enum="WeightType::S8", cutlass_type="int8_t", zero=False, bits=8),
}
ACTS = {
    "f16": dict(name="float16", cpp_enum="ActType::F16", cutlass_type="cutlass::half_t", cuda_type="__half"),
    "bf16": dict(name="bfloat16", cpp_enum="ActType::BF16", cutlass_type="cutlass::bfloat16_t",
                 cuda_type="__nv_bfloat16"),
}

TILE_K = 64   # K depth of one pipeline stage (decode) or k-tile (CUTLASS): 128 bytes of 16-bit activations


@dataclass(frozen=True)
class Entry:
    """One compiled kernel. Fields that do not apply to a family keep their defaults."""
    family: str                # "cutlass": stock CUTLASS sm90 collective; "decode": mixgemm's small-N kernels
    weight: str                # key of WEIGHTS
    act: str                   # key of ACTS
    tile_m: int                # rows of W per CTA
    tile_n: int                # tokens per CTA (decode: the token bucket, N padded up to it)
    tile_k: int = TILE_K
    mma: str = "wgmma"         # "wgmma" (warpgroup MMA) | "mma.sync" (per-warp MMA)
    # stock CUTLASS
    cluster_m: int = 1         # thread-block cluster along M
    scheduler: str = "splitk"  # "streamk" (CUTLASS) | "splitk" (decode: split-K over a 1 x splits cluster)
    # decode (CUTLASS entries keep the defaults: its collective builder chooses its own)
    stages: int = 0            # shared-memory ring stages (CUTLASS: 0 = StageCountAutoCarveout)
    consumer_warps: int = 0    # per consumer group
    row_blocks: int = 0        # 16-row blocks per consumer warp (tile_m = 16 * consumer_warps * row_blocks)
    consumer_groups: int = 1   # groups of consumer warps taking turns on the stages
    producer_warps: int = 1    # TMA-issuing warps, taking alternate stages
    pipeline: str = ""         # wgmma: "stage" (two stages' fragments live) | "kblock" (two K blocks')
    sum_warp: bool = False     # mma.sync with zero points: sum_g(x) from an extra warp (else a ones-MMA)
    # decode launch plan (host side; the same binary either way)
    cta_load: float = 1.0      # a CTA's weight on its SM's stage rate, in 4-bit 128-row CTAs (decode/splits.h)
    one_cta_per_sm: bool = False   # split K only as far as one CTA per SM
    any_n: bool = False        # runs any N in chunks of tile_n tokens (each chunk streams W again)

    @property
    def name(self) -> str:
        """Every value that shapes the binary, in a fixed order (as CUTLASS's procedural_name())."""
        base = f"{self.family}_{self.weight}_{self.act}_{self.tile_m}x{self.tile_n}x{self.tile_k}"
        if self.family == "cutlass":
            return f"{base}_c{self.cluster_m}x1_{self.scheduler}_stauto"
        mma = self.mma.replace(".", "")
        name = (f"{base}_{mma}_w{self.consumer_warps}x{self.row_blocks}_g{self.consumer_groups}"
                f"_p{self.producer_warps}_s{self.stages}")
        if self.pipeline:
            name += f"_{self.pipeline}"
        if self.sum_warp:
            name += "_sumwarp"
        return name


# Stock CUTLASS tiles (tile_m, tile_n), stream-K, cluster 1x1: they serve N beyond the decode buckets.
# 256-row tiles only for 4-bit weights (docs/notes/tile-choice.md: int8 measured no gain).
CUTLASS_TILES = {
    "s4": [(128, 16), (128, 32), (128, 64), (256, 64), (128, 128), (128, 256)],
    "u4": [(128, 16), (128, 32), (128, 64), (256, 64), (128, 128), (128, 256)],
    "s8": [(128, 16), (128, 32), (128, 64), (128, 128), (128, 256)],
}

# The decode kernels of each weight format, the same for both activation types. Columns:
#   tile_m, tokens  the CTA's rows and token bucket
#   mma             "wgmma" (decode/kernel_wgmma.cuh) or "mma.sync" (decode/kernel_mma_sync.cuh)
#   w x r           consumer warps x 16-row blocks per warp
#   g               consumer groups (mma.sync only; two hide a warp's stage latency at 1-16 tokens)
#   p               producer warps (two where one thread's TMA issue is slower than the consumers)
#   s               stages (chosen so that two or three CTAs share an SM)
#   pipe            wgmma pipeline: per stage, or per K block where 256 rows leave no registers for two stages
#   load            cta_load for the split plan (fitted: docs/notes/split-plan.md)
#   flags           "1cta": one CTA per SM at most; "any_n": the widest bucket, runs any N in chunks
# Why each value: docs/notes/ (producer-warps.md, wgmma-pipeline.md, mma-sync-kernel.md, split-plan.md).
_DECODE_4BIT = [
    # tile_m tokens  mma       w  r  g  p  s  pipe      load  flags
    (128,    8,  "mma.sync", 4, 2, 2, 1, 8, "",       1.0,  ""),
    (128,   16,  "wgmma",    4, 2, 1, 1, 8, "stage",  1.0,  ""),
    (128,   32,  "wgmma",    4, 2, 1, 1, 6, "stage",  1.0,  ""),
    (128,   48,  "wgmma",    8, 1, 1, 2, 8, "stage",  1.5,  ""),
    (128,   64,  "wgmma",    8, 1, 1, 2, 8, "stage",  1.5,  "any_n"),
    (64,    32,  "wgmma",    4, 1, 1, 2, 8, "stage",  1.0,  ""),
    (64,    48,  "wgmma",    4, 1, 1, 2, 8, "stage",  1.0,  ""),
    (64,    64,  "wgmma",    4, 1, 1, 2, 6, "stage",  1.0,  "any_n"),
    (256,    8,  "mma.sync", 8, 2, 1, 1, 6, "",       2.0,  ""),
    (256,   16,  "wgmma",    8, 2, 1, 1, 6, "kblock", 2.0,  ""),
    (256,   32,  "wgmma",    8, 2, 1, 2, 6, "kblock", 2.0,  ""),
]


def _with_producers(rows: list, producers: dict) -> list:
    """rows with the producer warps of the (tile_m, tokens) tiles in `producers` replaced."""
    return [row[:6] + (producers.get(row[:2], row[6]),) + row[7:] for row in rows]


DECODE_TILES = {
    "s4": _DECODE_4BIT,
    # uint4: four TMA boxes a stage where the zero terms do not share the scales' box, so two producers
    # on the two-group 8-token tile and the 256-row 16-token tile as well.
    "u4": _with_producers(_DECODE_4BIT, {(128, 8): 2, (256, 16): 2}),
    "s8": [
        # tile_m tokens  mma       w  r  g  p  s  pipe  load  flags
        (128,    8,  "mma.sync", 4, 2, 2, 2, 8, "",    1.1,  "1cta"),
        (128,   16,  "mma.sync", 4, 2, 2, 2, 8, "",    1.1,  "1cta"),
        (128,   32,  "mma.sync", 4, 2, 1, 1, 8, "",    1.0,  ""),
        (128,   64,  "mma.sync", 4, 2, 1, 1, 6, "",    1.0,  "any_n"),
        (256,    8,  "mma.sync", 8, 2, 1, 1, 6, "",    2.0,  ""),
        (256,   16,  "mma.sync", 8, 2, 1, 1, 5, "",    2.0,  ""),
        (256,   32,  "mma.sync", 8, 2, 1, 1, 6, "",    2.0,  ""),
    ],
}


def _decode_entry(weight: str, act: str, row: tuple) -> Entry:
    tile_m, tokens, mma, warps, rows, groups, producers, stages, pipe, load, flags = row
    # uint4 on mma.sync: the sum warp from 16 tokens, a ones-MMA below (docs/notes/mma-sync-kernel.md)
    sum_warp = WEIGHTS[weight]["zero"] and mma == "mma.sync" and tokens >= 16
    return Entry("decode", weight, act, tile_m, tokens, mma=mma, stages=stages, consumer_warps=warps,
                 row_blocks=rows, consumer_groups=groups, producer_warps=producers, pipeline=pipe,
                 sum_warp=sum_warp, cta_load=load, one_cta_per_sm="1cta" in flags, any_n="any_n" in flags)


ENTRIES = [
    Entry("cutlass", w, a, tm, tn, scheduler="streamk")
    for w in WEIGHTS for a in ACTS for (tm, tn) in CUTLASS_TILES[w]
] + [
    _decode_entry(w, a, row) for w in WEIGHTS for a in ACTS for row in DECODE_TILES[w]
]


def check_entry(e: Entry) -> None:
    """The constraints the kernels static_assert, caught at generation time with a readable message."""
    assert e.tile_k == TILE_K, e.name
    if e.family == "cutlass":
        assert e.mma == "wgmma" and e.scheduler == "streamk" and e.stages == 0, e.name
        return
    assert e.family == "decode", e.name
    assert e.tile_m == 16 * e.consumer_warps * e.row_blocks, f"{e.name}: tile_m != 16 * warps * row blocks"
    assert e.tile_n == 8 or e.tile_n % 16 == 0, f"{e.name}: token tiles are loaded in pairs"
    assert e.stages % e.producer_warps == 0, f"{e.name}: each ring slot has one producer"
    if e.mma == "wgmma":
        assert e.tile_n in (16, 32, 48, 64) and e.consumer_warps % 4 == 0, e.name
        assert e.consumer_groups == 1 and not e.sum_warp and e.pipeline in ("stage", "kblock"), e.name
    else:
        assert e.mma == "mma.sync" and e.pipeline == "" and e.tile_m in (128, 256), e.name
        assert e.consumer_groups == 1 or not e.sum_warp, f"{e.name}: consumer groups take no sum warp"
    assert e.any_n == (e.tile_n == 64), f"{e.name}: the widest bucket (and only it) chunks N"


for _e in ENTRIES:
    check_entry(_e)
assert len({e.name for e in ENTRIES}) == len(ENTRIES), "entry names must be unique"
