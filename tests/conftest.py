from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SEED_SPECS = sorted(SPECS.glob("*.yaml"))
SHARED = ROOT.parent / "shared"

HAS_KERAS = bool(importlib.util.find_spec("keras") and importlib.util.find_spec("tensorflow"))
HAS_TORCH = bool(importlib.util.find_spec("torch"))
needs_keras = pytest.mark.skipif(not HAS_KERAS, reason="Keras/TensorFlow not installed")
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch not installed")
needs_both = pytest.mark.skipif(not (HAS_KERAS and HAS_TORCH), reason="needs Keras and PyTorch")


@pytest.fixture
def write_spec(tmp_path):
    """Write YAML text to a spec file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
