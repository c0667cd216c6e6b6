"""What an importer reads a model into: layers in the spec's vocabulary, and neutral weights.

The Keras and PyTorch importers both produce an `ImportedGraph`; `archspec.importers.emit` turns
it into a spec file a person would have written, and the weights into the neutral file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np


@dataclass
class ImportedInput:
    name: str
    shape: tuple[int | None, ...]  # per sample, batch axis excluded
    dtype: str = "float32"


@dataclass
class ImportedLayer:
    """One layer as a spec entry: a registered type, its parameters (Keras names), its inputs."""

    name: str
    type: str
    config: dict[str, Any]
    inputs: list[str]
    trainable: bool = True


@dataclass
class ImportedGraph:
    name: str
    data_format: Literal["channels_last", "channels_first"]
    inputs: list[ImportedInput]
    layers: list[ImportedLayer]  # in a topological order
    outputs: list[str]
    # neutral weights: "<layer name>/<Keras variable path>" -> array in Keras's layout
    weights: dict[str, np.ndarray] = field(default_factory=dict)
