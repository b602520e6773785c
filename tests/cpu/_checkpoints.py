"""Checkpoint tensors written from the formats' definitions, and the exact weights they stand for.

These packers are the tests' independent statement of each format (they share no code with
mixgemm.formats); GPU tests import them too.
- GPTQ: qweight int32 [K / (32/bits), N], value k of column n in word k // pf, bits (k % pf) * bits;
  qzeros int32 [G, N / pf] packed along N the same way, storing z - zero_offset; g_idx [K].
- AWQ: int32 [R, N / 8], nibble i of word c holding column 8c + (0, 2, 4, 6, 1, 3, 5, 7)[i].
- Plain int4: uint8 [M, K / 2], column 2j in the low nibble of byte j, 2j + 1 in the high one.
"""
import numpy as np


def pack_gptq(q_kn, z_gn, bits, zero_offset=1):
    """q [K, N] and z [G, N] -> (qweight [K/pf, N], qzeros [G, N/pf]) int32, GPTQ v1 when offset=1."""
    pf = 32 // bits
    k, n = q_kn.shape
    qweight = np.zeros((k // pf, n), dtype=np.uint32)
    for i in range(pf):
        qweight |= q_kn[i::pf, :].astype(np.uint32) << np.uint32(bits * i)
    zs = (z_gn.astype(np.int64) - zero_offset) & ((1 << bits) - 1)
    qzeros = np.zeros((z_gn.shape[0], n // pf), dtype=np.uint32)
    for i in range(pf):
        qzeros |= zs[:, i::pf].astype(np.uint32) << np.uint32(bits * i)
    return qweight.view(np.int32), qzeros.view(np.int32)


def pack_awq(vals_rn):
    """vals [R, N] -> [R, N/8] int32, nibble i of word c holding column 8c + (0,2,4,6,1,3,5,7)[i]."""
    r, n = vals_rn.shape
    out = np.zeros((r, n // 8), dtype=np.uint32)
    order = [0, 2, 4, 6, 1, 3, 5, 7]
    for c in range(n // 8):
        for i in range(8):
            out[:, c] |= vals_rn[:, 8 * c + order[i]].astype(np.uint32) << np.uint32(4 * i)
    return out.view(np.int32)


def pack_plain4(q_mk):
    """int values q [M, K] (signed or unsigned) -> uint8 [M, K/2], even columns in the low nibble."""
    lo = q_mk[:, 0::2].astype(np.int64) & 15
    hi = q_mk[:, 1::2].astype(np.int64) & 15
    return (lo | (hi << 4)).astype(np.uint8)


def exact_weight(q_mk, scales_gm, zero_points_gm=None, g_idx=None):
    """W[m, k] = s[grp(k), m] * (q[m, k] - z[grp(k), m]) in fp32, grp(k) = g_idx[k] or k // g."""
    m, k = q_mk.shape
    groups = scales_gm.shape[0]
    grp = np.arange(k) // (k // groups) if g_idx is None else np.asarray(g_idx)
    s = np.asarray(scales_gm, np.float32)[grp].T                       # [M, K]
    z = 0 if zero_points_gm is None else np.asarray(zero_points_gm, np.float32)[grp].T
    return s * (np.asarray(q_mk, np.float32) - z)


def random_gptq(rng, m, k, g, bits=4, symmetric=False, act_order=False, zero_offset=1):
    """A random GPTQ layer: (tensors dict, q [M, K] unsigned, z [G, M], s [G, M] fp16, g_idx or None)."""
    groups = k // g
    q = rng.integers(0, 1 << bits, size=(m, k))
    if symmetric:
        z = np.full((groups, m), 1 << (bits - 1))
    else:
        z = rng.integers(zero_offset, 1 << bits, size=(groups, m))   # v1 cannot store z = 0
    s = (rng.uniform(0.5, 2.0, size=(groups, m)) * rng.choice([-1, 1], size=(groups, m)) / 64).astype(np.float16)
    g_idx = rng.permutation(np.arange(k) // g).astype(np.int32) if act_order else None
    qweight, qzeros = pack_gptq(q.T, z, bits, zero_offset)
    t = {"qweight": qweight, "qzeros": qzeros, "scales": s}
    if g_idx is not None:
        t["g_idx"] = g_idx
    return t, q, z, s, g_idx


def random_awq(rng, m, k, g):
    groups = k // g
    q = rng.integers(0, 16, size=(m, k))
    z = rng.integers(0, 16, size=(groups, m))
    s = (rng.uniform(0.5, 2.0, size=(groups, m)) / 64).astype(np.float16)
    return {"qweight": pack_awq(q.T), "qzeros": pack_awq(z), "scales": s}, q, z, s


def readme_python_blocks(section):
    """The ```python code blocks of a README.md section (by its '## ' heading), in order."""
    import os
    import re
    path = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    text = open(path, encoding="utf-8").read()
    start = text.index("## " + section + "\n")
    end = text.find("\n## ", start + 1)
    body = text[start:end if end >= 0 else len(text)]
    return re.findall(r"```python\n(.*?)```", body, flags=re.S)
