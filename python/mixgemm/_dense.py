"""unpack() and dequantize(): a QuantizedWeight back to dense integer values or fp32 weights.

CUDA weights unpack and dequantize on the GPU (the core's kernels, plus framework arithmetic for the
exact zero-point form); host weights (e.g. fresh from an importer, before ``apply`` moves them) are
handled with NumPy. Either way the result is in the weight's framework and on its device, with the
columns in the original input-feature order (an act-order permutation undone).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import _C
from . import _arrayops as ax
from . import _host
from . import _interop as io
from ._quant import QuantizedWeight
from ._types import ACT_CODES, WEIGHT_CODES


def _on_host(qw: QuantizedWeight) -> bool:
    arrays = (qw.packed, qw.scales, qw.zeros, qw.zero_points, qw.act_perm)
    return all(ax.is_host(a) for a in arrays if a is not None)


def _check(qw: Any) -> None:
    if not isinstance(qw, QuantizedWeight):
        raise TypeError(f"qw must be a mixgemm.QuantizedWeight, got {type(qw).__name__}")
    qw.check_arrays()


def _host_q(qw: QuantizedWeight) -> np.ndarray:
    """Stored-order integer values of a host weight."""
    m, k = qw.shape
    return _host.unpack(ax.to_numpy(qw.packed), m, k, qw.bits, signed=qw.weight != "u4")


def _host_original_order(qw: QuantizedWeight, a: np.ndarray) -> np.ndarray:
    if qw.act_perm is None:
        return a
    return a[:, np.argsort(ax.to_numpy(qw.act_perm))]     # the inverse permutation


def _weight_to_dense(qw: QuantizedWeight, s: int, dev: int, dtype: str, call) -> Any:
    """Allocate an [M, K] array of `dtype` in the weight's framework and fill it with `call(out)` on stream s."""
    fw = io.framework_of(qw.packed)
    with io.device_context(fw, dev):
        out = io.empty(fw, qw.shape, dtype, dev)
        call(io.export(out, s))
    if fw == "jax":
        io.synchronize(fw, s, dev)
    return io.to_framework(fw, out)


def _gpu_original_order(qw: QuantizedWeight, a: Any) -> Any:
    if qw.act_perm is None:
        return a
    return ax.take(a, ax.argsort(qw.act_perm), 1)


def _stream(qw: QuantizedWeight, stream: Any, dev: int) -> tuple:
    """(raw stream, context making framework ops run on it when it was given explicitly)."""
    import contextlib
    fw = io.framework_of(qw.packed)
    s = io.resolve_stream(stream, fw, dev)
    return s, (ax.stream_context(fw, s, dev) if stream is not None else contextlib.nullcontext())


def unpack(qw: QuantizedWeight, stream: Any = None) -> Any:
    """The integer values ``q[M, K]`` (int8: -8..7 for s4, 0..15 for u4, -128..127 for s8) of a
    QuantizedWeight, in the original input-feature order, as an array of its framework.

    Works on CUDA weights (on ``stream``, default the framework's current one) and on host weights.
    """
    _check(qw)
    m, k = qw.shape
    if _on_host(qw):
        return ax.from_numpy(_host_original_order(qw, _host_q(qw)), qw.packed)
    dev = qw.validate()
    s, ctx = _stream(qw, stream, dev)
    q = _weight_to_dense(qw, s, dev, "int8", lambda out: _C.unpack(
        io.export(qw.packed, s), out, m, k, qw.bits, qw.weight != "u4", dev, s))
    with ctx:
        return _gpu_original_order(qw, q)


def _exact(q: Any, scales: Any, zero_points: Any, m: int, k: int, groups: int) -> Any:
    """``s * (q - z)`` in fp32 with the framework's own elementwise ops: q - z is an exact small
    integer, so the result is the correctly rounded product, bit-identical to the host formula."""
    g = k // groups
    qf = ax.astype(q, "float32").reshape(m, groups, g)
    s = ax.astype(scales, "float32").T[:, :, None]
    z = ax.astype(zero_points, "float32").T[:, :, None]
    return (s * (qf - z)).reshape(m, k)


def dequantize(qw: QuantizedWeight, stream: Any = None) -> Any:
    """The fp32 weight ``W[M, K]`` of a QuantizedWeight, in the original input-feature order, as an
    array of its framework (CUDA or host weights).

    With integer zero points (weights from the checkpoint importers) this is exactly the checkpoint's
    ``s * (q - z)``. Without them it is what the kernels use, ``s * q + z'`` (``z' = -s*z`` rounded to the
    activation dtype; just ``s * q`` for s4/s8). The kernels always compute with ``z'``: for imported u4
    weights their per-element weight differs from this exact value by at most half an ulp of ``s*z``.
    """
    _check(qw)
    m, k = qw.shape
    groups = k // qw.group_size
    if _on_host(qw):
        zp = ax.to_numpy(qw.zero_points) if qw.zero_points is not None else None
        zeros = ax.to_numpy(qw.zeros) if qw.zeros is not None and zp is None else None
        w = _host.dequantize(_host_q(qw), ax.to_numpy(qw.scales), zeros, zp)
        return ax.from_numpy(_host_original_order(qw, w), qw.packed, "float32")
    dev = qw.validate()
    s, ctx = _stream(qw, stream, dev)
    if qw.zero_points is None:
        w = _weight_to_dense(qw, s, dev, "float32", lambda out: _C.dequantize(
            io.export(qw.packed, s), io.export(qw.scales, s), io.export(qw.zeros, s) if qw.zeros is not None else None,
            out, m, k, qw.group_size, WEIGHT_CODES[qw.weight], ACT_CODES[qw.act_dtype], dev, s))
        with ctx:
            return _gpu_original_order(qw, w)
    q = _weight_to_dense(qw, s, dev, "int8", lambda out: _C.unpack(
        io.export(qw.packed, s), out, m, k, qw.bits, False, dev, s))
    with ctx:
        return _gpu_original_order(qw, _exact(q, qw.scales, qw.zero_points, m, k, groups))
