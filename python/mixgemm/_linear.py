"""linear(): y = x @ W^T (+ bias) with a QuantizedWeight, plus kernel listing and explanation."""
from __future__ import annotations

import math
import sys
import threading
from typing import Any, Dict, List, Optional

from . import _C
from . import _arrayops as ax
from . import _interop as io
from ._quant import QuantizedWeight
from ._types import ACT_CODES, WEIGHT_CODES


_lock = threading.Lock()
_selection_cache: Dict[tuple, tuple] = {}
_sm_count_cache: Dict[int, int] = {}


def kernels() -> List[dict]:
    """Every kernel compiled into this build, with every value that shapes it (src/catalog/catalog.py's
    fields: family, weight/activation types, tile, ``mma`` ("wgmma" or "mma.sync"), stages, warps, producer
    warps, pipeline, and the split plan's knobs; docs/catalog.md lists them)."""
    return list(_C.kernels())


def _sm_count(device: int) -> int:
    n = _sm_count_cache.get(device)
    if n is None:
        n = int(_C.device_info(device)["sm_count"])
        _sm_count_cache[device] = n
    return n


def explain(M: int, N: int, K: int, group_size: Optional[int] = 128, weight: str = "s4",
            act_dtype: str = "float16", bias: bool = False, kernel: Optional[str] = None,
            device: Optional[int] = None) -> dict:
    """Which kernel ``linear`` would run for a problem, why, and why each other candidate would not.

    Returns a dict: ``kernel`` (the pick, or None), ``reason`` (the heuristic rule that fired, the values
    it compared, and the runner-up), ``sm_count``, and ``candidates`` in order of preference, each with
    ``name``, ``rule`` (the rule that would pick it), ``cost`` (decode: stages walked per CTA x waves;
    stock CUTLASS: its cost model; -1 where not computed) and ``rejection`` (why it cannot run, or "").
    Set ``MIXGEMM_LOG_DISPATCH=1`` to print every choice as calls make it.

    ``M`` = out_features, ``N`` = tokens, ``K`` = in_features. ``device`` picks the GPU whose SM count and
    occupancy the heuristic uses, as ``linear`` on that device does (default: the SM count of the card the
    heuristic was fitted on, ``mixgemm._C.fitted_sm_count``, an H100's 132, without touching CUDA; the
    decode kernels' split plans then take every thread-block cluster to fit at once, which can pick
    another row tile at 64 tokens than a call on the GPU).
    """
    if weight not in WEIGHT_CODES:
        raise ValueError(f"weight must be one of {sorted(WEIGHT_CODES)}, got {weight!r}")
    if act_dtype not in ACT_CODES:
        raise ValueError(f"act_dtype must be float16 or bfloat16, got {act_dtype!r}")
    g = K if group_size in (None, -1) else int(group_size)
    sms = _C.fitted_sm_count if device is None else _sm_count(device)
    out = dict(_C.explain(M, N, K, g, WEIGHT_CODES[weight], ACT_CODES[act_dtype], bias, sms, kernel or "",
                          -1 if device is None else int(device)))
    out["sm_count"] = sms
    return out


def _select(qw: QuantizedWeight, n: int, has_bias: bool, kernel: Optional[str], device: int) -> tuple:
    """(kernel name, workspace bytes), cached per problem; raises ValueError when nothing can run it."""
    m, k = qw.shape
    key = (m, n, k, qw.group_size, qw.weight, qw.act_dtype, has_bias, kernel, device)
    hit = _selection_cache.get(key)
    if hit is not None:
        return hit
    sms = _sm_count(device)
    wcode, acode = WEIGHT_CODES[qw.weight], ACT_CODES[qw.act_dtype]
    info = _C.explain(m, n, k, qw.group_size, wcode, acode, has_bias, sms, kernel or "", device)
    if info["kernel"] is None:
        raise ValueError(info["reason"])
    ws = int(_C.workspace_size(info["kernel"], m, n, k, qw.group_size, wcode, acode, sms))
    with _lock:
        _selection_cache[key] = (info["kernel"], ws)
    return info["kernel"], ws


def linear(x: Any, qw: QuantizedWeight, bias: Any = None, out: Any = None, stream: Any = None,
           kernel: Optional[str] = None) -> Any:
    """``y = x @ W^T (+ bias)`` for activations ``x[..., K]`` and a QuantizedWeight of shape ``[M, K]``.

    Args:
        x: CUDA array (torch, cupy or jax) of dtype ``qw.act_dtype`` and shape ``[..., K]``, C-contiguous.
        qw: the packed weight (from ``quantize`` or an importer) on x's device. For act-order weights
            (``qw.act_perm`` set) x is first gathered to ``x[..., qw.act_perm]`` (one extra small kernel).
        bias: optional ``[M]`` array of the activation dtype.
        out: optional ``[..., M]`` array to write into (not for jax arrays, which are immutable).
        stream: CUDA stream (int handle or ``__cuda_stream__`` object); default: the framework's current one.
        kernel: a catalog entry name to force (see ``kernels()``/``explain()``); default: the heuristic's pick.
    Returns:
        ``out`` if given, else a new ``[..., M]`` array of x's framework and dtype.
    Raises:
        TypeError/ValueError naming the offending argument, before anything is launched.
    """
    if not isinstance(qw, QuantizedWeight):
        raise TypeError(f"qw must be a mixgemm.QuantizedWeight, got {type(qw).__name__}")
    if stream is None and kernel is None:
        y = _torch_fast_path(x, qw, bias, out)
        if y is not None:
            return y
    dev = qw.validate()
    m, k = qw.shape
    fw = io.framework_of(x)
    xdev = io.cuda_device(x, "x")
    if xdev != dev:
        raise ValueError(f"x is on cuda:{xdev} but the weight is on cuda:{dev}")
    xshape = io.shape_of(x)
    if len(xshape) < 1 or xshape[-1] != k:
        raise ValueError(f"x must have shape [..., {k}] (in_features), got {list(xshape)}")
    xdtype = io.dtype_name(x)
    if xdtype != qw.act_dtype:
        raise TypeError(f"x has dtype {xdtype}, but the weight was packed for {qw.act_dtype} activations")
    if not io.is_c_contiguous(x):
        raise ValueError("x must be C-contiguous (call .contiguous() first)")
    n = math.prod(xshape[:-1])
    out_shape = tuple(xshape[:-1]) + (m,)
    if bias is not None:
        bdev = io.cuda_device(bias, "bias")
        if bdev != dev:
            raise ValueError(f"bias is on cuda:{bdev} but the weight is on cuda:{dev}")
        if io.shape_of(bias) != (m,):
            raise ValueError(f"bias must have shape [{m}] (out_features), got {list(io.shape_of(bias))}")
        if io.dtype_name(bias) != qw.act_dtype:
            raise TypeError(f"bias has dtype {io.dtype_name(bias)}, expected {qw.act_dtype}")
        if not io.is_c_contiguous(bias):
            raise ValueError("bias must be contiguous")
    if out is not None:
        if fw == "jax":
            raise TypeError("out= is not supported for jax arrays (they are immutable)")
        odev = io.cuda_device(out, "out")
        if odev != dev:
            raise ValueError(f"out is on cuda:{odev} but the weight is on cuda:{dev}")
        if io.shape_of(out) != out_shape:
            raise ValueError(f"out must have shape {list(out_shape)}, got {list(io.shape_of(out))}")
        if io.dtype_name(out) != qw.act_dtype:
            raise TypeError(f"out has dtype {io.dtype_name(out)}, expected {qw.act_dtype}")
        if not io.is_c_contiguous(out):
            raise ValueError("out must be C-contiguous")
    for name, arr in (("x", x), ("bias", bias), ("out", out)):
        if arr is not None and io.data_ptr(arr) % 16:
            raise ValueError(f"{name} must be 16-byte aligned (a sliced view may not be; call .contiguous())")
    if out is not None:
        # Kernels read x and bias while other CTAs already write out: no in-place calls.
        for name, arr in (("x", x), ("bias", bias)):
            if arr is not None and _overlaps(out, arr):
                raise ValueError(f"out must not overlap {name} (in-place linear is not supported)")
    name, ws_bytes = _select(qw, n, bias is not None, kernel, dev)
    s = io.resolve_stream(stream, fw, dev)
    if n == 0:   # no tokens: nothing to compute or launch (empty arrays may have null pointers)
        if out is not None:
            return out
        with io.device_context(fw, dev):
            return io.to_framework(fw, io.empty(fw, out_shape, qw.act_dtype, dev))
    if qw.act_perm is not None:
        # Act-order weight: its columns are stored group by group, so the kernel multiplies the
        # activations in that order; the gather runs on the launch stream (a temporary of x's size).
        x = ax.gather_columns(x, qw.act_perm, s if stream is not None else None, dev)
    wcode, acode = WEIGHT_CODES[qw.weight], ACT_CODES[qw.act_dtype]
    if fw == "torch" and io.framework_of(qw.packed) == "torch":
        # Low-overhead path: every array was validated above, so hand the core raw device pointers
        # instead of exporting five DLPack capsules (which costs tens of microseconds per call).
        import torch
        y = out if out is not None else x.new_empty(out_shape)   # x's dtype and device
        ws = x.new_empty(ws_bytes, dtype=torch.uint8) if ws_bytes else None
        if stream is not None:   # the caching allocator must not reuse these before our stream is done
            ext = torch.cuda.ExternalStream(s, device=x.device)
            for t in (x, y, qw.packed, qw.scales, qw.zeros, bias, ws):
                if t is not None and io.framework_of(t) == "torch":
                    t.record_stream(ext)
        ptr = lambda a: io.data_ptr(a) if a is not None else 0   # noqa: E731  (bias/out may be cupy)
        _C.gemm_ptr(name, ptr(qw.packed), ptr(qw.scales), ptr(qw.zeros), ptr(x), ptr(bias), ptr(y), ptr(ws),
                    ws_bytes, m, n, k, qw.group_size, wcode, acode, dev, s)
        return y
    with io.device_context(fw, dev):
        y = out if out is not None else io.empty(fw, out_shape, qw.act_dtype, dev)
        ws = io.empty(fw, (max(ws_bytes, 1),), "uint8", dev) if ws_bytes else None
        _C.gemm(name, io.export(qw.packed, s), io.export(qw.scales, s),
                io.export(qw.zeros, s) if qw.zeros is not None else None, io.export(x, s),
                io.export(bias, s) if bias is not None else None, io.export(y, s),
                io.export(ws, s) if ws is not None else None, m, n, k, qw.group_size, wcode, acode, dev, s)
    if fw == "jax":
        io.synchronize(fw, s, dev)   # the jax inputs may be freed once we return
    return io.to_framework(fw, y)


def _weight_signature(qw: QuantizedWeight) -> tuple:
    """What must not change for a cached validation of qw to stay valid (torch tensors: storage,
    shape, dtype and strides of each array; swapping `.data`, resizing or restriding in place
    changes it)."""
    sig = []
    for a in (qw.packed, qw.scales, qw.zeros):
        sig += (None, None, None, None) if a is None else (a.data_ptr(), a.shape, a.dtype, a.stride())
    return tuple(sig)


def _torch_fast_path(x: Any, qw: QuantizedWeight, bias: Any, out: Any) -> Any:
    """The common eager call from PyTorch with as little Python as possible: torch arrays only, the
    current stream, no act-order, a weight validated before (cached on the weight with the signature
    of its arrays) and a problem whose kernel choice is cached. Returns None, without side effects,
    whenever anything is unusual, so that the general path runs (and raises its precise errors)."""
    torch = sys.modules.get("torch")
    if torch is None or type(x) is not torch.Tensor or qw.act_perm is not None:
        return None
    raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    if raw_stream is None:
        return None
    if type(qw.packed) is not torch.Tensor or type(qw.scales) is not torch.Tensor:
        return None
    if qw.zeros is not None and type(qw.zeros) is not torch.Tensor:
        return None
    cached = qw.__dict__.get("_mixgemm_validated")
    sig = _weight_signature(qw)
    if cached is None or cached[0] != sig:
        try:
            dev = qw.validate()
        except (TypeError, ValueError):
            return None
        object.__setattr__(qw, "_mixgemm_validated", (sig, dev))   # frozen dataclass: a private cache
    else:
        dev = cached[1]
    act = getattr(torch, qw.act_dtype)
    m, k = qw.shape
    if not x.is_cuda or x.dtype != act or x.dim() < 1 or x.shape[-1] != k or not x.is_contiguous():
        return None
    if x.get_device() != dev or x.data_ptr() % 16:
        return None
    out_shape = x.shape[:-1] + (m,)
    for t, shape in ((bias, (m,)), (out, out_shape)):
        if t is not None and (type(t) is not torch.Tensor or not t.is_cuda or t.get_device() != dev or
                              t.dtype != act or t.shape != shape or not t.is_contiguous() or t.data_ptr() % 16):
            return None
    if out is not None:
        span = lambda t: (t.data_ptr(), t.numel() * t.element_size())   # noqa: E731
        if any(t is not None and _ranges_overlap(span(out), span(t)) for t in (x, bias)):
            return None   # overlapping out: the general path refuses it
    n = x.numel() // k if k else 0
    if n == 0:
        return None
    hit = _selection_cache.get((m, n, k, qw.group_size, qw.weight, qw.act_dtype, bias is not None, None, dev))
    if hit is None:
        return None
    name, ws_bytes = hit
    # x.new_empty: x's dtype (act, checked above) and device, and cheaper than torch.empty
    # (docs/notes/host-overhead.md)
    y = out if out is not None else x.new_empty(out_shape)
    ws = x.new_empty(ws_bytes, dtype=torch.uint8) if ws_bytes else None
    _C.gemm_ptr(name, qw.packed.data_ptr(), qw.scales.data_ptr(), qw.zeros.data_ptr() if qw.zeros is not None else 0,
                x.data_ptr(), bias.data_ptr() if bias is not None else 0, y.data_ptr(),
                ws.data_ptr() if ws is not None else 0, ws_bytes, m, n, k, qw.group_size, WEIGHT_CODES[qw.weight],
                ACT_CODES[qw.act_dtype], dev, raw_stream(dev))
    return y


def _ranges_overlap(a: tuple, b: tuple) -> bool:
    """Whether two (address, bytes) memory ranges share any byte."""
    return a[0] < b[0] + b[1] and b[0] < a[0] + a[1]


def _overlaps(a: Any, b: Any) -> bool:
    """Whether two contiguous arrays (of 16-bit activations) share any byte of memory."""
    span = lambda t: (io.data_ptr(t), math.prod(io.shape_of(t)) * 2)   # noqa: E731
    return _ranges_overlap(span(a), span(b))
