from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SEED_SPECS = sorted(SPECS.glob("*.yaml"))

HAS_KERAS = bool(importlib.util.find_spec("keras") and importlib.util.find_spec("tensorflow"))
HAS_TORCH = bool(importlib.util.find_spec("torch"))
needs_keras = pytest.mark.skipif(not HAS_KERAS, reason="Keras/TensorFlow not installed")
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch not installed")
needs_both = pytest.mark.skipif(not (HAS_KERAS and HAS_TORCH), reason="needs Keras and PyTorch")


# specs "written by others", shared by the reference, equivalence and export tests
ODD_STRIDE2_SAME = """
name: odd_stride2
input_shape: [13, 11, 3]
layers:
  - {type: Conv2D, filters: 8, kernel_size: 3, strides: 2, padding: same, activation: relu}
  - {type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}
  - {type: Conv2D, filters: 6, kernel_size: 4, strides: 2, padding: same, activation: elu}
  - {type: AveragePooling2D, pool_size: 2, padding: same}
  - {type: Conv2D, filters: 5, kernel_size: 2, padding: same, dilation_rate: 2}
  - {type: BatchNormalization}
  - {type: Activation, activation: gelu}
  - {type: Flatten}
  - {type: Dense, units: 4, activation: softmax}
"""

TWO_IN_TWO_OUT = """
name: two_in_two_out
inputs:
  - {name: image, shape: [15, 15, 2]}
  - {name: meta, shape: [5]}
layers:
  - {type: Conv2D, filters: 4, kernel_size: 3, strides: 2, padding: same, activation: relu, inputs: image}
  - {type: BatchNormalization}
  - {type: GlobalMaxPooling2D, name: pooled}
  - {type: Dense, units: 4, activation: tanh, inputs: meta, name: meta_dense}
  - {type: Concatenate, inputs: [pooled, meta_dense], name: joined}
  - {type: Dense, units: 3, activation: softmax, name: label}
  - {type: Dense, units: 1, activation: sigmoid, inputs: joined, name: score}
outputs: [label, score]
"""


def randomize_batch_norm(model, seed: int = 0, spread: float = 0.1) -> None:
    """Move every Keras BatchNormalization's gamma/beta and moving statistics off their neutral values."""
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, spread, beta.shape),
                               rng.normal(0, spread, mean.shape), rng.uniform(0.5, 1.5, var.shape)])


@pytest.fixture
def write_spec(tmp_path):
    """Write YAML text to a spec file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
