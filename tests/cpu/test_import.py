"""The package imports and answers host-side questions on a machine without a GPU."""
import json
import os
import subprocess
import sys

import mixgemm


def test_public_api():
    for name in ["QuantizedWeight", "quantize", "dequantize", "unpack", "linear", "kernels", "explain",
                 "from_gptq", "from_awq", "from_plain"]:
        assert callable(getattr(mixgemm, name)), name
    assert mixgemm.cutlass_version == "4.2.0"


def test_kernels_listed_with_metadata():
    ks = mixgemm.kernels()
    assert len(ks) >= 1
    names = [k["name"] for k in ks]
    assert len(names) == len(set(names))
    for k in ks:
        assert k["weight"] in ("s4", "u4", "s8")
        assert k["act"] in ("float16", "bfloat16")
        assert k["tile_m"] > 0 and k["tile_n"] > 0 and k["tile_k"] > 0
        assert k["name"].startswith(k["family"] + "_")
        # the instruction each kernel issues, as the catalog declares it (catalog.py)
        assert k["mma"] in ("wgmma", "mma.sync")
        if k["family"] == "cutlass":
            assert k["mma"] == "wgmma"
        else:
            assert (k["mma"] == "wgmma") == (k["tile_n"] in (16, 32, 48, 64) and k["weight"] in ("s4", "u4")), k["name"]


def test_import_does_not_initialize_cuda():
    # In a fresh interpreter: importing mixgemm must not load the CUDA driver or any framework.
    code = ("import sys, mixgemm; mixgemm.kernels(); mixgemm.explain(3584, 16, 8192, 64);"
            "maps = open('/proc/self/maps').read();"
            "print(int('libcuda.so' in maps), int('torch' in sys.modules), int('cupy' in sys.modules))")
    out = subprocess.check_output([sys.executable, "-c", code], text=True).split()
    assert out == ["0", "0", "0"], out


def test_cli_kernels_and_explain():
    out = subprocess.check_output([sys.executable, "-m", "mixgemm", "kernels", "--json"], text=True)
    assert len(json.loads(out)) == len(mixgemm.kernels())
    k = mixgemm.kernels()[0]
    act = k["act"]
    r = subprocess.run([sys.executable, "-m", "mixgemm", "explain", "4096", "16", "4096", "--group", "128",
                        "--weight", k["weight"], "--act", act], text=True, capture_output=True)
    assert r.returncode == 0, r.stderr
    assert "chosen:" in r.stdout and "candidates" in r.stdout


def test_cli_gpu_commands_fail_cleanly_without_gpu():
    try:
        import torch  # noqa: F401
        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if has_gpu:
        return
    r = subprocess.run([sys.executable, "-m", "mixgemm", "demo"], text=True, capture_output=True,
                       env=dict(os.environ))
    assert r.returncode == 2
    assert "needs" in r.stderr


def test_extension_needs_no_cuda_shared_libraries():
    # Static cudart and no libcuda link: the wheel must load on machines with only a driver (or none).
    import shutil
    from mixgemm import _C
    if shutil.which("readelf") is None:
        import pytest
        pytest.skip("readelf not available")
    out = subprocess.check_output(["readelf", "-d", _C.__file__], text=True)
    needed = [line for line in out.splitlines() if "NEEDED" in line]
    assert needed, out
    assert not any("libcuda" in line or "libnvrtc" in line for line in needed), needed


def test_stub_lists_every_core_function():
    import os
    from mixgemm import _C
    stub = open(os.path.join(os.path.dirname(mixgemm.__file__), "_C.pyi")).read()
    public = [n for n in dir(_C) if not n.startswith("_")]
    missing = [n for n in public if f"def {n}(" not in stub and f"{n}:" not in stub and f"class {n}(" not in stub]
    assert not missing, f"_C.pyi lacks {missing}"
