"""Shared test setup. GPU tests are marked `gpu` and skip cleanly without an sm90 GPU and PyTorch."""
from __future__ import annotations

import pytest


def _sm90_available() -> str:
    """Empty string when GPU tests can run, else the reason they are skipped."""
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU is visible"
    if torch.cuda.get_device_capability() != (9, 0):
        return f"GPU {torch.cuda.get_device_name()} is not sm90"
    return ""


def pytest_collection_modifyitems(config, items):
    reason = None
    for item in items:
        if "gpu" in item.keywords:
            if reason is None:
                reason = _sm90_available()
            if reason:
                item.add_marker(pytest.mark.skip(reason=f"GPU test: {reason}"))
