"""`archspec check`: prove that every path computing a spec computes the same function.

Every available path (Keras, PyTorch; the ONNX exports when available) is built from the
same weights and fed the same inputs; every pair of paths is compared output by output.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Callable

import numpy as np

from archspec.errors import ArchspecError
from archspec.spec import Spec
from archspec.weights import Weights, init_weights


def onnx_available() -> bool:
    return bool(importlib.util.find_spec("onnx") and importlib.util.find_spec("onnxruntime"))


def onnx_paths(spec: Spec, weights: Weights, backends: list[str], scratch: str,
               skipped: dict[str, str]) -> list[ComputePath]:
    """onnxruntime on each backend's ONNX export; an exporter that cannot convert the spec is
    recorded in `skipped` (with its reason) rather than failing the whole check."""
    from archspec.export.onnx import export_onnx
    from archspec.onnx import Session

    paths = []
    for backend in backends:
        try:
            file = export_onnx(spec, weights, f"{scratch}/{backend}.onnx", backend=backend)
        except ArchspecError as exc:
            skipped[f"onnx:{backend}"] = exc.problems[0].message
            continue
        session = Session(file)
        paths.append(ComputePath(f"onnx:{backend}", lambda xs, s=session: s.predict(*xs)))
    return paths


def available_backends() -> list[str]:
    names = []
    if importlib.util.find_spec("keras") and importlib.util.find_spec("tensorflow"):
        names.append("keras")
    if importlib.util.find_spec("torch"):
        names.append("torch")
    return names


CHECK_LENGTHS = (1, 7, 64)  # the lengths a free axis takes in a check


def integer_bound(spec: Spec, name: str) -> int:
    """Integers fed to input `name` lie in [0, bound): the smallest vocabulary of the layers that
    take it (Embedding's input_dim), else 2."""
    bounds = [b for n in spec.nodes if name in n.inputs for b in [n.layer.integer_input_bound()] if b is not None]
    return min(bounds, default=2)


def sample_inputs(spec: Spec, batch: int, seed: int, length: int = 7, normal: bool = False) -> list[np.ndarray]:
    """Inputs in the range a user feeds (scaled images, standardised features; integer ids below
    the vocabulary of the Embedding that takes them), `length` on every free axis. `normal`:
    floats drawn from N(0, 1) instead of U(0, 1), negative values included."""
    rng = np.random.default_rng(seed)
    arrays = []
    for i in spec.inputs:
        shape = (batch, *(length if d is None else d for d in i.shape))
        if i.is_integer:
            arrays.append(rng.integers(0, integer_bound(spec, i.name), shape).astype(i.dtype))
        else:
            draw = rng.normal(0.0, 1.0, shape) if normal else rng.uniform(0.0, 1.0, shape)
            arrays.append(draw.astype(np.float32))
    return arrays


def has_free_axis(spec: Spec) -> bool:
    return any(d is None for i in spec.inputs for d in i.shape)


def compare(a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> dict[str, Any]:
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    scale = np.abs(b.astype(np.float64))
    rel = diff / np.maximum(scale, 1e-12)
    return {
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "max_rel_diff": float(rel.max()) if rel.size else 0.0,
        "passed": bool(np.all(diff <= atol + rtol * scale)),
    }


@dataclass
class ComputePath:
    """One way of computing the spec: name -> (predict outputs, per-layer outputs or None)."""

    name: str
    predict: Callable[[list[np.ndarray]], list[np.ndarray]]
    layers: Callable[[list[np.ndarray]], dict[str, np.ndarray]] | None = None


@dataclass
class CheckReport:
    spec: str
    batch: int
    atol: float
    rtol: float
    paths: list[str]
    pairs: list[dict[str, Any]] = field(default_factory=list)
    layers: list[dict[str, Any]] | None = None
    first_divergent_layer: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it could not be built

    @property
    def passed(self) -> bool:
        layers_agree = self.first_divergent_layer is None
        return bool(self.pairs) and all(p["passed"] for p in self.pairs) and layers_agree

    @property
    def max_abs_diff(self) -> float:
        return max((p["max_abs_diff"] for p in self.pairs), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "passed": self.passed,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": max((p["max_rel_diff"] for p in self.pairs), default=0.0),
            "atol": self.atol,
            "rtol": self.rtol,
            "batch": self.batch,
            "paths": self.paths,
            "pairs": self.pairs,
            "layers": self.layers,
            "first_divergent_layer": self.first_divergent_layer,
            "skipped": self.skipped,
        }


def backend_paths(spec: Spec, weights: Weights, backends: list[str]) -> list[ComputePath]:
    paths = []
    for name in backends:
        if name == "keras":
            from archspec.backends import keras as kb

            model = kb.build_model(spec, weights)
            paths.append(ComputePath("keras", lambda xs, m=model: kb.predict(m, xs),
                              lambda xs, m=model: kb.layer_outputs(m, spec, xs)))
        elif name == "torch":
            from archspec.backends import torch as tb

            model = tb.build_model(spec, weights)
            paths.append(ComputePath("torch", lambda xs, m=model: tb.predict(m, xs),
                              lambda xs, m=model: tb.layer_outputs(m, spec, xs)))
    return paths


def run_check(
    spec: Spec,
    weights: Weights | None = None,
    *,
    batch: int = 4,
    atol: float = 1e-5,
    rtol: float = 1e-5,
    layers: bool = False,
    seed: int = 0,
    backends: list[str] | None = None,
    extra_paths: list[ComputePath] | None = None,
    onnx: bool | None = None,
) -> CheckReport:
    """`onnx`: also compare onnxruntime on each backend's export (default: when onnxruntime is installed)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        return _run_check(spec, weights, batch, atol, rtol, layers, seed, backends, extra_paths, onnx, scratch)


def _run_check(spec, weights, batch, atol, rtol, layers, seed, backends, extra_paths, onnx, scratch) -> CheckReport:
    if batch < 1:
        raise ArchspecError("--batch must be at least 1")
    backends = backends if backends is not None else available_backends()
    if weights is None:
        weights = init_weights(spec, seed, randomize_statistics=True)
    paths = backend_paths(spec, weights, backends) + list(extra_paths or [])
    skipped: dict[str, str] = {}
    if onnx if onnx is not None else onnx_available():
        paths += onnx_paths(spec, weights, backends, scratch, skipped)
    if len(paths) < 2:
        raise ArchspecError(
            f"check needs at least two paths to compare, found {[p.name for p in paths] or 'none'}: "
            "install both backends (pip install 'archspec[keras,torch]')"
        )
    lengths = CHECK_LENGTHS if has_free_axis(spec) else (None,)
    feeds = {n: sample_inputs(spec, batch, seed + k, n or 7) for k, n in enumerate(lengths)}
    inputs = feeds[lengths[-1]]
    outputs = {p.name: [p.predict(feeds[n]) for n in lengths] for p in paths}
    report = CheckReport(spec.name, batch, atol, rtol, [p.name for p in paths], skipped=skipped)
    for a, b in combinations(paths, 2):
        per_output = {}
        for k, n in enumerate(lengths):
            for out_name, x, y in zip(spec.outputs, outputs[a.name][k], outputs[b.name][k]):
                per_output[out_name if n is None else f"{out_name} (length {n})"] = compare(x, y, atol, rtol)
        report.pairs.append({
            "a": a.name,
            "b": b.name,
            "max_abs_diff": max(o["max_abs_diff"] for o in per_output.values()),
            "max_rel_diff": max(o["max_rel_diff"] for o in per_output.values()),
            "passed": all(o["passed"] for o in per_output.values()),
            "outputs": per_output,
        })
    if layers:
        with_layers = [p for p in paths if p.layers is not None][:2]
        if len(with_layers) == 2:
            ref, other = (p.layers(inputs) for p in with_layers)
            report.layers = []
            for node in spec.nodes:
                result = {"name": node.name, "type": node.type, **compare(ref[node.name], other[node.name], atol, rtol)}
                report.layers.append(result)
                if not result["passed"] and report.first_divergent_layer is None:
                    report.first_divergent_layer = node.name
    return report


def render_report(report: CheckReport) -> list:
    """Rich renderables for a report: the pairwise table, then what was skipped, diverged and passed."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"archspec check {report.spec}: batch {report.batch}, atol {report.atol:g}, rtol {report.rtol:g}",
                  title_justify="left")
    for col in ("pair", "output", "max |diff|", "max rel diff", ""):
        table.add_column(col, justify="right" if "diff" in col else "left")
    for pair in report.pairs:
        for name, result in pair["outputs"].items():
            mark = "[green]ok[/]" if result["passed"] else "[red]DIFFERS[/]"
            table.add_row(f"{pair['a']} vs {pair['b']}", name, f"{result['max_abs_diff']:.3g}",
                          f"{result['max_rel_diff']:.3g}", mark)
    lines: list = [table]
    lines += [f"[yellow]not compared:[/] {path}: {escape(reason)}" for path, reason in report.skipped.items()]
    if report.layers is not None:
        if report.first_divergent_layer:
            layer = next(r for r in report.layers if r["name"] == report.first_divergent_layer)
            lines.append(f"first divergent layer: [bold]{layer['name']}[/] ({layer['type']}), "
                         f"max |diff| {layer['max_abs_diff']:.3g}")
        else:
            lines.append(f"all {len(report.layers)} layers agree")
    verdict = "[green]passed[/]" if report.passed else "[red]failed[/]"
    lines.append(f"{verdict}: max |diff| {report.max_abs_diff:.3g} across {', '.join(report.paths)}")
    return lines
