"""Checkpoint importers: GPTQ, AWQ and plain integer weights -> packed QuantizedWeight, exactly.

Every importer reads its inputs on the host (NumPy), checks everything, folds an act-order
permutation into the column order, packs with the host packer, and only then builds the weight, so a
bad input raises before anything is made. The integer values, zero points and scales are carried over
unchanged: ``dequantize`` of the result is bit-identical to the checkpoint's ``s * (q - z)``.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from . import _arrayops as ax
from . import _host
from . import _interop as io
from . import formats
from ._quant import QuantizedWeight
from ._types import ACT_CODES, canonical_dtype, check_weight_shape
from .reference import round_to_act


_COMMON_DOC = """
    The result's arrays are of the framework of ``{home}`` and on its device: NumPy in, NumPy out (a host
    weight: save it, shard it, then move it to the GPU with ``qw.apply``); CUDA torch/cupy/jax arrays in,
    arrays of that framework on that GPU out. The work itself is done on the host (CUDA inputs are
    copied there and the packed result copied back), so import once at load time.

    act_dtype: "float16"/"bfloat16", the activations the weight will multiply. Default: the scales'
        dtype. Scales (and zeros) are stored in this dtype; when it differs from the checkpoint's scale
        dtype the scales are rounded to it, and the weight is then no longer bit-identical to the
        checkpoint.
    symmetric: "auto" (default): zero points that are all 2**(bits-1) (8 for 4-bit, 128 for 8-bit) make
        a symmetric signed weight ("s4"/"s8", q - 2**(bits-1), scales unchanged: the same values);
        otherwise 4-bit weights become "u4" with zero points. True requires symmetric zero points;
        False keeps 4-bit weights as "u4". 8-bit weights with other zero points have no kernel (error).
    Returns a QuantizedWeight; u4 weights carry their integer ``zero_points`` next to the kernels'
    ``zeros = -s*z`` (rounded to act_dtype), so ``dequantize`` stays exact.
    Raises TypeError (wrong dtype) or ValueError (shapes that disagree, bits, group sizes, g_idx, M not a
    multiple of 16, K not a multiple of 64), naming the argument.
"""


def _resolve_act(act_dtype: Optional[str], scale_dtype: str) -> str:
    if act_dtype is None:
        if scale_dtype not in ACT_CODES:
            raise ValueError(f"scales are {scale_dtype}: pass act_dtype='float16' or 'bfloat16' to choose the "
                             "activation dtype (the scales are rounded to it)")
        return scale_dtype
    act = canonical_dtype(act_dtype) if isinstance(act_dtype, str) else act_dtype
    if act not in ACT_CODES:
        raise ValueError(f"act_dtype must be 'float16' or 'bfloat16', got {act_dtype!r}")
    return act


def _check_symmetric(symmetric: Any) -> None:
    if not (isinstance(symmetric, bool) or (isinstance(symmetric, str) and symmetric == "auto")):
        raise ValueError(f"symmetric must be 'auto', True or False, got {symmetric!r}")


def _scale_dtype(scales: Any, host: np.ndarray) -> str:
    """The checkpoint's own scale dtype (host copies of bfloat16 arrays are float32)."""
    return io.dtype_name(scales) if hasattr(scales, "dtype") else io.dtype_name(host)


def _resolve_format(zero_points: np.ndarray, bits: int, symmetric: Union[str, bool]) -> str:
    """Which packed weight type represents these zero points exactly."""
    mid = 1 << (bits - 1)
    is_symmetric = bool(np.all(zero_points == mid))
    if symmetric is True and not is_symmetric:
        raise ValueError(f"symmetric=True, but the zero points are not all {mid}: this is an asymmetric "
                         "checkpoint (use symmetric='auto')")
    if symmetric is False or not is_symmetric:
        if bits == 8:
            raise ValueError("8-bit weights with zero points other than 128 (asymmetric int8) have no mixgemm "
                             "kernel; only symmetric int8 (zero points all 128) and 4-bit weights import")
        return "u4"
    return "s4" if bits == 4 else "s8"


def _build(q: np.ndarray, zero_points: Optional[np.ndarray], scales: np.ndarray, bits: int, symmetric,
           act: str, perm: Optional[np.ndarray], home: Any) -> QuantizedWeight:
    """q[M, K]: unsigned values with zero_points [G, M], or signed values when zero_points is None."""
    m, k = q.shape
    groups = scales.shape[0]
    check_weight_shape(m, k)
    s_act = round_to_act(scales, act)
    if not np.all(np.isfinite(s_act)):
        raise ValueError(f"scales must be finite in {act}")
    weight = ("s4" if bits == 4 else "s8") if zero_points is None else _resolve_format(zero_points, bits, symmetric)
    zeros = zps = None
    if weight == "u4":
        zps = zero_points.astype(np.uint8)
        zeros = round_to_act(-s_act * zps.astype(np.float32), act)   # the kernels' z' = -s*z
        values = q
    elif zero_points is not None:
        values = q.astype(np.int16) - (1 << (bits - 1))               # symmetric: q - mid, exactly
    else:
        values = q
    if perm is not None:
        values = values[:, perm]      # fold act-order: stored column j is original column perm[j]
    packed = _host.pack(values, bits)
    conv = (lambda a, dtype=None: None if a is None else ax.from_numpy(a, home, dtype))
    qw = QuantizedWeight(conv(packed), conv(s_act, act), conv(zeros, act), (m, k), k // groups, weight, act,
                         zero_points=conv(zps), act_perm=conv(perm))
    qw.check_arrays()
    return qw


def _host_array(a: Any, name: str) -> np.ndarray:
    if a is None:
        raise ValueError(f"{name} is required")
    try:
        return ax.to_numpy(a)
    except Exception as e:   # noqa: BLE001  (framework-specific conversion errors)
        raise TypeError(f"{name} must be an array (NumPy, torch, cupy, jax), got {type(a).__name__}: {e}") from None


def from_gptq(qweight: Any, qzeros: Any, scales: Any, g_idx: Optional[Any] = None, bits: int = 4,
              zero_offset: int = 1, act_dtype: Optional[str] = None,
              symmetric: Union[str, bool] = "auto") -> QuantizedWeight:
    """Import a GPTQ linear layer (AutoGPTQ / GPTQModel / Transformers checkpoints).

    Args:
        qweight: int32 ``[K * bits / 32, M]``, K packed into each word, low bits first.
        qzeros: int32 ``[G, M * bits / 32]``, zero points packed along M.
        scales: float ``[G, M]`` (usually fp16). G = K / group_size (G = 1: per-channel).
        g_idx: optional int ``[K]`` group of each input column. Act-order checkpoints (g_idx other than
            ``k // group_size``) are folded in at import: the columns are stored group by group and the
            weight's ``act_perm`` makes ``linear`` gather ``x[..., act_perm]`` itself.
        bits: 4 or 8.
        zero_offset: 1 for the original ("v1") convention that stores z - 1, 0 for "v2" checkpoints
            (GPTQModel's ``checkpoint_format: gptq_v2``) that store z.
    """
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits!r}")
    _check_symmetric(symmetric)
    qw_h, qz_h, s_h = (_host_array(a, n) for a, n in ((qweight, "qweight"), (qzeros, "qzeros"), (scales, "scales")))
    q, z, s = formats.read_gptq(qw_h, qz_h, s_h, bits=bits, zero_offset=zero_offset)
    act = _resolve_act(act_dtype, _scale_dtype(scales, s_h))
    perm = None
    if g_idx is not None:
        perm = formats.act_order_perm(_host_array(g_idx, "g_idx"), q.shape[1], s.shape[0])
    return _build(q, z, s, bits, symmetric, act, perm, qweight)


def from_awq(qweight: Any, qzeros: Any, scales: Any, act_dtype: Optional[str] = None,
             symmetric: Union[str, bool] = "auto") -> QuantizedWeight:
    """Import an AutoAWQ 4-bit linear layer (GEMM layout, the common one).

    Args:
        qweight: int32 ``[K, M / 8]``, packed along M with AWQ's nibble order (0 2 4 6 1 3 5 7).
        qzeros: int32 ``[G, M / 8]``, packed the same way (no zero offset).
        scales: float ``[G, M]`` (usually fp16). G = K / group_size.
    """
    _check_symmetric(symmetric)
    qw_h, qz_h, s_h = (_host_array(a, n) for a, n in ((qweight, "qweight"), (qzeros, "qzeros"), (scales, "scales")))
    q, z, s = formats.read_awq(qw_h, qz_h, s_h)
    act = _resolve_act(act_dtype, _scale_dtype(scales, s_h))
    return _build(q, z, s, 4, symmetric, act, None, qweight)


def _plain_values(q: np.ndarray, bits: int, has_zero_points: bool) -> np.ndarray:
    if q.ndim != 2:
        raise ValueError(f"q must be 2-D [out_features, in_features{' / 2' if bits == 4 else ''}], got shape {q.shape}")
    if bits == 4:
        if q.dtype not in (np.uint8, np.int8):
            raise TypeError(f"q must be uint8 (two int4 values per byte) for bits=4, got {q.dtype}")
        b = q.view(np.uint8)
        v = np.empty((b.shape[0], 2 * b.shape[1]), dtype=np.uint8)
        v[:, 0::2] = b & np.uint8(15)     # low nibble first
        v[:, 1::2] = b >> np.uint8(4)
        return v if has_zero_points else ((v.astype(np.int16) ^ 8) - 8).astype(np.int8)   # two's complement
    want = np.uint8 if has_zero_points else np.int8
    if q.dtype != want:
        raise TypeError(f"q must be {np.dtype(want)} for bits=8 {'with' if has_zero_points else 'without'} "
                        f"zero_points, got {q.dtype}")
    return q


def from_plain(q: Any, scales: Any, zero_points: Optional[Any] = None, bits: int = 4,
               act_dtype: Optional[str] = None, symmetric: Union[str, bool] = "auto") -> QuantizedWeight:
    """Import plain row-major integer weights: ``W[m, k] = scales[k // g, m] * (q[m, k] - z[k // g, m])``.

    Args:
        q: bits=4: uint8 ``[M, K / 2]``, two values per byte, low nibble first (column 2j in the low
            nibble); signed two's complement int4 (-8..7) without zero_points, unsigned (0..15) with them.
            bits=8: int8 ``[M, K]`` without zero_points, uint8 ``[M, K]`` with them.
        scales: float ``[G, M]`` (the layout of GPTQ/AWQ scales and of ``QuantizedWeight.scales``);
            G = K / group_size, G = 1 for per-channel.
        zero_points: optional integer ``[G, M]`` zero points in [0, 2**bits).
        bits: 4 or 8.
    """
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits!r}")
    _check_symmetric(symmetric)
    if zero_points is None and symmetric is False:
        raise ValueError("symmetric=False needs zero_points (without them q holds signed values)")
    q_h, s_h = _host_array(q, "q"), _host_array(scales, "scales")
    values = _plain_values(q_h, bits, zero_points is not None)
    m, k = values.shape
    if s_h.ndim != 2 or s_h.shape[1] != m or s_h.shape[0] == 0:
        raise ValueError(f"scales must have shape [G, {m}] (G = K / group_size groups, M = {m} out_features), "
                         f"got {s_h.shape}")
    if not np.issubdtype(s_h.dtype, np.floating):
        raise TypeError(f"scales must be floating point, got {s_h.dtype}")
    if k % s_h.shape[0]:
        raise ValueError(f"scales have {s_h.shape[0]} groups (rows), which do not divide K = {k}: the group size "
                         "must divide in_features")
    act = _resolve_act(act_dtype, _scale_dtype(scales, s_h))
    z_h = None
    if zero_points is not None:
        z_h = _host_array(zero_points, "zero_points")
        if not np.issubdtype(z_h.dtype, np.integer):
            raise TypeError(f"zero_points must be an integer array, got {z_h.dtype}")
        if z_h.shape != s_h.shape:
            raise ValueError(f"zero_points must have the shape of scales {s_h.shape}, got {z_h.shape}")
        if z_h.size and (int(z_h.min()) < 0 or int(z_h.max()) >= 1 << bits):
            raise ValueError(f"zero_points must lie in [0, {1 << bits}) for bits={bits}")
    return _build(values, z_h, s_h.astype(np.float32), bits, symmetric, act, None, q)


for _f, _home in ((from_gptq, "qweight"), (from_awq, "qweight"), (from_plain, "q")):
    _f.__doc__ = (_f.__doc__ or "").rstrip() + "\n" + _COMMON_DOC.format(home=_home)
