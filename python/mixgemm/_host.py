"""Host (NumPy) packing, unpacking and dequantization in mixgemm's packed layout.

The importers pack on the host, and host QuantizedWeights (NumPy arrays, before they are moved to a
GPU) unpack and dequantize here. The block order comes from the compiled core's layout atom
(``_C.weight_atom``, derived from the MMA fragment layout in weight_layout.cuh), so this packer and
``_C.pack`` cannot drift apart; tests also check it against ``reference.pack_ref``, which builds a
full offset table instead of working block by block.

Layout recap: 16x16 (M x K) blocks of 256 values, block (i, j) starting at element 256 * (i + (M/16) * j);
inside a block, value (r, c) sits at element atom[r, c]; int4 elements pair up low nibble first.
Viewed as ``[K/16, M/16, bytes_per_block]`` the packed bytes can be sliced along either block axis.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

import numpy as np


@lru_cache(maxsize=None)
def _atom(bits: int) -> np.ndarray:
    from . import _C
    return np.asarray(_C.weight_atom(bits), dtype=np.int64)   # flat: atom[r * 16 + c] = element offset


@lru_cache(maxsize=None)
def _atom_inverse(bits: int) -> np.ndarray:
    inv = np.empty(256, dtype=np.int64)
    inv[_atom(bits)] = np.arange(256)
    return inv                                                   # element offset -> r * 16 + c


def bytes_per_block(bits: int) -> int:
    return 256 * bits // 8


def _check_shape(m: int, k: int) -> None:
    if m % 16 or k % 16:
        raise ValueError(f"the packed layout needs M and K to be multiples of 16, got M={m}, K={k}")


def pack(q: np.ndarray, bits: int) -> np.ndarray:
    """Integer values ``q[M, K]`` (signed or unsigned; the low ``bits`` bits are stored) -> packed uint8 bytes."""
    m, k = q.shape
    _check_shape(m, k)
    # Two's complement wrap keeps the low bits of signed values (-1 -> 0xF for int4).
    v = np.asarray(q).astype(np.uint8) & np.uint8((1 << bits) - 1)
    blocks = v.reshape(m // 16, 16, k // 16, 16).transpose(2, 0, 1, 3).reshape(k // 16, m // 16, 256)
    elems = blocks[:, :, _atom_inverse(bits)]                  # [K/16, M/16, element]
    if bits == 8:
        return np.ascontiguousarray(elems).reshape(-1)
    return (elems[..., 0::2] | (elems[..., 1::2] << np.uint8(4))).reshape(-1)


def unpack(packed: np.ndarray, m: int, k: int, bits: int, signed: bool) -> np.ndarray:
    """Inverse of ``pack``: int8 ``q[M, K]`` (sign-extended when ``signed``)."""
    _check_shape(m, k)
    p = np.asarray(packed, dtype=np.uint8).reshape(k // 16, m // 16, bytes_per_block(bits))
    if bits == 4:
        elems = np.empty((k // 16, m // 16, 256), dtype=np.uint8)
        elems[..., 0::2] = p & np.uint8(15)
        elems[..., 1::2] = p >> np.uint8(4)
    else:
        elems = p
    blocks = elems[:, :, _atom(bits)]                          # [K/16, M/16, r * 16 + c]
    q = blocks.reshape(k // 16, m // 16, 16, 16).transpose(1, 2, 0, 3).reshape(m, k)
    if not signed:
        return q.astype(np.int8)
    half = 1 << (bits - 1)
    return ((q.astype(np.int16) ^ half) - half).astype(np.int8)   # sign-extend the low `bits` bits


def dequantize(q: np.ndarray, scales: np.ndarray, zeros: Optional[np.ndarray],
               zero_points: Optional[np.ndarray]) -> np.ndarray:
    """fp32 ``W[M, K]`` from integer q and per-group [G, M] arrays.

    With integer zero points: ``s * (q - z)``, the checkpoint's exact values (q - z is an exact small
    integer in fp32, so the one rounding is the product's). Else ``s * q (+ zeros)``, the kernels' form.
    """
    m, k = q.shape
    groups = scales.shape[0]
    g = k // groups
    s = np.asarray(scales, dtype=np.float32).T[:, :, None]          # [M, G, 1]
    qf = q.astype(np.float32).reshape(m, groups, g)
    if zero_points is not None:
        w = s * (qf - np.asarray(zero_points, dtype=np.float32).T[:, :, None])
    else:
        w = s * qf
        if zeros is not None:
            w = w + np.asarray(zeros, dtype=np.float32).T[:, :, None]
    return w.reshape(m, k)
