"""Readers for quantized-checkpoint tensor formats (host side, NumPy).

Each reader turns a checkpoint's packed tensors into mixgemm's plain convention for a weight
W[M, K] (M = out_features, K = in_features):

    q[M, K]            unsigned integer values, 0 .. 2**bits - 1
    zero_points[G, M]  integer zero points (same range), G = K // group_size
    scales[G, M]       fp32 holding the checkpoint's (fp16/bf16) scale values exactly
    W[m, k] = scales[k // g, m] * (q[m, k] - zero_points[k // g, m])

The readers are written from the formats' definitions:
- GPTQ (AutoGPTQ / GPTQModel "v1"): qweight int32 [K / (32/bits), N] packed along K, low bits first;
  qzeros int32 [G, N / (32/bits)] packed along N, storing z - 1 (zero_offset=1; 0 for "v2"
  checkpoints); scales [G, N]; g_idx [K] optional.
- AWQ (AutoAWQ GEMM): qweight and qzeros int32 [K, N/8] and [G, N/8] packed along N with the nibble
  order 0 2 4 6 1 3 5 7 (nibble i of a word holds column 8c + ORDER[i]); no zero offset.
Arrays may be NumPy arrays or anything ``numpy.asarray`` accepts (CPU torch tensors, for example).
``mixgemm.from_gptq`` / ``from_awq`` / ``from_plain`` turn these into packed QuantizedWeights.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from . import _host

AWQ_ORDER = (0, 2, 4, 6, 1, 3, 5, 7)   # nibble i of an AWQ word holds column 8c + AWQ_ORDER[i]

Plain = Tuple[np.ndarray, np.ndarray, np.ndarray]


def _int32(a: Any, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype not in (np.int32, np.uint32):
        raise TypeError(f"{name} must be int32, got {arr.dtype}")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    return arr.view(np.uint32)


def _scales(a: Any, shape: tuple) -> np.ndarray:
    arr = np.asarray(a)
    if arr.shape != shape:
        raise ValueError(f"scales must have shape {shape}, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"scales must be floating point, got {arr.dtype}")
    return arr.astype(np.float32)


def _unpack_rows(words: np.ndarray, bits: int) -> np.ndarray:
    """[R, C] words -> [R * 32/bits, C]: value r*pf + i is bits (bits*i ...) of word r."""
    pf = 32 // bits
    shifts = (np.arange(pf, dtype=np.uint32) * bits)[None, :, None]
    vals = (words[:, None, :] >> shifts) & np.uint32((1 << bits) - 1)
    return vals.reshape(words.shape[0] * pf, words.shape[1])


def _unpack_cols(words: np.ndarray, bits: int, order=None) -> np.ndarray:
    """[R, C] words -> [R, C * 32/bits]: column c*pf + order[i] is bits (bits*i ...) of word c."""
    pf = 32 // bits
    shifts = (np.arange(pf, dtype=np.uint32) * bits)[None, None, :]
    vals = (words[:, :, None] >> shifts) & np.uint32((1 << bits) - 1)   # [R, C, nibble]
    if order is not None:
        out = np.empty_like(vals)
        out[:, :, list(order)] = vals
        vals = out
    return vals.reshape(words.shape[0], words.shape[1] * pf)


def act_order_perm(g_idx: Any, k: int, groups: int) -> Optional[np.ndarray]:
    """Check a GPTQ ``g_idx`` [K] (group of each input column) and return the act-order permutation.

    Returns None when the columns are already grouped (g_idx == k // group_size), else the stable
    argsort of g_idx (int64 [K]): the column order that makes every group contiguous, each group's
    columns in increasing original order. Raises TypeError for a non-integer g_idx and ValueError for
    a wrong shape, values outside [0, groups) or a group that does not have exactly K / groups columns.
    """
    gi = np.asarray(g_idx)
    if not np.issubdtype(gi.dtype, np.integer):
        raise TypeError(f"g_idx must be an integer array, got {gi.dtype}")
    if gi.shape != (k,):
        raise ValueError(f"g_idx must have shape ({k},) (one group index per input feature), got {gi.shape}")
    if k == 0:
        return None
    if int(gi.min()) < 0 or int(gi.max()) >= groups:
        raise ValueError(f"g_idx values must lie in [0, {groups}) (the number of groups), got "
                         f"[{int(gi.min())}, {int(gi.max())}]")
    if np.any(np.bincount(gi.astype(np.int64), minlength=groups) != k // groups):
        raise ValueError(f"g_idx is not a permutation of the groups: it must assign exactly K/G = {k // groups} "
                         f"columns to each of the {groups} groups")
    perm = np.argsort(gi, kind="stable").astype(np.int64)
    return None if np.array_equal(perm, np.arange(k)) else perm


def read_gptq(qweight: Any, qzeros: Any, scales: Any, bits: int = 4, g_idx: Optional[Any] = None,
              zero_offset: int = 1) -> Plain:
    """GPTQ tensors -> (q[M, K], zero_points[G, M], scales[G, M]); see the module docstring.

    ``g_idx`` is checked; an act-order one (other than k // group_size) raises ValueError, since the
    result's grouping is k // group_size: ``mixgemm.from_gptq`` folds such a permutation in instead.
    """
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    if zero_offset not in (0, 1):
        raise ValueError(f"zero_offset must be 1 (GPTQ v1 checkpoints) or 0 (v2), got {zero_offset}")
    qw = _int32(qweight, "qweight", 2)
    qz = _int32(qzeros, "qzeros", 2)
    pf = 32 // bits
    k, n = qw.shape[0] * pf, qw.shape[1]
    groups = qz.shape[0]
    if qz.shape[1] * pf != n:
        raise ValueError(f"qzeros shape {qz.shape} does not match qweight's {n} output features")
    if groups == 0 or k % groups:
        raise ValueError(f"qzeros/scales have {groups} groups (rows), which do not divide K = {k}: the group "
                         "size must divide in_features")
    s = _scales(scales, (groups, n))
    if g_idx is not None and act_order_perm(g_idx, k, groups) is not None:
        raise ValueError("act-order checkpoint (g_idx other than k // group_size): read_gptq's result uses the "
                         "k // group_size grouping; use mixgemm.from_gptq, which folds the permutation in")
    q = _unpack_rows(qw, bits).T                      # [K, N] -> [N, K] = [M, K]
    z = _unpack_cols(qz, bits).astype(np.int64) + zero_offset
    if z.max(initial=0) > (1 << bits) - 1:
        raise ValueError("zero points overflow the integer range: is zero_offset right for this checkpoint?")
    return np.ascontiguousarray(q, dtype=np.uint8), z.astype(np.uint8), s


def read_awq(qweight: Any, qzeros: Any, scales: Any) -> Plain:
    """AWQ (GEMM layout) 4-bit tensors -> (q[M, K], zero_points[G, M], scales[G, M])."""
    qw = _int32(qweight, "qweight", 2)
    qz = _int32(qzeros, "qzeros", 2)
    k, n = qw.shape[0], qw.shape[1] * 8
    groups = qz.shape[0]
    if qz.shape[1] * 8 != n:
        raise ValueError(f"qzeros shape {qz.shape} does not match qweight's {n} output features")
    if groups == 0 or k % groups:
        raise ValueError(f"qzeros/scales have {groups} groups (rows), which do not divide K = {k}: the group "
                         "size must divide in_features")
    s = _scales(scales, (groups, n))
    q = _unpack_cols(qw, 4, AWQ_ORDER).T
    z = _unpack_cols(qz, 4, AWQ_ORDER)
    return np.ascontiguousarray(q, dtype=np.uint8), z.astype(np.uint8), s


def dequantize_plain(q: np.ndarray, zero_points: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """W[m, k] = scales[k // g, m] * (q[m, k] - zero_points[k // g, m]) in fp32."""
    return _host.dequantize(np.asarray(q), np.asarray(scales), None, np.asarray(zero_points))
