"""QuantizedWeight.shard(): one tensor-parallel rank's slice, cut from the packed bytes directly.

The packed array viewed as ``[K/16, M/16, bytes_per_block]`` holds whole 16x16 blocks, so a slice of
output features (dim 0) or input features (dim 1) is a slice along one of its first two axes; the
per-group arrays ([K/g, M]) are sliced alongside. No value is unpacked or re-quantized, which is why
the result is byte-identical to quantizing or importing the slice.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

import numpy as np

from . import _arrayops as ax
from . import _host


def _check_ints(dim: Any, index: Any, count: Any) -> None:
    for name, v in (("dim", dim), ("index", index), ("count", count)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"shard(): {name} must be an int, got {type(v).__name__}")
    if dim not in (0, 1):
        raise ValueError(f"shard(): dim must be 0 (out_features) or 1 (in_features), got {dim}")
    if count < 1:
        raise ValueError(f"shard(): count must be at least 1, got {count}")
    if not 0 <= index < count:
        raise ValueError(f"shard(): index must be in [0, {count}), got {index}")


def _blocks(qw) -> Any:
    m, k = qw.shape
    return qw.packed.reshape(k // 16, m // 16, _host.bytes_per_block(qw.bits))


def _flat(a: Any) -> Any:
    return ax.copy_contiguous(a).reshape(-1)


def _cols(a: Optional[Any], lo: int, hi: int) -> Optional[Any]:
    return None if a is None else ax.copy_contiguous(a[:, lo:hi])


def _rows(a: Optional[Any], lo: int, hi: int) -> Optional[Any]:
    return None if a is None else ax.copy_contiguous(a[lo:hi])


def _take_rows(a: Optional[Any], idx: np.ndarray) -> Optional[Any]:
    return None if a is None else ax.take(a, idx, 0)


def _shard_rows(qw, index: int, count: int):
    m, k = qw.shape
    if m % count or (m // count) % 16:
        raise ValueError(f"shard(dim=0, count={count}): out_features M={m} must split into parts of a multiple "
                         f"of 16 rows (the packed layout's 16-row blocks), got {m / count:g} rows per part")
    ms = m // count
    r0 = index * ms
    return dataclasses.replace(
        qw, packed=_flat(_blocks(qw)[:, r0 // 16:(r0 + ms) // 16, :]), scales=_cols(qw.scales, r0, r0 + ms),
        zeros=_cols(qw.zeros, r0, r0 + ms), zero_points=_cols(qw.zero_points, r0, r0 + ms),
        act_perm=None if qw.act_perm is None else ax.copy_contiguous(qw.act_perm), shape=(ms, k))


def _shard_cols(qw, index: int, count: int):
    m, k = qw.shape
    g = qw.group_size
    if g == k and count > 1:
        raise ValueError(f"shard(dim=1, count={count}): a per-channel weight (group_size == K == {k}) has one "
                         "scale per row over all of K, so its input features cannot be split; quantize or "
                         "import the slices separately instead")
    if k % count or (k // count) % g:
        raise ValueError(f"shard(dim=1, count={count}): in_features K={k} must split into whole quantization "
                         f"groups of {g} (groups must not be split), got {k / count:g} columns per part")
    ks = k // count
    if ks % 64:
        raise ValueError(f"shard(dim=1, count={count}): each part has {ks} in_features; mixgemm kernels need "
                         "a multiple of 64")
    c0 = index * ks
    if qw.act_perm is None:
        gl, gh = c0 // g, (c0 + ks) // g
        return dataclasses.replace(
            qw, packed=_flat(_blocks(qw)[c0 // 16:(c0 + ks) // 16]), scales=_rows(qw.scales, gl, gh),
            zeros=_rows(qw.zeros, gl, gh), zero_points=_rows(qw.zero_points, gl, gh), shape=(m, ks))
    return _shard_act_order_cols(qw, c0, ks)


def _shard_act_order_cols(qw, c0: int, ks: int):
    """Columns are stored group by group in the order act_perm; the rank's original columns
    [c0, c0 + ks) must be exactly a set of whole stored groups, which keep their stored order."""
    m, k = qw.shape
    g = qw.group_size
    perm = ax.to_numpy(qw.act_perm).astype(np.int64)
    mine = ((perm >= c0) & (perm < c0 + ks)).reshape(k // g, g)
    split = mine.any(axis=1) & ~mine.all(axis=1)
    if split.any():
        t = int(np.flatnonzero(split)[0])
        raise ValueError(f"shard(dim=1): this act-order weight's input features [{c0}, {c0 + ks}) do not form "
                         f"whole quantization groups (group {t} has columns inside and outside the slice), "
                         "so it cannot be split along dim 1; shard along dim 0, or keep it whole")
    if g % 16:
        raise ValueError(f"shard(dim=1): act-order weights with group_size {g} (not a multiple of 16) cannot "
                         "be cut from the packed 16-column blocks")
    groups = np.flatnonzero(mine.all(axis=1))
    blocks = (groups[:, None] * (g // 16) + np.arange(g // 16)[None, :]).reshape(-1)
    local = perm[mine.reshape(-1)] - c0
    # An identity permutation is no permutation: importing such a slice stores none either.
    act_perm = None if np.array_equal(local, np.arange(ks)) else ax.from_numpy(
        local.astype(ax.to_numpy(qw.act_perm).dtype), qw.act_perm)
    return dataclasses.replace(
        qw, packed=_flat(ax.take(_blocks(qw), blocks, 0)), scales=_take_rows(qw.scales, groups),
        zeros=_take_rows(qw.zeros, groups), zero_points=_take_rows(qw.zero_points, groups),
        act_perm=act_perm, shape=(m, ks))


def shard(qw, dim: int, index: int, count: int):
    """See ``QuantizedWeight.shard``."""
    qw.check_arrays()
    _check_ints(dim, index, count)
    out = _shard_rows(qw, int(index), int(count)) if dim == 0 else _shard_cols(qw, int(index), int(count))
    out.check_arrays()
    return out
