"""What an export starts from: a run directory (its best weights) or a spec (given or seeded weights)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archspec.errors import ArchspecError
from archspec.spec import Spec, load
from archspec.weights import Weights, init_weights, read_weights


def export_source(source: Path, weights: Path | None) -> tuple[Spec, Weights, str, dict[str, Any], str | None]:
    """(spec, weights, default backend, extra metadata, a note for the user)."""
    if source.is_dir():
        if not (source / "spec.yaml").is_file():
            raise ArchspecError(f"{source}: not a run directory (no spec.yaml); train first or name a spec file")
        spec = load(source / "spec.yaml")
        info = json.loads((source / "run.json").read_text()) if (source / "run.json").is_file() else {}
        arrays = read_weights(weights or source / "weights.safetensors", spec)
        extra = {"run": source.resolve().name}
        if info.get("standardize"):
            extra["standardize"] = info["standardize"]
        from archspec.data.sequences import run_sequence

        sequence = run_sequence(source)
        if sequence:  # a character model's vocabulary, a forecaster's window and scale: what predict needs
            extra["sequence"] = sequence
        return spec, arrays, info.get("backend", "torch"), extra, None
    if not source.exists():
        hint = " (train a spec first, or name a spec file)" if source.name == "latest" else ""
        raise ArchspecError(f"{source}: no such spec file or run directory{hint}")
    spec = load(source)
    if weights is not None:
        return spec, read_weights(weights, spec), "torch", {}, None
    return spec, init_weights(spec, 0), "torch", {}, "no --weights given: exporting seeded initial (untrained) weights"
