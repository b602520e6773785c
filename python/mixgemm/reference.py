"""NumPy reference implementations: the definition of what the GPU code must compute.

Used by the tests (CPU and GPU) and by benchmarks' correctness checks. Everything here is plain,
slow, fp32/fp64 code meant to be obviously right.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional, Tuple

import numpy as np

from ._types import WEIGHT_BITS


def round_to_act(v: np.ndarray, act_dtype: str) -> np.ndarray:
    """Round fp32 values to fp16 or bf16 (round-to-nearest-even) and return them as fp32."""
    v = np.asarray(v, dtype=np.float32)
    if act_dtype == "float16":
        return v.astype(np.float16).astype(np.float32)
    if act_dtype == "bfloat16":
        bits = v.view(np.uint32).astype(np.uint64)
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        out = rounded.astype(np.uint32).view(np.float32)
        return np.where(np.isnan(v), v, out)
    raise ValueError(f"act_dtype must be float16 or bfloat16, got {act_dtype}")


def quantize_ref(w: np.ndarray, weight: str, group_size: int, act_dtype: str
                 ) -> Tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    """Round-to-nearest quantization, same math as the GPU kernel.

    Returns (q[M, K] int8, scales[K/g, M] fp32 rounded to act_dtype, zeros[K/g, M] or None) where
    zeros hold -s*z, so that ``w ~= s * q + zeros``.
    """
    w = np.asarray(w, dtype=np.float32)
    m, k = w.shape
    g = group_size
    wg = w.reshape(m, k // g, g)
    if weight == "u4":
        lo = np.minimum(wg.min(axis=2), 0.0)
        hi = np.maximum(wg.max(axis=2), 0.0)
        s = round_to_act((hi - lo) / np.float32(15.0), act_dtype)
        inv = np.where(s > 0, np.float32(1.0) / np.where(s > 0, s, 1), 0).astype(np.float32)
        z = np.clip(np.rint(-lo * inv), 0, 15).astype(np.float32)
        q = np.clip(np.rint(wg * inv[:, :, None]) + z[:, :, None], 0, 15)
        zeros = round_to_act(-s * z, act_dtype)
        return q.reshape(m, k).astype(np.int8), s.T.copy(), zeros.T.copy()
    qmax = np.float32(127.0 if weight == "s8" else 7.0)
    amax = np.abs(wg).max(axis=2)
    s = round_to_act(amax / qmax, act_dtype)
    inv = np.where(s > 0, np.float32(1.0) / np.where(s > 0, s, 1), 0).astype(np.float32)
    q = np.clip(np.rint(wg * inv[:, :, None]), -qmax - 1, qmax)
    return q.reshape(m, k).astype(np.int8), s.T.copy(), None


def dequantize_ref(q: np.ndarray, scales: np.ndarray, zeros: Optional[np.ndarray], group_size: int) -> np.ndarray:
    """w[m, k] = s[k//g, m] * q[m, k] (+ zeros[k//g, m]) in fp32."""
    m, k = q.shape
    s = np.repeat(np.asarray(scales, np.float32).T, group_size, axis=1)[:, :k]
    w = s * q.astype(np.float32)
    if zeros is not None:
        w = w + np.repeat(np.asarray(zeros, np.float32).T, group_size, axis=1)[:, :k]
    return w


def linear_ref(x: np.ndarray, w: np.ndarray, bias: Optional[np.ndarray] = None) -> np.ndarray:
    """y = x @ w^T (+ bias), accumulated in fp64."""
    y = np.asarray(x, np.float64) @ np.asarray(w, np.float64).T
    if bias is not None:
        y = y + np.asarray(bias, np.float64)
    return y


@lru_cache(maxsize=None)
def _atom(bits: int) -> np.ndarray:
    from . import _C
    return np.asarray(_C.weight_atom(bits), dtype=np.int64).reshape(16, 16)


def packed_offsets(m: int, k: int, bits: int) -> np.ndarray:
    """offsets[r, c]: element index of (r, c) in the packed layout (16x16 blocks, M-fastest)."""
    if m % 16 or k % 16:
        raise ValueError("packed weights need M and K to be multiples of 16")
    atom = _atom(bits)
    r = np.arange(m)[:, None]
    c = np.arange(k)[None, :]
    block = (r // 16) + (m // 16) * (c // 16)
    return block * 256 + atom[r % 16, c % 16]


def pack_ref(q: np.ndarray, weight: str) -> np.ndarray:
    """Pack integer values q[M, K] into mixgemm's layout; returns uint8 bytes."""
    bits = WEIGHT_BITS[weight]
    m, k = q.shape
    flat = np.zeros(m * k, dtype=np.uint8)
    flat[packed_offsets(m, k, bits).ravel()] = (q.astype(np.int16) & ((1 << bits) - 1)).astype(np.uint8).ravel()
    if bits == 8:
        return flat
    return (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8)


def unpack_ref(packed: np.ndarray, m: int, k: int, weight: str) -> np.ndarray:
    """Inverse of pack_ref: q[M, K] int8 (signed for s4/s8, 0..15 for u4)."""
    bits = WEIGHT_BITS[weight]
    packed = np.asarray(packed, dtype=np.uint8)
    if bits == 8:
        flat = packed.astype(np.int16)
    else:
        flat = np.empty(m * k, dtype=np.int16)
        flat[0::2] = packed & 15
        flat[1::2] = packed >> 4
    vals = flat[packed_offsets(m, k, bits)]
    if weight == "s4":
        vals = np.where(vals >= 8, vals - 16, vals)
    elif weight == "s8":
        vals = np.where(vals >= 128, vals - 256, vals)
    return vals.astype(np.int8)
