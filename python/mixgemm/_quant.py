"""QuantizedWeight (checks, state dicts, apply/shard) and the GPU quantize entry point."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from . import _C
from . import _arrayops as ax
from . import _interop as io
from ._types import (ACT_CODES, PACK_FORMAT_VERSION, SOURCE_CODES, WEIGHT_BITS, WEIGHT_CODES, WEIGHT_HAS_ZERO,
                     canonical_dtype, check_weight_shape, weight_format)


@dataclass(frozen=True)
class QuantizedWeight:
    """A weight W[M, K] (``out_features x in_features``) quantized and packed for mixgemm kernels.

    The kernels compute ``W[m, k] = scales[k // g, m] * q[m, k] + zeros[k // g, m]`` where ``zeros``
    (uint4 only) holds ``z' = -s * z`` rounded to the activation dtype, for the integer zero point ``z``.
    Arrays belong to the framework that created them (NumPy for host weights from the importers; move
    them to a GPU with ``apply``).

    Attributes:
        packed: uint8 array of ``M*K*bits/8`` bytes in mixgemm's packed layout (format ``format_version``).
        scales: ``[K/g, M]`` array in the activation dtype.
        zeros: same shape as scales for ``weight == "u4"``, else None.
        shape: ``(M, K)``.
        group_size: g (``== K`` for per-channel scales).
        weight: "s4" (int4 symmetric), "u4" (uint4 + zero points) or "s8" (int8 symmetric).
        act_dtype: "float16" or "bfloat16": the activation dtype the weight is meant to multiply.
        zero_points: optional uint8 ``[K/g, M]`` integer zero points ``z`` (u4 only; set by the checkpoint
            importers). The kernels never read them; ``dequantize`` uses them to return the checkpoint's
            exact ``s * (q - z)``, where the kernels' ``s * q + z'`` differs by at most half an ulp of
            ``s * z`` (the rounding of ``z'`` to the activation dtype).
        act_perm: optional int32/int64 ``[K]`` permutation of the input features (GPTQ act-order):
            the packed columns are stored in the order ``act_perm``, so that each group's columns are
            contiguous, and ``linear`` multiplies ``x[..., act_perm]``. ``unpack``/``dequantize`` undo
            it and return the weight in the original column order.
    """

    packed: Any
    scales: Any
    zeros: Optional[Any]
    shape: tuple
    group_size: int
    weight: str
    act_dtype: str
    format_version: int = PACK_FORMAT_VERSION
    zero_points: Optional[Any] = None
    act_perm: Optional[Any] = None

    @property
    def bits(self) -> int:
        return WEIGHT_BITS[self.weight]

    @property
    def out_features(self) -> int:
        return self.shape[0]

    @property
    def in_features(self) -> int:
        return self.shape[1]

    @property
    def nbytes(self) -> int:
        """Bytes a kernel reads for the weight: packed values + scales (+ zeros)."""
        m, k = self.shape
        groups = -(-k // self.group_size)
        return m * k * self.bits // 8 + m * groups * 2 * (2 if self.zeros is not None else 1)

    def check_arrays(self) -> None:
        """Check metadata and every array's shape, dtype and contiguity, on any device (host arrays too).

        Raises ValueError/TypeError naming the field. ``validate()`` adds the device checks.
        """
        m, k = self.shape
        if self.format_version != PACK_FORMAT_VERSION:
            raise ValueError(f"QuantizedWeight has packed-layout version {self.format_version}; this mixgemm "
                             f"reads version {PACK_FORMAT_VERSION}")
        if self.weight not in WEIGHT_CODES:
            raise ValueError(f"QuantizedWeight.weight must be one of {sorted(WEIGHT_CODES)}, got {self.weight!r}")
        if self.act_dtype not in ACT_CODES:
            raise ValueError(f"QuantizedWeight.act_dtype must be float16 or bfloat16, got {self.act_dtype!r}")
        if self.group_size <= 0 or k % self.group_size:
            raise ValueError(f"QuantizedWeight.group_size {self.group_size} must be positive and divide K={k}")
        groups = k // self.group_size
        _check_layout(self.packed, "qw.packed", (m * k * self.bits // 8,), "uint8")
        _check_layout(self.scales, "qw.scales", (groups, m), self.act_dtype)
        if WEIGHT_HAS_ZERO[self.weight]:
            if self.zeros is None:
                raise ValueError("qw.zeros is required for u4 weights")
            _check_layout(self.zeros, "qw.zeros", (groups, m), self.act_dtype)
        elif self.zeros is not None:
            raise ValueError(f"qw.zeros must be None for {self.weight} weights")
        if self.zero_points is not None:
            if not WEIGHT_HAS_ZERO[self.weight]:
                raise ValueError(f"qw.zero_points must be None for {self.weight} weights (they have no zero point)")
            _check_layout(self.zero_points, "qw.zero_points", (groups, m), "uint8")
            if ax.is_host(self.zero_points):
                _check_zero_point_range(ax.to_numpy(self.zero_points))
        if self.act_perm is not None:
            _check_act_perm(self.act_perm, k)

    def validate(self) -> int:
        """Everything ``check_arrays()`` checks, plus: all arrays on one CUDA device. Returns that device."""
        self.check_arrays()
        dev = io.cuda_device(self.packed, "qw.packed")
        for name, a in (("qw.scales", self.scales), ("qw.zeros", self.zeros), ("qw.zero_points", self.zero_points),
                        ("qw.act_perm", self.act_perm)):
            if a is not None and io.cuda_device(a, name) != dev:
                raise ValueError(f"{name} is on cuda:{io.cuda_device(a, name)}, expected cuda:{dev} like qw.packed")
        # The kernels read these arrays with TMA copies, which need 16-byte aligned base addresses.
        for name, a in (("qw.packed", self.packed), ("qw.scales", self.scales), ("qw.zeros", self.zeros)):
            if a is not None and io.data_ptr(a) % 16:
                raise ValueError(f"{name} must be 16-byte aligned (a sliced view may not be; copy it)")
        self._check_device_values()
        return dev

    def _check_device_values(self) -> None:
        """Values the kernels trust: act_perm must be a permutation (an index past K would make the
        gather fault and take the CUDA context down) and integer zero points must lie in 0..15 and
        agree with the kernels' z' = -s*z. Device arrays are copied to the host for this once per
        QuantizedWeight and array (cached on the object by the arrays' addresses, shapes and dtypes)."""
        arrays = [a for a in (self.act_perm, self.zero_points) if a is not None and not ax.is_host(a)]
        if not arrays:
            return
        sig = tuple((io.data_ptr(a), io.shape_of(a), io.dtype_name(a)) for a in arrays)
        if self.__dict__.get("_mixgemm_values_checked") == sig:
            return
        if self.act_perm is not None:
            _check_perm_values(ax.to_numpy(self.act_perm), self.shape[1])
        if self.zero_points is not None:
            z = ax.to_numpy(self.zero_points)
            _check_zero_point_range(z)
            z = z.astype(np.float32)
            s = ax.to_numpy(self.scales).astype(np.float32)
            zp = ax.to_numpy(self.zeros).astype(np.float32)
            # z' is -s*z rounded to fp16/bf16: relative error <= 2^-9; a zero point off by one is off by |s|.
            if not np.all(np.abs(zp + s * z) <= np.abs(s * z) * 2.0 ** -7 + 1e-30):
                raise ValueError("qw.zero_points disagree with qw.zeros (z' must be -scale * zero_point)")
        object.__setattr__(self, "_mixgemm_values_checked", sig)   # frozen dataclass: a private cache

    def state_dict(self) -> dict:
        """A flat dict of arrays: "packed", "scales", "zeros" (u4 only), "zero_points" and "act_perm"
        (when present) and "meta".

        "meta" is a uint8 array holding JSON (format version, types, group size, shape, layout, which
        optional arrays are present, CUTLASS version), so the dict saves as is with safetensors; arrays
        are the weight's own (not copied).
        """
        self.check_arrays()
        meta = json.dumps(dict(format=_STATE_FORMAT, version=self.format_version, layout=_LAYOUT_NAME,
                               weight=self.weight, act_dtype=self.act_dtype, group_size=self.group_size,
                               shape=list(self.shape), cutlass=_C.cutlass_version,
                               **{key: getattr(self, key) is not None for key in _OPTIONAL_KEYS}), sort_keys=True)
        out = {"packed": self.packed, "scales": self.scales,
               "meta": io.host_bytes_array(io.framework_of(self.packed), meta.encode())}
        for key in ("zeros",) + _OPTIONAL_KEYS:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def apply(self, fn: Callable[[Any], Any]) -> "QuantizedWeight":
        """A new QuantizedWeight with ``fn`` applied to every array (packed, scales, zeros, zero_points,
        act_perm), checked afterwards; e.g. moving a host weight to the GPU:

            qw = qw.apply(lambda a: torch.from_numpy(a).cuda())     # or cupy.asarray, jax.device_put

        ``fn`` must keep each array's shape and dtype. Raises what ``check_arrays`` raises otherwise.
        """
        new = dataclasses.replace(self, **{key: None if getattr(self, key) is None else fn(getattr(self, key))
                                           for key in ("packed", "scales", "zeros") + _OPTIONAL_KEYS})
        new.check_arrays()
        return new

    def shard(self, dim: int, index: int, count: int) -> "QuantizedWeight":
        """The part of this weight that rank ``index`` of ``count`` holds under tensor parallelism.

        ``dim=0`` splits out_features (column-parallel layers; each part needs a multiple of 16 rows),
        ``dim=1`` splits in_features (row-parallel layers; each part must hold whole quantization groups
        and a multiple of 64 columns; per-channel weights cannot be split along dim 1). The result equals
        quantizing or importing that slice of the weight, byte for byte, and is cut from the packed
        bytes directly (no unpacking). Arrays are new, contiguous and of this weight's framework.
        Act-order weights split along dim 1 only where the slice's original columns form whole groups.

        Raises ValueError (naming dim/index/count and the constraint) when the split is not possible.
        """
        from ._shard import shard
        return shard(self, dim, index, count)

    @staticmethod
    def from_state_dict(d: dict) -> "QuantizedWeight":
        """Rebuild a QuantizedWeight from ``state_dict()`` output (e.g. loaded with safetensors).

        Raises ValueError for missing or unknown keys, unreadable or foreign metadata, or a packed-layout
        version this mixgemm cannot read; arrays are checked against the metadata.
        """
        if not isinstance(d, dict):
            raise TypeError(f"state dict must be a dict, got {type(d).__name__}")
        unknown = set(d) - {"packed", "scales", "zeros", "meta", *_OPTIONAL_KEYS}
        if unknown:
            raise ValueError(f"state dict has unknown keys {sorted(unknown)}")
        for key in ("packed", "scales", "meta"):
            if key not in d:
                raise ValueError(f"state dict lacks '{key}'")
        try:
            meta = json.loads(bytes(np.asarray(d["meta"], dtype=np.uint8).tobytes()).decode())
        except (ValueError, TypeError, UnicodeDecodeError) as e:
            raise ValueError(f"state dict 'meta' is not mixgemm metadata: {e}") from None
        if not isinstance(meta, dict) or meta.get("format") != _STATE_FORMAT:
            raise ValueError("state dict 'meta' is not mixgemm QuantizedWeight metadata")
        if meta.get("version") != PACK_FORMAT_VERSION or meta.get("layout") != _LAYOUT_NAME:
            raise ValueError(f"state dict holds packed-layout version {meta.get('version')} "
                             f"({meta.get('layout')}); this mixgemm reads version {PACK_FORMAT_VERSION} "
                             f"({_LAYOUT_NAME}): re-pack the weight with this version")
        for key in _OPTIONAL_KEYS:   # a dropped act_perm would silently scramble the inputs
            if bool(meta.get(key, False)) != (key in d):
                raise ValueError(f"state dict {'lacks' if key not in d else 'has'} '{key}' but its 'meta' "
                                 f"says {'it has one' if key not in d else 'it has none'}")
        try:
            shape = tuple(int(v) for v in meta["shape"])
            qw = QuantizedWeight(d["packed"], d["scales"], d.get("zeros"), shape, int(meta["group_size"]),
                                 str(meta["weight"]), str(meta["act_dtype"]), int(meta["version"]),
                                 zero_points=d.get("zero_points"), act_perm=d.get("act_perm"))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"state dict 'meta' is incomplete: {e}") from None
        if len(shape) != 2:
            raise ValueError(f"state dict 'meta' shape must be [M, K], got {list(shape)}")
        qw.check_arrays()
        return qw


_STATE_FORMAT = "mixgemm.QuantizedWeight"
_LAYOUT_NAME = "sm90-mma-fragment-16x16-mfast"
_OPTIONAL_KEYS = ("zero_points", "act_perm")


def _check_act_perm(a: Any, k: int) -> None:
    if io.shape_of(a) != (k,):
        raise ValueError(f"qw.act_perm has shape {io.shape_of(a)}, expected ({k},) (one entry per input feature)")
    if io.dtype_name(a) not in ("int32", "int64"):
        raise TypeError(f"qw.act_perm has dtype {io.dtype_name(a)}, expected int32 or int64")
    if not io.is_c_contiguous(a):
        raise ValueError("qw.act_perm must be C-contiguous")
    # Values: here for host arrays (state dicts, imports); device arrays once, in validate().
    if ax.is_host(a):
        _check_perm_values(ax.to_numpy(a), k)


def _check_perm_values(perm: np.ndarray, k: int) -> None:
    if not np.array_equal(np.sort(perm), np.arange(k)):
        raise ValueError(f"qw.act_perm must be a permutation of 0..{k - 1}")


def _check_zero_point_range(z: np.ndarray) -> None:
    if int(z.max(initial=0)) > 15:
        raise ValueError("qw.zero_points must lie in 0..15 for u4 weights")


def _check_layout(a: Any, name: str, shape: tuple, dtype: str) -> None:
    if a is None:
        raise ValueError(f"{name} is missing")
    if io.shape_of(a) != tuple(shape):
        raise ValueError(f"{name} has shape {io.shape_of(a)}, expected {tuple(shape)}")
    if io.dtype_name(a) != dtype:
        raise TypeError(f"{name} has dtype {io.dtype_name(a)}, expected {dtype}")
    if not io.is_c_contiguous(a):
        raise ValueError(f"{name} must be C-contiguous")


def quantize(w: Any, bits: int = 4, group_size: Optional[int] = 128, symmetric: bool = True,
             act_dtype: Optional[str] = None, stream: Any = None) -> QuantizedWeight:
    """Quantize a CUDA weight ``w[M, K]`` (fp16/bf16/fp32) with round-to-nearest, on the GPU, and pack it.

    Args:
        w: weight of shape ``[out_features, in_features]`` from torch, cupy or jax, on a CUDA device.
        bits: 4 or 8.
        group_size: elements of K sharing one scale: 64, 128, ... or None/-1 for one scale per row.
        symmetric: True for signed int (scale only); False (4-bit only) for uint4 with zero points.
        act_dtype: "float16" or "bfloat16": activations the weight will multiply (default: w's dtype,
            or float16 for fp32 weights).
        stream: CUDA stream (int handle or ``__cuda_stream__`` object); default: the framework's current one.
    Returns:
        QuantizedWeight whose arrays are of w's framework.
    """
    fw = io.framework_of(w)
    dev = io.cuda_device(w, "w")
    shape = io.shape_of(w)
    if len(shape) != 2:
        raise ValueError(f"w must be 2-D [out_features, in_features], got shape {shape}")
    m, k = shape
    src = io.dtype_name(w)
    if src not in SOURCE_CODES:
        raise TypeError(f"w must be float16, bfloat16 or float32, got {src}")
    act = act_dtype or (src if src in ACT_CODES else "float16")
    act = canonical_dtype(act)
    if act not in ACT_CODES:
        raise ValueError(f"act_dtype must be 'float16' or 'bfloat16', got {act_dtype!r}")
    wfmt = weight_format(bits, symmetric)
    g = k if group_size in (None, -1) else int(group_size)
    if g <= 0 or k % g:
        raise ValueError(f"group_size must be positive and divide in_features K={k}, got {group_size}")
    check_weight_shape(m, k)
    if not io.is_c_contiguous(w):
        raise ValueError("w must be C-contiguous; call .contiguous() first")
    s = io.resolve_stream(stream, fw, dev)
    groups = k // g
    with io.device_context(fw, dev):
        q_plain = io.empty(fw, (m, k), "int8", dev)
        scales = io.empty(fw, (groups, m), act, dev)
        zeros = io.empty(fw, (groups, m), act, dev) if WEIGHT_HAS_ZERO[wfmt] else None
        packed = io.empty(fw, (m * k * WEIGHT_BITS[wfmt] // 8,), "uint8", dev)
        _C.quantize(io.export(w, s), SOURCE_CODES[src], io.export(q_plain, s), io.export(scales, s),
                    io.export(zeros, s) if zeros is not None else None, m, k, g, WEIGHT_CODES[wfmt],
                    ACT_CODES[act], dev, s)
        _C.pack(io.export(q_plain, s), io.export(packed, s), m, k, WEIGHT_BITS[wfmt], dev, s)
    if fw == "jax":
        io.synchronize(fw, s, dev)
        packed, scales = io.to_framework(fw, packed), io.to_framework(fw, scales)
        zeros = io.to_framework(fw, zeros) if zeros is not None else None
    return QuantizedWeight(packed, scales, zeros, (m, k), g, wfmt, act)
