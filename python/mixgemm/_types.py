"""Names and codes shared by the Python layer and the compiled core."""
from __future__ import annotations

# Weight formats. s4: int4 symmetric (scale only); u4: uint4 with zero points; s8: int8 symmetric.
WEIGHT_CODES = {"s4": 0, "u4": 1, "s8": 2}
WEIGHT_BITS = {"s4": 4, "u4": 4, "s8": 8}
WEIGHT_HAS_ZERO = {"s4": False, "u4": True, "s8": False}
ACT_CODES = {"float16": 0, "bfloat16": 1}
ACT_SHORT = {"float16": "f16", "bfloat16": "bf16"}
SOURCE_CODES = {"float16": 0, "bfloat16": 1, "float32": 2}

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
