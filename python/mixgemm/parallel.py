"""Tensor parallelism with ``torch.distributed``: column- and row-parallel layers over QuantizedWeight shards.

    import os, torch, torch.distributed as dist
    from mixgemm.parallel import ColumnParallelLinear, RowParallelLinear

    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")   # NVLink multicast off (see README)
    torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))     # under torchrun
    dist.init_process_group("nccl")
    up = ColumnParallelLinear(qw_up, device="cuda", gather_output=False)    # qw_up: the full [M1, K] weight
    down = RowParallelLinear(qw_down, bias, device="cuda")                  # qw_down: the full [M2, M1] weight
    y = down(act(up(x)))                                                    # x: [..., K], the same on every rank

A column-parallel layer holds ``qw.shard(0, rank, world_size)`` (its ``out_features / world_size`` output
features) and all-gathers the ranks' outputs along the last dim; a row-parallel layer holds
``qw.shard(1, rank, world_size)`` (its ``in_features / world_size`` input features), computes a partial
product and all-reduces (sums) it, then adds the bias once. Each rank runs ``mixgemm.linear`` on its shard.

Numerics. The shards hold exactly the full weight's values (``dequantize`` of the column shards
concatenated along dim 0, or of the row shards along dim 1, is bit-identical to ``dequantize`` of the
whole), and the column-parallel layer's output is each rank's kernel output, gathered unchanged. Results
are still not bit-identical to one ``linear`` call on the whole weight, since the kernel (tile, split-K)
is chosen per problem shape. The row-parallel layer differs more: every rank rounds its partial sum to
the activation dtype (fp16/bf16) before the all-reduce, which then adds the ranks' partials in that dtype
(in an order NCCL chooses), and the bias is added after that in the activation dtype; one kernel call
keeps the whole sum in fp32 and rounds once. Expect a few more ulps of error per output (roughly
``sqrt(world_size)`` times the rounding error of one call), so compare against a reference with a
tolerance.

Only this module needs PyTorch, and it imports it when it is used (``import mixgemm`` stays
torch-free; this module is loaded by ``import mixgemm.parallel``). ``simulate_ranks`` runs every rank's
part in one process without collectives (one GPU, or NumPy with a reference ``linear_fn``).
"""
from __future__ import annotations

import math
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _arrayops as ax
from . import _interop as io
from ._quant import QuantizedWeight

__all__ = ["ColumnParallelLinear", "RowParallelLinear", "simulate_ranks"]

#: ``linear_fn(x, qw, bias=None) -> y`` computes ``x @ W^T (+ bias)`` for one rank's shard.
LinearFn = Callable[..., Any]


# ---------------------------------------------------------------------------------------------------
# Helpers (framework-neutral where the single-process simulation needs them: torch or NumPy arrays)
# ---------------------------------------------------------------------------------------------------

def _dist(what: str):
    """torch.distributed, or a RuntimeError saying that ``what`` needs it."""
    try:
        import torch.distributed as dist
    except ImportError:
        raise RuntimeError(f"{what} needs torch.distributed, but PyTorch is not installed") from None
    if not dist.is_available():
        raise RuntimeError(f"{what} needs torch.distributed, which this PyTorch build does not include")
    return dist


def _check_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    return int(v)


def _resolve_ranks(cls: str, group: Any, rank: Optional[int], world_size: Optional[int]) -> Tuple[int, int]:
    """(rank, world_size): given explicitly, or those of ``group`` (default: the world group)."""
    if (rank is None) != (world_size is None):
        raise ValueError(f"{cls}: pass both rank= and world_size=, or neither (then they come from the process group)")
    if rank is None:
        dist = _dist(f"{cls} without rank=/world_size=")
        if not dist.is_initialized():
            raise RuntimeError(f"{cls}: torch.distributed is not initialized; call torch.distributed."
                               "init_process_group(...) first, or pass rank= and world_size= (a layer used "
                               "without collectives, e.g. by simulate_ranks)")
        rank, world_size = dist.get_rank(group), dist.get_world_size(group)
        if rank < 0:
            raise ValueError(f"{cls}: this process is not a member of the given process group")
        return int(rank), int(world_size)
    rank, world_size = _check_int("rank", rank), _check_int("world_size", world_size)
    if world_size < 1:
        raise ValueError(f"{cls}: world_size must be at least 1, got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"{cls}: rank must be in [0, {world_size}), got {rank}")
    return rank, world_size


def _check_weight(cls: str, weight: Any) -> QuantizedWeight:
    if not isinstance(weight, QuantizedWeight):
        raise TypeError(f"{cls}: weight must be a mixgemm.QuantizedWeight, got {type(weight).__name__}")
    weight.check_arrays()
    return weight


def _check_vector(cls: str, name: str, a: Any, lengths: Sequence[int], act_dtype: str) -> None:
    shape = io.shape_of(a)
    if len(shape) != 1 or shape[0] not in lengths:
        want = " or ".join(f"[{n}]" for n in dict.fromkeys(lengths))
        raise ValueError(f"{cls}: {name} must have shape {want}, got {list(shape)}")
    if io.dtype_name(a) != act_dtype:
        raise TypeError(f"{cls}: {name} has dtype {io.dtype_name(a)}, expected {act_dtype} (the weight's "
                        "activation dtype)")


def _torch_device(device: Any):
    import torch
    if isinstance(device, (int, np.integer)) and not isinstance(device, bool):
        return torch.device("cuda", int(device))
    return torch.device(device)


def _to_device(a: Any, device: Any) -> Any:
    """A torch tensor on ``device`` holding array ``a`` (NumPy or torch; bfloat16 NumPy via ml_dtypes)."""
    import torch
    if not isinstance(a, torch.Tensor):
        if io.framework_of(a) != "numpy":
            raise TypeError(f"device=: only NumPy or torch arrays can be moved, got {type(a).__name__}; "
                            "move the weight with qw.apply(...) instead")
        arr = np.ascontiguousarray(a)
        t = (torch.from_numpy(arr.view(np.uint16)).view(torch.bfloat16) if io.dtype_name(arr) == "bfloat16"
             else torch.from_numpy(arr))
        a = t
    return a.to(device=device)


def _contiguous(a: Any) -> Any:
    if io.framework_of(a) == "torch":
        return a.contiguous()
    if io.framework_of(a) == "numpy":
        return np.ascontiguousarray(a)
    return ax.copy_contiguous(a)


def _concat_rows(parts: Sequence[Any]) -> Any:
    """Concatenate 2-D arrays along dim 0 (what all_gather_into_tensor writes), torch or NumPy."""
    if io.framework_of(parts[0]) == "torch":
        import torch
        return torch.cat(list(parts), dim=0)
    return np.concatenate(list(parts), axis=0)


def _rank_major_to_last_dim(buf: Any, world_size: int, lead: Tuple[int, ...], cols: int) -> Any:
    """``[world_size * n, cols]``, rank r's ``[n, cols]`` output in rows ``r*n:(r+1)*n`` (the layout that
    ``all_gather_into_tensor`` writes), to ``[*lead, world_size * cols]`` with rank r's output in columns
    ``r*cols:(r+1)*cols``. For one token the two layouts coincide (a view); otherwise one copy."""
    n = math.prod(lead)
    if n == 1:
        return buf.reshape(*lead, world_size * cols)
    return buf.reshape(world_size, n, cols).swapaxes(0, 1).reshape(*lead, world_size * cols)


def _all_gather_into(dist):
    """``all_gather_single`` (newer PyTorch's name) or ``all_gather_into_tensor`` (same semantics)."""
    return getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor


def _default_linear() -> LinearFn:
    from ._linear import linear
    return linear


# ---------------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------------

class _ParallelLinear:
    """What both layers share: the rank, the group, the local shard, the collective's preconditions."""

    _shard_dim = -1

    def __init__(self, weight: QuantizedWeight, group: Any, rank: Optional[int], world_size: Optional[int],
                 weight_is_shard: bool, device: Any, linear_fn: Optional[LinearFn]) -> None:
        cls = type(self).__name__
        weight = _check_weight(cls, weight)
        self.group = group
        self.rank, self.world_size = _resolve_ranks(cls, group, rank, world_size)
        self.weight_is_shard = bool(weight_is_shard)
        # The shard is cut where the full weight lives (host or GPU), then moved: a host weight from a
        # checkpoint importer never has to be on the GPU whole.
        local = weight if weight_is_shard else weight.shard(self._shard_dim, self.rank, self.world_size)
        self.device = None if device is None else _torch_device(device)
        if self.device is not None:
            local = local.apply(lambda a: _to_device(a, self.device))
        self.weight: QuantizedWeight = local
        self._linear: LinearFn = linear_fn if linear_fn is not None else _default_linear()
        self._collective_dist: Any = None

    def _move(self, a: Any) -> Any:
        return a if a is None or self.device is None else _to_device(a, self.device)

    def _collectives(self):
        """torch.distributed, after checking once that its group matches this layer's rank/world_size."""
        if self._collective_dist is not None:    # checked before: no per-call cost
            return self._collective_dist
        cls = type(self).__name__
        dist = _dist(f"{cls}.forward with world_size={self.world_size}")
        if not dist.is_initialized():
            raise RuntimeError(f"{cls}.forward: world_size is {self.world_size} but torch.distributed is not "
                               "initialized; call init_process_group first (a single process can check a "
                               "layer with local_forward() or mixgemm.parallel.simulate_ranks())")
        rank, world_size = dist.get_rank(self.group), dist.get_world_size(self.group)
        if (rank, world_size) != (self.rank, self.world_size):
            raise ValueError(f"{cls}: built for rank {self.rank} of {self.world_size}, but this process is rank "
                             f"{rank} of {world_size} in its process group")
        self._collective_dist = dist
        return dist

    @property
    def nbytes(self) -> int:
        """Bytes of this rank's weight shard as a kernel reads them (packed values + scales (+ zeros)),
        plus its bias."""
        b = getattr(self, "bias", None)
        return self.weight.nbytes + (0 if b is None else math.prod(io.shape_of(b)) * 2)

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def forward(self, x: Any) -> Any:   # pragma: no cover - overridden
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(in_features={self.in_features}, out_features={self.out_features}, "
                f"rank={self.rank}, world_size={self.world_size}, local weight {self.weight.weight} "
                f"{self.weight.shape[0]}x{self.weight.shape[1]} g={self.weight.group_size}, "
                f"bias={getattr(self, 'bias', None) is not None})")


class ColumnParallelLinear(_ParallelLinear):
    """``y = x @ W^T + b`` with W's output features (rows) split over the ranks of a process group.

    Each rank holds ``qw.shard(0, rank, world_size)`` (``out_features / world_size`` rows) and the matching
    slice of the bias, computes ``mixgemm.linear(x, shard, bias_part)`` for the full input ``x[..., K]``
    (the same on every rank), and, with ``gather_output=True``, all-gathers the parts along the output's
    last dim so that every rank returns the whole ``[..., out_features]``.

    Args:
        weight: the full QuantizedWeight ``[M, K]`` (host or GPU; it is sharded where it lives, then the
            shard is moved to ``device``), or this rank's shard ``[M / world_size, K]`` with
            ``weight_is_shard=True``. M must split into parts of a multiple of 16 rows (the error from
            ``qw.shard`` names the constraint).
        bias: optional ``[M]`` array of the activation dtype (sliced for this rank); with
            ``weight_is_shard=True`` also this rank's ``[M / world_size]`` slice.
        group: the torch.distributed process group (default: the world group).
        gather_output: all-gather the ranks' outputs (True, default) or return this rank's
            ``[..., M / world_size]`` part (to feed a RowParallelLinear with ``input_is_parallel``).
        weight_is_shard: ``weight`` (and a bias of the local length) is already this rank's part.
        rank, world_size: given explicitly (both), instead of asking ``group``; such a layer's
            ``local_forward`` works without torch.distributed (``forward`` checks that they match).
        device: move the shard and bias there (torch: ``"cuda"``, ``"cuda:1"``, an int or a torch.device);
            default: leave them where they are.
        linear_fn: ``fn(x, qw, bias=None)`` computing one shard's product; default ``mixgemm.linear``
            (a reference implementation, e.g. float64 NumPy, lets the layer's logic run on the host).

    Not a ``torch.nn.Module``: hold it in a module as a plain attribute. ``forward`` uses
    ``torch.distributed.all_gather_into_tensor`` (``all_gather_single`` where PyTorch has it) on the
    current stream; NCCL collectives can be captured in CUDA graphs.
    """

    _shard_dim = 0

    def __init__(self, weight: QuantizedWeight, bias: Any = None, group: Any = None, *, gather_output: bool = True,
                 weight_is_shard: bool = False, rank: Optional[int] = None, world_size: Optional[int] = None,
                 device: Any = None, linear_fn: Optional[LinearFn] = None) -> None:
        super().__init__(weight, group, rank, world_size, weight_is_shard, device, linear_fn)
        ms, k = self.weight.shape
        self.in_features: int = k
        self.out_features: int = ms * self.world_size
        self.out_features_per_rank: int = ms
        self.gather_output = bool(gather_output)
        self.bias: Any = None
        if bias is not None:
            cls = type(self).__name__
            lengths = (self.out_features, ms) if weight_is_shard else (self.out_features,)
            _check_vector(cls, "bias", bias, lengths, self.weight.act_dtype)
            if io.shape_of(bias)[0] == self.out_features:     # the full bias: this rank's slice
                bias = bias[self.rank * ms:(self.rank + 1) * ms]
            self.bias = self._move(ax.copy_contiguous(bias))

    def local_forward(self, x: Any) -> Any:
        """This rank's part ``x @ W_r^T + b_r``: ``[..., out_features / world_size]``, no collective."""
        k = io.shape_of(x)[-1] if len(io.shape_of(x)) else None
        if k != self.in_features:
            raise ValueError(f"{type(self).__name__}: x must have shape [..., {self.in_features}] (the full input, "
                             f"the same on every rank), got {list(io.shape_of(x))}")
        return self._linear(x, self.weight, bias=self.bias)

    def forward(self, x: Any) -> Any:
        """``[..., out_features]`` (every rank gets all of it), or this rank's ``[..., out_features /
        world_size]`` part with ``gather_output=False``."""
        y = self.local_forward(x)
        if not self.gather_output or self.world_size == 1:
            return y
        dist = self._collectives()
        import torch
        lead, cols = tuple(y.shape[:-1]), y.shape[-1]
        n = math.prod(lead)
        buf = torch.empty((self.world_size * n, cols), dtype=y.dtype, device=y.device)
        if n:
            _all_gather_into(dist)(buf, y.reshape(n, cols), group=self.group)
        return _rank_major_to_last_dim(buf, self.world_size, lead, cols)


class RowParallelLinear(_ParallelLinear):
    """``y = x @ W^T + b`` with W's input features (columns) split over the ranks of a process group.

    Each rank holds ``qw.shard(1, rank, world_size)`` (``in_features / world_size`` columns: whole
    quantization groups, a multiple of 64), multiplies its slice of the input's last dim, all-reduces the
    partial products (sum), and adds the full bias once, after the reduction. Every rank returns the
    whole ``[..., out_features]``.

    The partials are rounded to the activation dtype by each rank's kernel and summed in that dtype by
    the all-reduce (see the module docstring): the result differs from one kernel call on the whole weight
    by rounding (more than the column-parallel layer does); compare with a tolerance.

    Args:
        weight: the full QuantizedWeight ``[M, K]`` (host or GPU), or this rank's shard
            ``[M, K / world_size]`` with ``weight_is_shard=True``. K must split into whole quantization
            groups and a multiple of 64 columns per rank; per-channel weights cannot be split (the error
            from ``qw.shard`` names the constraint).
        bias: optional full ``[M]`` array of the activation dtype (the same on every rank).
        group, weight_is_shard, rank, world_size, device, linear_fn: as for ColumnParallelLinear.
        input_is_parallel: True: ``x`` is this rank's ``[..., K / world_size]`` slice (e.g. the output of a
            ColumnParallelLinear with ``gather_output=False``); False: the full ``[..., K]``, sliced here;
            None (default): decided by x's last dim.

    ``forward`` uses ``torch.distributed.all_reduce`` (SUM) on the current stream.
    """

    _shard_dim = 1

    def __init__(self, weight: QuantizedWeight, bias: Any = None, group: Any = None, *,
                 input_is_parallel: Optional[bool] = None, weight_is_shard: bool = False,
                 rank: Optional[int] = None, world_size: Optional[int] = None, device: Any = None,
                 linear_fn: Optional[LinearFn] = None) -> None:
        super().__init__(weight, group, rank, world_size, weight_is_shard, device, linear_fn)
        m, ks = self.weight.shape
        self.in_features: int = ks * self.world_size
        self.in_features_per_rank: int = ks
        self.out_features: int = m
        self.input_is_parallel = input_is_parallel
        self.bias: Any = None
        if bias is not None:
            _check_vector(type(self).__name__, "bias", bias, (m,), self.weight.act_dtype)
            self.bias = self._move(ax.copy_contiguous(bias))

    def local_input(self, x: Any) -> Any:
        """This rank's slice ``x[..., rank*K/world_size:(rank+1)*K/world_size]`` (contiguous), or x itself
        when it already is that slice."""
        shape = io.shape_of(x)
        k = shape[-1] if shape else None
        full, part = self.in_features, self.in_features_per_rank
        parallel = self.input_is_parallel
        if parallel is None:
            parallel = k == part and k != full
        if parallel:
            if k != part:
                raise ValueError(f"{type(self).__name__}: input_is_parallel: x must have shape [..., {part}] "
                                 f"(this rank's slice of {full} input features), got {list(shape)}")
            return x
        if k != full:
            raise ValueError(f"{type(self).__name__}: x must have shape [..., {full}] (the full input) or "
                             f"[..., {part}] (this rank's slice), got {list(shape)}")
        if self.world_size == 1:
            return x
        return _contiguous(x[..., self.rank * part:(self.rank + 1) * part])

    def local_forward(self, x: Any) -> Any:
        """This rank's partial product ``x_r @ W_r^T`` ``[..., out_features]``: no bias, no collective."""
        return self._linear(self.local_input(x), self.weight, bias=None)

    def _finish(self, y: Any) -> Any:
        """The reduced sum plus the bias (added once, in place, in y's dtype)."""
        if self.bias is not None:
            y += self.bias
        return y

    def forward(self, x: Any) -> Any:
        """``[..., out_features]``: the all-reduced sum of the ranks' partials, plus the bias."""
        y = self.local_forward(x)
        if self.world_size > 1 and math.prod(io.shape_of(y)):
            dist = self._collectives()
            dist.all_reduce(y, op=dist.ReduceOp.SUM, group=self.group)
        return self._finish(y)


# ---------------------------------------------------------------------------------------------------
# Single-process simulation
# ---------------------------------------------------------------------------------------------------

def simulate_ranks(qw: QuantizedWeight, x: Any, count: int, mode: str, bias: Any = None, *,
                   linear_fn: Optional[LinearFn] = None, return_parts: bool = False
                   ) -> Union[Any, Tuple[Any, List[Any]]]:
    """What ``count`` ranks of a tensor-parallel layer return, computed in one process without collectives.

    Builds the layer of every rank (``rank=r, world_size=count``, so the same sharding, bias and input
    slicing code runs), calls each one's ``local_forward(x)``, and combines the parts as the collective
    would: ``mode="column"`` stacks them as ``all_gather_into_tensor`` does and rearranges them with the
    layer's own code; ``mode="row"`` sums them in their dtype in rank order (NCCL's all-reduce may add in
    another order: equal for 2 ranks, rounding-level differences for more) and adds the bias once.

    Args:
        qw: the full weight; x: the full input ``[..., K]``; count: the number of ranks.
        linear_fn: as for the layers (default ``mixgemm.linear``: x and qw on one GPU).
        return_parts: also return the list of per-rank ``local_forward`` outputs.
    Returns:
        the combined ``[..., M]`` result (and the parts).
    """
    if mode not in ("column", "row"):
        raise ValueError(f"simulate_ranks: mode must be 'column' or 'row', got {mode!r}")
    count = _check_int("count", count)
    if count < 1:
        raise ValueError(f"simulate_ranks: count must be at least 1, got {count}")
    cls = ColumnParallelLinear if mode == "column" else RowParallelLinear
    layers = [cls(qw, bias, rank=r, world_size=count, linear_fn=linear_fn) for r in range(count)]
    parts = [layer.local_forward(x) for layer in layers]
    if mode == "column":
        shape = io.shape_of(parts[0])
        lead, cols = shape[:-1], shape[-1]
        n = math.prod(lead)
        y = _rank_major_to_last_dim(_concat_rows([p.reshape(n, cols) for p in parts]), count, lead, cols)
    else:
        y = ax.copy_contiguous(parts[0])     # _finish adds the bias in place: keep parts[0] intact
        for p in parts[1:]:
            y = y + p
        y = layers[0]._finish(y)
    return (y, parts) if return_parts else y
