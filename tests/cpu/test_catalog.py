"""The catalog is the one source of kernel configuration: what the build reports is what
src/catalog/catalog.py declares, the committed generated files are current, and dispatch explains its
choice by the rule of src/catalog/heuristic.py that fired."""
import os
import pathlib
import subprocess
import sys

import pytest

import mixgemm

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src" / "catalog"))
import catalog  # noqa: E402
import heuristic  # noqa: E402

FIELDS = ["family", "weight", "act", "tile_m", "tile_n", "tile_k", "mma", "cluster_m", "scheduler", "stages",
          "consumer_warps", "row_blocks", "consumer_groups", "producer_warps", "pipeline", "sum_warp", "cta_load",
          "one_cta_per_sm", "any_n"]


def test_committed_generated_files_are_current():
    r = subprocess.run([sys.executable, str(ROOT / "src" / "catalog" / "generate.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_built_entries_are_the_catalogs():
    declared = {e.name: e for e in catalog.ENTRIES}
    built = mixgemm.kernels()
    assert built, "no kernels in this build"
    for k in built:
        assert k["name"] in declared, f"{k['name']} is not in catalog.py"
        e = declared[k["name"]]
        for f in FIELDS:
            want = catalog.ACTS[e.act]["name"] if f == "act" else getattr(e, f)
            assert k[f] == want, (k["name"], f, k[f], want)


def test_names_encode_every_decode_knob():
    for e in catalog.ENTRIES:
        if e.family != "decode":
            continue
        for part in (f"{e.tile_m}x{e.tile_n}x{e.tile_k}", f"_w{e.consumer_warps}x{e.row_blocks}",
                     f"_g{e.consumer_groups}", f"_p{e.producer_warps}", f"_s{e.stages}"):
            assert part in e.name, (e.name, part)
        assert e.mma.replace(".", "") in e.name and (not e.pipeline or e.name.endswith(e.pipeline))


def test_catalog_rejects_an_impossible_entry():
    bad = catalog.Entry("decode", "s4", "f16", 128, 16, stages=7, consumer_warps=4, row_blocks=2, producer_warps=2,
                        pipeline="stage")
    with pytest.raises(AssertionError, match="one producer"):
        catalog.check_entry(bad)


def test_every_rule_picks_an_entry_of_the_catalog():
    names = {(e.weight, e.family, e.tile_m, e.tile_n, e.mma) for e in catalog.ENTRIES}
    for weight, rules in heuristic.RULES.items():
        assert rules[-2].pick == heuristic.CUTLASS_COST and rules[-1].pick == heuristic.DECODE_FALLBACK, weight
        for r in rules[:-2]:
            assert (weight,) + r.pick in names, (weight, r.name, r.pick)


def _built(weight, family, tile_m, tile_n):
    return any(k["weight"] == weight and k["act"] == "float16" and k["family"] == family and k["tile_m"] == tile_m
               and k["tile_n"] == tile_n for k in mixgemm.kernels())


def test_explain_names_the_rule_and_the_runner_up():
    if not (_built("s4", "decode", 128, 16) and _built("s4", "decode", 256, 16)):
        pytest.skip("filtered build without the 16-token decode tiles")
    info = mixgemm.explain(3584, 16, 8192, group_size=64)
    index = [r.name for r in heuristic.RULES_4BIT].index("9-16 tokens") + 1
    assert info["reason"].startswith(f"rule {index}: 9-16 tokens"), info["reason"]
    assert "generic stage cost 256 rows" in info["reason"] and "runner-up" in info["reason"], info["reason"]
    first = info["candidates"][0]
    assert first["name"] == info["kernel"] and first["rule"].startswith(f"rule {index}:") and first["cost"] > 0


def test_log_dispatch_prints_each_choice():
    code = "import mixgemm; mixgemm.explain(4096, 16, 4096, group_size=128)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, MIXGEMM_LOG_DISPATCH="1"))
    assert r.returncode == 0, r.stderr
    assert "mixgemm: M=4096 N=16 K=4096 group=128 s4/float16" in r.stderr and " -> " in r.stderr, r.stderr
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "MIXGEMM_LOG_DISPATCH"})
    assert "mixgemm: M=" not in quiet.stderr


def test_one_set_of_shape_rules():
    """The compiled core's validate_problem is the one statement of the shape rules; the Python layer
    reads its constants (quantize and the importers raise from them before any work)."""
    from mixgemm import _C
    from mixgemm._types import check_weight_shape
    assert (_C.row_block, _C.k_step) == (16, 64)
    assert _C.validate_problem(4096, 16, 4096, 128, 0, 0) == ""
    assert "multiple of 16" in _C.validate_problem(4088, 16, 4096, 128, 0, 0)
    assert "multiple of 64" in _C.validate_problem(4096, 16, 4032 + 32, 32, 0, 0)
    assert "multiple of group_size" in _C.validate_problem(4096, 16, 4096, 96, 0, 0)
    check_weight_shape(4096, 4096)
    with pytest.raises(ValueError, match="out_features M=4088 must be a multiple of 16"):
        check_weight_shape(4088, 4096)
    with pytest.raises(ValueError, match="in_features K=4064 must be a multiple of 64"):
        check_weight_shape(4096, 4064)


def test_explain_without_a_device_plans_for_the_fitted_card():
    from mixgemm import _C
    assert _C.fitted_sm_count == heuristic.TUNING[0].value == 132
    assert mixgemm.explain(4096, 16, 4096)["sm_count"] == _C.fitted_sm_count


def test_the_core_speaks_the_catalogs_type_names():
    """One vocabulary: the compiled core's enums, kernels() and the Python codes all use the catalog's
    names ("float16", not the entry names' short "f16")."""
    from mixgemm import _C
    from mixgemm._types import ACT_CODES, WEIGHT_BITS, WEIGHT_CODES, WEIGHT_HAS_ZERO
    assert [w.name for w in _C.WeightType] == list(catalog.WEIGHTS)
    assert [a.name for a in _C.ActType] == [a["name"] for a in catalog.ACTS.values()]
    for name, w in catalog.WEIGHTS.items():
        assert WEIGHT_BITS[name] == w["bits"] and WEIGHT_HAS_ZERO[name] == w["zero"], name
        assert f"WeightType::{name.upper()}" == w["cpp_enum"]
    assert ACT_CODES == {"float16": 0, "bfloat16": 1} and WEIGHT_CODES == {"s4": 0, "u4": 1, "s8": 2}
    assert {k["act"] for k in mixgemm.kernels()} <= set(ACT_CODES)
