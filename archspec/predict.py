"""`archspec predict`: ONNX inference on files, with class names from the model's metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from archspec.data.inputs import load_samples
from archspec.onnx import Session


def predict_files(model: Path, inputs: list[Path], top_k: int = 3) -> dict[str, Any]:
    session = Session(model)
    if len(session.inputs) != 1:
        from archspec.errors import ArchspecError

        raise ArchspecError(f"{model.name} takes {len(session.inputs)} inputs; predict feeds models with one input")
    classes = session.classes
    predictions = []
    for path in inputs:
        samples = session.preprocess(load_samples(path, session.input_shape, session.data_format))
        outputs = session.predict(samples)
        for row in range(len(samples)):
            label = str(path) if len(samples) == 1 else f"{path}[{row}]"
            predictions.append({"input": label, "outputs": [
                _describe(name, values[row], classes if k == 0 else None, top_k)
                for k, (name, values) in enumerate(zip(session.output_names, outputs))
            ]})
    return {"model": str(model), "spec": session.metadata.get("spec_name"), "predictions": predictions}


def _describe(name: str, values: np.ndarray, classes: list[str] | None, top_k: int) -> dict[str, Any]:
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 1:  # a sigmoid or a regression output
        probability = float(values[0])
        result: dict[str, Any] = {"name": name, "values": [probability]}
        if classes and len(classes) == 2:
            result["top"] = [{"label": classes[int(probability > 0.5)], "index": int(probability > 0.5),
                              "probability": probability if probability > 0.5 else 1 - probability}]
        return result
    order = np.argsort(-values)[:top_k]
    names = classes if classes and len(classes) == values.size else [str(i) for i in range(values.size)]
    return {"name": name, "values": values.tolist(),
            "top": [{"label": names[i], "index": int(i), "probability": float(values[i])} for i in order]}
