"""Kernel selection and explain() (host logic, no GPU)."""
import pytest

import mixgemm


def _types_present():
    return sorted({(k["weight"], k["act"]) for k in mixgemm.kernels()})


@pytest.mark.parametrize("weight,act", _types_present())
@pytest.mark.parametrize("n", [1, 16, 64, 4096])
def test_every_type_serves_bench_shapes(weight, act, n):
    families = {k["family"] for k in mixgemm.kernels() if k["weight"] == weight and k["act"] == act}
    if n > 64 and "cutlass" not in families:
        pytest.skip("filtered build without large-N kernels for these types")
    info = mixgemm.explain(6144, n, 4096, group_size=128, weight=weight, act_dtype=act)
    assert info["kernel"] is not None, info["reason"]
    chosen = next(k for k in mixgemm.kernels() if k["name"] == info["kernel"])
    assert chosen["weight"] == weight
    assert info["candidates"][0]["name"] == info["kernel"]


def test_small_n_picks_narrow_tile_large_n_wide():
    small = mixgemm.explain(3584, 16, 8192, group_size=64)
    big = mixgemm.explain(3584, 4096, 8192, group_size=64)
    if small["kernel"] is None or big["kernel"] is None:
        pytest.skip("build has no s4/f16 kernels")
    tile = {k["name"]: k["tile_n"] for k in mixgemm.kernels()}
    assert tile[small["kernel"]] <= tile[big["kernel"]]


@pytest.mark.parametrize("m,k,g,msg", [
    (3584, 8200, 64, "multiple of group_size"),
    (3585, 8192, 64, "multiple of 16"),
    (3584, 8192, 0, "group_size must be positive"),
])
def test_bad_problems_are_explained(m, k, g, msg):
    info = mixgemm.explain(m, 16, k, group_size=g)
    assert info["kernel"] is None
    assert msg in info["reason"]


def test_group_32_runs_only_on_decode_kernels():
    small = mixgemm.explain(4096, 16, 4096, group_size=32)
    if any(k["family"] == "decode" and k["weight"] == "s4" and k["act"] == "float16" for k in mixgemm.kernels()):
        assert small["kernel"].startswith("decode_")
    # Prefill sizes with group 32: the widest decode bucket runs them in 64-token chunks.
    big = mixgemm.explain(4096, 512, 4096, group_size=32)
    widest = [k for k in mixgemm.kernels() if k["family"] == "decode" and k["weight"] == "s4" and k["act"] == "float16"
              and k["tile_n"] == 64]
    if widest:
        assert big["kernel"] == widest[0]["name"], big
    else:
        assert big["kernel"] is None and "group_size" in big["reason"]


def test_decode_bucket_is_narrowest_that_fits():
    tile = {k["name"]: (k["family"], k["tile_n"]) for k in mixgemm.kernels()}
    for n in (1, 8, 9, 16, 17, 33, 64):
        info = mixgemm.explain(4096, n, 4096, group_size=128)
        fam, tn = tile[info["kernel"]]
        if fam == "decode":
            assert tn >= n and tn // 2 < max(n, 8), (n, info["kernel"])


def test_forced_kernel_checks():
    with pytest.raises(ValueError, match="weight must be"):
        mixgemm.explain(4096, 16, 4096, weight="q3")
    info = mixgemm.explain(4096, 16, 4096, kernel="no_such_kernel")
    assert info["kernel"] is None and "no catalog entry" in info["reason"]
    for k in mixgemm.kernels():
        other = "s8" if k["weight"] != "s8" else "s4"
        info = mixgemm.explain(4096, 16, 4096, weight=other, kernel=k["name"])
        assert info["kernel"] is None and "weights" in info["reason"]
        break


def _entry(name):
    return next(k for k in mixgemm.kernels() if k["name"] == name)


def _has(weight, act, family, tile_m, tile_n):
    return any(k["weight"] == weight and k["act"] == act and k["family"] == family and k["tile_m"] == tile_m
               and k["tile_n"] == tile_n for k in mixgemm.kernels())


@pytest.mark.parametrize("weight", ["s4", "u4", "s8"])
def test_32_tokens_take_the_wgmma_decode_kernel_else_stock_tiles(weight):
    """heuristic.py: at 17-32 tokens the decode family is preferred only where it issues wgmma (int4,
    uint4); int8's 32-token decode tile is mma.sync and the stock CUTLASS tiles serve it."""
    if not (_has(weight, "float16", "decode", 128, 32) and _has(weight, "float16", "cutlass", 128, 32)):
        pytest.skip("filtered build without the 32-token tiles")
    chosen = _entry(mixgemm.explain(3584, 32, 8192, group_size=64, weight=weight)["kernel"])
    if weight == "s8":
        assert chosen["family"] == "cutlass", chosen["name"]
    else:
        assert chosen["family"] == "decode" and chosen["mma"] == "wgmma" and chosen["tile_n"] == 32, chosen["name"]


@pytest.mark.parametrize("weight,m,k,n,tile_m", [
    # the wgmma kernel (16 and 32 tokens): the split plan's cost model, as measured at each tile's best
    # split count (docs/notes/split-plan.md, us, 128 vs 256 rows)
    ("s4", 3584, 8192, 16, 128),     # reported case: 9.6 vs 10.4 us
    ("s4", 4096, 4096, 32, 64),      # 8b.o: 64-row tiles, 8.64 vs 9.04 on 128 rows (rows64b; 256: 12.0)
    ("s4", 6144, 4096, 16, 128),     # 8b.qkv: 9.2-9.3 (4 or 6 splits) vs 9.8
    ("u4", 6144, 4096, 32, 128),     # 8b.qkv (the int4 times): 10.3-10.7 (4 or 6 splits) vs 11.7 (bench)
    ("s4", 4096, 14336, 16, 128),    # 8b.down: 15.6 vs 22.0
    ("s4", 10240, 8192, 16, 128),    # 70b.qkv: 20.2 (4 splits) vs 22.1
    ("s4", 8192, 8192, 16, 128),     # 70b.o: 17.3 vs 18.1 (same-run candidates at 07d0996)
    ("s4", 8192, 8192, 32, 128),     # 19.7 vs 21.0
    ("s4", 28672, 4096, 16, 256),    # 8b.gate_up: 25.9 vs 28.0 (same run)
    ("s4", 8192, 28672, 16, 256),    # 70b.down: 49.5 vs 47.0
    ("s4", 57344, 8192, 16, 256),    # 70b.gate_up: 118 vs 97 (dev harness)
    # the 4-bit 8-token kernel (mma.sync) by the same cost model (same-run candidates at 13be77f, N=1)
    ("s4", 8192, 8192, 8, 128),      # 70b.o: 17.0 vs 17.1
    ("s4", 10240, 8192, 8, 128),     # 70b.qkv: 19.6 vs 20.5
    ("s4", 57344, 8192, 8, 256),     # 70b.gate_up: 89.9 vs 89.0
    ("s4", 8192, 28672, 8, 256),     # 70b.down: 47.2 vs 47.0
    # int8's mma.sync kernel by weight size (same-run candidates at 6fbc68d, N=16, 128 vs 256 rows, us)
    ("s8", 4096, 14336, 16, 128),    # 8b.down (59M): 25.2 vs 27.6
    ("s8", 8192, 8192, 16, 128),     # 70b.o (67M): 25.5 vs 29.0
    ("s8", 10240, 8192, 16, 256),    # 70b.qkv (84M): 38.3 vs 36.1
])
def test_decode_row_tile_rule(weight, m, k, n, tile_m):
    """The rule table's choice of 128- or 256-row decode tiles on the measured layers (heuristic.py)."""
    bucket = 8 if n <= 8 else 16 if n <= 16 else 32
    if not (_has(weight, "float16", "decode", 128, bucket) and _has(weight, "float16", "decode", 256, bucket)
            and (bucket < 32 or weight == "s8" or _has(weight, "float16", "decode", 64, bucket))):
        pytest.skip("filtered build without every row tile")
    chosen = _entry(mixgemm.explain(m, n, k, group_size=128, weight=weight)["kernel"])
    assert chosen["family"] == "decode" and chosen["tile_m"] == tile_m, chosen["name"]


@pytest.mark.parametrize("weight,m,k,n,family,tile_m,tile_n", [
    # 64 tokens (same-run candidates on the H100, docs/notes/tile-choice.md, and
    # for 70b.o the dev harness after the bulk-copy exchange): the wgmma decode kernel below 80M weight
    # elements, the stock 256-row tile from 80M
    ("s4", 3584, 8192, 64, "decode", 128, 64),      # reported case: 15.1 vs 23.1 us
    ("u4", 4096, 4096, 64, "decode", 64, 64),       # 8b.o: 64-row tiles, 10.9 vs 12.2 on 128 rows (rows64)
    ("s4", 4096, 14336, 48, "decode", 128, 48),     # 8b.down: the 48-token bucket (20.7 us; 64-token 22.1)
    ("u4", 6144, 4096, 33, "decode", 128, 48),      # 8b.qkv: 11.8 (N=40) against 12.7 on the 64-token bucket
    ("s4", 10240, 8192, 48, "cutlass", 256, 64),    # 70b.qkv (84M): the stock 256-row tile from 80M
    ("s4", 8192, 8192, 64, "decode", 128, 64),      # 70b.o (67M): 26.7 (dev harness) vs 28.7 (stock)
    ("s4", 10240, 8192, 64, "cutlass", 256, 64),    # 70b.qkv (84M): 34.0 vs 41.3 (64-row tiles: on the GPU only)
    ("s4", 8192, 28672, 64, "cutlass", 256, 64),    # 70b.down: 74.1 vs 85.7
    ("s4", 57344, 8192, 64, "cutlass", 256, 64),    # 70b.gate_up: 138.8 vs 170.0
    ("s8", 3584, 8192, 64, "cutlass", 128, 64),     # int8's 64-token decode tile is mma.sync
    ("s8", 8192, 28672, 64, "cutlass", 128, 64),    # int8 has no 256-row stock tile (no gain measured)
    ("s4", 57344, 8192, 128, "cutlass", 128, 128),  # past 64 tokens the 256x64 tile would read W twice
])
def test_64_token_rule(weight, m, k, n, family, tile_m, tile_n):
    """The rule table's choice at 33-64 tokens (heuristic.py)."""
    if not (_has(weight, "float16", "decode", 128, 64) and _has(weight, "float16", "cutlass", 128, 64)
            and (weight == "s8" or (_has(weight, "float16", "decode", 128, 48) and _has(weight, "float16", "decode", 64, 64)))
            and _has(weight, "float16", "cutlass", 128, 128) and (weight == "s8" or _has("s4", "float16", "cutlass", 256, 64))):
        pytest.skip("filtered build without the 64-token tiles")
    chosen = _entry(mixgemm.explain(m, n, k, group_size=128, weight=weight)["kernel"])
    assert (chosen["family"], chosen["tile_m"], chosen["tile_n"]) == (family, tile_m, tile_n), chosen["name"]
    if family == "decode":
        assert chosen["mma"] == "wgmma"
