"""Run an archspec ONNX export in onnxruntime alone (no TensorFlow, no torch).

    from archspec.onnx import Session
    session = Session("exports/fashion_cnn.onnx")
    probs = session.predict(images)            # (N, 28, 28, 1) float32 -> list of outputs
    session.classes, session.input_shape, session.metadata
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from archspec.errors import ArchspecError


class Session:
    def __init__(self, path: str | Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ArchspecError("running ONNX files needs onnxruntime: pip install onnxruntime") from None
        path = Path(path)
        if not path.is_file():
            raise ArchspecError(f"model file not found: {path}")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ArchspecError(f"{path}: onnxruntime cannot load it ({str(exc).splitlines()[0]})") from None
        self.path = path
        raw = self.session.get_modelmeta().custom_metadata_map
        self.metadata: dict[str, str] = dict(raw)
        self.inputs = self.session.get_inputs()
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _json(self, key: str, default: Any = None) -> Any:
        return json.loads(self.metadata[key]) if key in self.metadata else default

    @property
    def classes(self) -> list[str] | None:
        return self._json("classes")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-sample shape of the first input."""
        return tuple(d if isinstance(d, int) else None for d in self.inputs[0].shape[1:])

    @property
    def data_format(self) -> str:
        return self.metadata.get("data_format", "channels_last")

    @property
    def standardize(self) -> dict[str, list[float]] | None:
        return self._json("standardize")

    def preprocess(self, x: np.ndarray) -> np.ndarray:
        """What the training pipeline did to raw features: standardisation, when the run used it."""
        stats = self.standardize
        if stats:
            x = (x - np.asarray(stats["mean"], np.float32).reshape(x.shape[1:])) / np.asarray(
                stats["std"], np.float32).reshape(x.shape[1:])
        return x.astype(np.float32)

    def predict(self, *inputs: np.ndarray, batch_size: int = 256) -> list[np.ndarray]:
        if len(inputs) != len(self.inputs):
            raise ArchspecError(f"{self.path.name} takes {len(self.inputs)} input(s), got {len(inputs)}")
        arrays = []
        for given, spec_input in zip(inputs, self.inputs):
            given = np.asarray(given)
            want = tuple(spec_input.shape[1:])  # a free axis is a name (str) or None
            if given.ndim == len(want):
                given = given[None]
            if given.ndim != len(want) + 1 or any(
                    isinstance(w, int) and w != g for w, g in zip(want, given.shape[1:])):
                raise ArchspecError(f"input '{spec_input.name}' takes samples of shape {list(want)}, "
                                    f"got {list(given.shape[1:])}")
            if not np.issubdtype(given.dtype, np.number):
                raise ArchspecError(f"input '{spec_input.name}' takes numbers, got dtype {given.dtype}")
            dtype = {"tensor(int32)": np.int32, "tensor(int64)": np.int64}.get(spec_input.type, np.float32)
            if dtype is not np.float32 and not np.issubdtype(given.dtype, np.integer):
                raise ArchspecError(f"input '{spec_input.name}' takes integers, got dtype {given.dtype}")
            arrays.append(given.astype(dtype))
        n = len(arrays[0])
        chunks = []
        for start in range(0, n, batch_size):
            feed = {i.name: a[start: start + batch_size] for i, a in zip(self.inputs, arrays)}
            chunks.append(self.session.run(self.output_names, feed))
        return [np.concatenate([c[k] for c in chunks]) for k in range(len(self.output_names))]
