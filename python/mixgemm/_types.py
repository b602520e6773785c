"""Names and codes shared by the Python layer and the compiled core, read from the core's enums (which
carry the catalog's names: src/catalog/catalog.py)."""
from __future__ import annotations

from . import _C

# Weight formats. s4: int4 symmetric (scale only); u4: uint4 with zero points; s8: int8 symmetric.
WEIGHT_CODES = {w.name: w.value for w in _C.WeightType}
WEIGHT_BITS = {w.name: _C.weight_bits(w) for w in _C.WeightType}
WEIGHT_HAS_ZERO = {w.name: _C.weight_has_zero(w) for w in _C.WeightType}
ACT_CODES = {a.name: a.value for a in _C.ActType}          # "float16", "bfloat16"
SOURCE_CODES = {"float16": 0, "bfloat16": 1, "float32": 2}   # quantize()'s input types (pack.h)

# Other spellings of the dtype names above that users and frameworks write ("half" is torch's, "f16" the
# catalog's), mapped to the one mixgemm uses.
DTYPE_ALIASES = {"half": "float16", "fp16": "float16", "f16": "float16", "bf16": "bfloat16", "float": "float32"}


def canonical_dtype(name: str) -> str:
    """The canonical spelling of a dtype name ("half" -> "float16"); other names unchanged."""
    return DTYPE_ALIASES.get(name, name)


def check_weight_shape(m: int, k: int) -> None:
    """The shape rules every kernel shares (the compiled core's validate_problem), as a ValueError naming
    the dimension: M (out_features) a multiple of the packed layout's 16-row blocks, K (in_features) a
    multiple of the kernels' 64-column K step."""
    if m % _C.row_block:
        raise ValueError(f"out_features M={m} must be a multiple of {_C.row_block} (the packed layout's "
                         f"{_C.row_block}-row blocks)")
    if k % _C.k_step:
        raise ValueError(f"in_features K={k} must be a multiple of {_C.k_step} (mixgemm kernels step K by "
                         f"{_C.k_step})")

# Version of the packed layout (weight_layout.cuh); bump when the byte order changes.
PACK_FORMAT_VERSION = 1


def weight_format(bits: int, symmetric: bool) -> str:
    if bits == 4:
        return "s4" if symmetric else "u4"
    if bits == 8:
        if not symmetric:
            raise ValueError("symmetric=False is supported for bits=4 only (uint4 with zero points)")
        return "s8"
    raise ValueError(f"bits must be 4 or 8, got {bits}")
