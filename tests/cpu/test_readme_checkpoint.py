"""The README's "From a GPTQ/AWQ checkpoint" example runs as written (its host part) on a synthetic
checkpoint written here with safetensors.numpy, and gives the checkpoint's exact weight."""
import os

import numpy as np
import pytest

import mixgemm

from ._checkpoints import exact_weight, random_awq, random_gptq, readme_python_blocks

SECTION = "From a GPTQ/AWQ checkpoint"
PREFIX = "model.layers.0.self_attn.q_proj."


def _run_in(tmp_path, code, tensors, extra=None):
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({PREFIX + k: np.ascontiguousarray(v) for k, v in tensors.items()},
                 str(tmp_path / "model.safetensors"))
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        scope = dict(extra or {})
        exec(compile(code, "README.md", "exec"), scope)   # noqa: S102  (the README's own code)
    finally:
        os.chdir(cwd)
    return scope


def test_readme_has_the_host_and_gpu_blocks():
    blocks = readme_python_blocks(SECTION)
    assert len(blocks) == 2
    assert "load_file(" in blocks[0] and "from_gptq(" in blocks[0] and "from_awq(" in blocks[0]
    assert "apply(" in blocks[1] and "linear(" in blocks[1]


@pytest.mark.parametrize("act_order", [False, True])
def test_readme_gptq_example_imports_exactly(tmp_path, act_order):
    rng = np.random.default_rng(int(act_order))
    t, q, z, s, g_idx = random_gptq(rng, 64, 256, 64, act_order=act_order)
    scope = _run_in(tmp_path, readme_python_blocks(SECTION)[0], t)
    qw = scope["qw"]
    assert qw.shape == (64, 256) and qw.weight == "u4" and (qw.act_perm is not None) == act_order
    np.testing.assert_array_equal(mixgemm.dequantize(qw), exact_weight(q, s, z, g_idx))


def test_readme_awq_line_imports_exactly(tmp_path):
    host_block = readme_python_blocks(SECTION)[0]
    awq_line = next(line for line in host_block.splitlines() if "from_awq(" in line)
    code = host_block.replace(awq_line, awq_line.split("# AWQ: ", 1)[1])   # the commented alternative
    code = "\n".join(line for line in code.splitlines() if "from_gptq(" not in line and "g_idx=" not in line)
    t, q, z, s = random_awq(np.random.default_rng(2), 64, 256, 128)
    qw = _run_in(tmp_path, code, t)["qw"]
    np.testing.assert_array_equal(mixgemm.dequantize(qw), exact_weight(q, s, z))
