"""QuantizedWeight.state_dict() / from_state_dict(): round trips and rejection of bad state dicts.

Uses host (NumPy) arrays, which state dicts support on any machine; the kernels need CUDA arrays.
"""
import json

import numpy as np
import pytest

import mixgemm
from mixgemm import reference as ref


def _host_weight(weight="u4", m=32, k=128, g=64, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((m, k)).astype(np.float32)
    q, s, z = ref.quantize_ref(w, weight, g, "float16")
    packed = ref.pack_ref(q, weight)
    return mixgemm.QuantizedWeight(packed, s.astype(np.float16), None if z is None else z.astype(np.float16),
                                   (m, k), g, weight, "float16")


@pytest.mark.parametrize("weight", ["s4", "u4", "s8"])
def test_round_trip_gives_identical_bytes(weight):
    qw = _host_weight(weight)
    sd = qw.state_dict()
    assert set(sd) == ({"packed", "scales", "meta", "zeros"} if weight == "u4" else {"packed", "scales", "meta"})
    back = mixgemm.QuantizedWeight.from_state_dict({k: np.array(v, copy=True) for k, v in sd.items()})
    assert (back.shape, back.group_size, back.weight, back.act_dtype) == (qw.shape, qw.group_size, qw.weight, qw.act_dtype)
    for name in ("packed", "scales", "zeros"):
        a, b = getattr(qw, name), getattr(back, name)
        assert (a is None) == (b is None)
        if a is not None:
            assert a.tobytes() == b.tobytes()
    meta = json.loads(bytes(sd["meta"]).decode())
    assert meta["cutlass"] == mixgemm.cutlass_version and meta["version"] >= 1


def test_round_trip_through_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    qw = _host_weight("u4")
    path = str(tmp_path / "w.safetensors")
    st.save_file(qw.state_dict(), path)
    back = mixgemm.QuantizedWeight.from_state_dict(st.load_file(path))
    assert back.packed.tobytes() == qw.packed.tobytes()
    assert back.scales.tobytes() == qw.scales.tobytes() and back.zeros.tobytes() == qw.zeros.tobytes()


def _with_meta(sd, **changes):
    meta = json.loads(bytes(sd["meta"]).decode())
    meta.update(changes)
    out = dict(sd)
    out["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8).copy()
    return out


@pytest.mark.parametrize("mutate,exc,msg", [
    (lambda sd: _with_meta(sd, version=99), ValueError, "version 99"),
    (lambda sd: _with_meta(sd, layout="other"), ValueError, "layout|version"),
    (lambda sd: _with_meta(sd, format="something else"), ValueError, "not mixgemm"),
    (lambda sd: _with_meta(sd, group_size=48), ValueError, "group_size"),
    (lambda sd: _with_meta(sd, shape=[64, 128]), ValueError, "shape"),
    (lambda sd: _with_meta(sd, weight="q3"), ValueError, "weight"),
    (lambda sd: {k: v for k, v in sd.items() if k != "zeros"}, ValueError, "zeros"),
    (lambda sd: {k: v for k, v in sd.items() if k != "meta"}, ValueError, "meta"),
    (lambda sd: dict(sd, extra=np.zeros(1)), ValueError, "unknown"),
    (lambda sd: dict(sd, meta=np.frombuffer(b"\xff\xfe", dtype=np.uint8)), ValueError, "meta"),
    (lambda sd: dict(sd, scales=sd["scales"].astype(np.float32)), TypeError, "dtype"),
    (lambda sd: dict(sd, packed=sd["packed"][:-4]), ValueError, "shape"),
])
def test_bad_state_dicts_are_rejected(mutate, exc, msg):
    sd = _host_weight("u4").state_dict()
    with pytest.raises(exc, match=msg):
        mixgemm.QuantizedWeight.from_state_dict(mutate(sd))


def _imported_act_order_weight():
    from ._checkpoints import random_gptq
    t, *_ = random_gptq(np.random.default_rng(1), 32, 256, 64, act_order=True)
    return mixgemm.from_gptq(t["qweight"], t["qzeros"], t["scales"], g_idx=t["g_idx"])


def test_zero_points_and_act_perm_round_trip_through_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    qw = _imported_act_order_weight()
    sd = qw.state_dict()
    assert set(sd) == {"packed", "scales", "zeros", "zero_points", "act_perm", "meta"}
    meta = json.loads(bytes(sd["meta"]).decode())
    assert meta["zero_points"] is True and meta["act_perm"] is True
    path = str(tmp_path / "w.safetensors")
    st.save_file(sd, path)
    back = mixgemm.QuantizedWeight.from_state_dict(st.load_file(path))
    for name in ("packed", "scales", "zeros", "zero_points", "act_perm"):
        assert getattr(back, name).tobytes() == getattr(qw, name).tobytes(), name
    np.testing.assert_array_equal(mixgemm.dequantize(back), mixgemm.dequantize(qw))


@pytest.mark.parametrize("mutate,exc,msg", [
    (lambda sd: {k: v for k, v in sd.items() if k != "act_perm"}, ValueError, "lacks 'act_perm'"),
    (lambda sd: {k: v for k, v in sd.items() if k != "zero_points"}, ValueError, "lacks 'zero_points'"),
    (lambda sd: _with_meta(sd, act_perm=False), ValueError, "has 'act_perm'"),
    (lambda sd: dict(sd, act_perm=sd["act_perm"].astype(np.float32)), TypeError, "act_perm has dtype float32"),
    (lambda sd: dict(sd, act_perm=sd["act_perm"][:-1]), ValueError, r"act_perm has shape \(255,\)"),
    (lambda sd: dict(sd, act_perm=np.zeros_like(sd["act_perm"])), ValueError, "act_perm must be a permutation"),
    (lambda sd: dict(sd, zero_points=sd["zero_points"].astype(np.int32)), TypeError, "zero_points has dtype"),
    (lambda sd: dict(sd, zero_points=np.full_like(sd["zero_points"], 16)), ValueError, "zero_points must lie"),
    (lambda sd: _with_meta(dict(sd, zeros=None), weight="s4"), ValueError, "zero_points must be None for s4"),
])
def test_bad_optional_arrays_are_rejected(mutate, exc, msg):
    sd = _imported_act_order_weight().state_dict()
    with pytest.raises(exc, match=msg):
        mixgemm.QuantizedWeight.from_state_dict(mutate(sd))


def test_state_dicts_without_optional_arrays_still_load():
    # Written before zero_points/act_perm existed: the meta has no flags for them.
    sd = _host_weight("u4").state_dict()
    meta = json.loads(bytes(sd["meta"]).decode())
    for key in ("zero_points", "act_perm"):
        meta.pop(key)
    sd["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8).copy()
    back = mixgemm.QuantizedWeight.from_state_dict(sd)
    assert back.zero_points is None and back.act_perm is None
