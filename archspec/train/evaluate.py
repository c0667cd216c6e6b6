"""Looking at a finished run: re-evaluation, history, weights, feature maps."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from archspec.errors import ArchspecError, suggest
from archspec.spec import Spec, load
from archspec.train.config import Training
from archspec.train.loop import resolve_run
from archspec.weights import Weights, read_weights


def run_info(run: Path) -> tuple[Spec, dict, Training]:
    spec = load(run / "spec.yaml")
    info = json.loads((run / "run.json").read_text())
    return spec, info, Training.model_validate(info["training"])


def evaluate_run(run: str | Path, data: str | None = None, weights: str | Path | None = None,
                 onnx: str | Path | None = None) -> dict:
    """Test metrics of a run's best weights, or of an ONNX export of it run in onnxruntime."""
    from archspec.train.loop import Trainer, prepare_data

    directory = resolve_run(run)
    spec, info, training = run_info(directory)
    from archspec.data.sequences import run_sequence

    prepared = prepare_data(spec, training, data or info.get("data_source"), fitted=run_sequence(directory))
    if onnx is not None:
        from archspec.onnx import Session
        from archspec.train.objectives import evaluate_outputs, make_targets, plan_outputs

        plans = plan_outputs(spec, training)
        outputs = Session(onnx).predict(*prepared.test.x)
        results = evaluate_outputs(plans, make_targets(plans, prepared.test), outputs)
        return {**{f"test_{k}": v for k, v in results.items()}, "test_samples": len(prepared.test)}
    best = read_weights(weights or directory / "weights.safetensors", spec)
    trainer = Trainer(spec, info["backend"], training, prepared, directory, initial_weights=best)
    results = trainer.evaluate("test")
    return {**{f"test_{k}": v for k, v in results.items()}, "test_samples": len(prepared.test)}


def read_history(run: Path) -> list[dict[str, float]]:
    path = run / "history.csv"
    if not path.is_file():
        raise ArchspecError(f"{run}: no history.csv (the run has not finished an epoch)")
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]


def _layer(spec: Spec, name: str):
    names = [n.name for n in spec.nodes]
    if name not in names:
        raise ArchspecError(f"{spec.name} has no layer '{name}'{suggest(name, names)}")
    return spec.node(name)


def layer_weights(run: str | Path, layer: str) -> tuple[Path, Weights]:
    directory = resolve_run(run)
    spec, _, _ = run_info(directory)
    node = _layer(spec, layer)
    if not node.weights:
        raise ArchspecError(f"layer '{layer}' ({node.type}) has no weights")
    weights = read_weights(directory / "weights.safetensors", spec)
    return directory, {w.name: weights[f"{layer}/{w.name}"] for w in node.weights}


def feature_maps(run: str | Path, layer: str, image: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """(run dir, the layer's output for the image as (H, W, C), the image as the model saw it)."""
    from archspec.data.inputs import load_samples

    directory = resolve_run(run)
    spec, info, _ = run_info(directory)
    node = _layer(spec, layer)
    if len(node.output_shape) != 3:
        raise ArchspecError(f"layer '{layer}' outputs {list(node.output_shape)}, not feature maps (H, W, C)")
    sample = load_samples(image, spec.inputs[0].shape, spec.data_format)[:1]
    weights = read_weights(directory / "weights.safetensors", spec)
    backend = info.get("backend", "torch")
    if backend == "torch":
        from archspec.backends.torch import build_model, layer_outputs
    else:
        from archspec.backends.keras import build_model, layer_outputs
    model = build_model(spec, weights)
    maps = layer_outputs(model, spec, [sample])[layer][0]
    shown = sample[0]
    if spec.data_format == "channels_first":
        maps, shown = np.moveaxis(maps, 0, -1), np.moveaxis(shown, 0, -1)
    return directory, maps, shown
