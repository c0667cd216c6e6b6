"""`archspec predict`: ONNX inference on files, with class names from the model's metadata.

A run's export carries what its data needed (metadata `sequence`): a character model's
vocabulary, a forecaster's window and scale. Then a .txt file is one text per line (the
model's next character after each line), a CSV is a series (the forecast after its last
window, in the series' units). A model with several inputs takes one file per input by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from archspec.data.inputs import load_samples
from archspec.errors import ArchspecError
from archspec.onnx import Session


def predict_files(model: Path, inputs: list[Path], top_k: int = 3,
                  named: dict[str, Path] | None = None) -> dict[str, Any]:
    """Predictions for files: `inputs` feed a model with one input; `named` (input name -> file) any model."""
    session = Session(model)
    names = [i.name for i in session.inputs]
    if named:
        if inputs:
            raise ArchspecError("give the input files either as INPUT... or as --input NAME=FILE, not both")
        predictions = _predict_named(session, named, top_k)
    else:
        if not inputs:
            raise ArchspecError(f"no input files: give INPUT... or --input NAME=FILE for {', '.join(names)}")
        if len(names) != 1:
            raise ArchspecError(f"{model.name} takes {len(names)} inputs ({', '.join(names)}); feed each one with "
                                "--input NAME=FILE")
        predictions = [item for path in inputs for item in _predict_file(session, path, top_k)]
    return {"model": str(model), "spec": session.metadata.get("spec_name"), "predictions": predictions}


def _is_integer(spec_input) -> bool:
    return spec_input.type in ("tensor(int32)", "tensor(int64)")


def _shape(spec_input) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) else None for d in spec_input.shape[1:])


def _predict_file(session: Session, path: Path, top_k: int) -> list[dict[str, Any]]:
    sequence = session._json("sequence")
    kind = (sequence or {}).get("kind")
    suffix = path.suffix.lower()
    if kind == "text" and suffix == ".txt":
        return _predict_text(session, path, sequence, top_k)
    if kind == "series" and suffix == ".csv":
        return _predict_series(session, path, sequence)
    if suffix == ".txt":
        raise ArchspecError(f"{path}: unsupported input file for this model (.txt lines feed a character model "
                            "exported from a run trained with target next_token; use images, .npy or .csv)")
    spec_input = session.inputs[0]
    samples = load_samples(path, _shape(spec_input), session.data_format, integer=_is_integer(spec_input))
    if kind == "series":
        samples = (samples - np.float32(sequence["mean"])) / np.float32(sequence["std"])
    else:
        samples = session.preprocess(samples) if not _is_integer(spec_input) else samples
    outputs = session.predict(samples)
    return [{"input": str(path) if len(samples) == 1 else f"{path}[{row}]",
             "outputs": _outputs(session, [o[row] for o in outputs], sequence, top_k)} for row in range(len(samples))]


def _predict_named(session: Session, named: dict[str, Path], top_k: int) -> list[dict[str, Any]]:
    names = [i.name for i in session.inputs]
    unknown = sorted(set(named) - set(names))
    if unknown:
        raise ArchspecError(f"--input {unknown[0]}=...: the model has no input '{unknown[0]}' (its inputs: "
                            f"{', '.join(names)})")
    missing = [n for n in names if n not in named]
    if missing:
        raise ArchspecError(f"no file for input{'s' if len(missing) > 1 else ''} {', '.join(missing)}: give one "
                            "--input NAME=FILE per input")
    if len(names) == 1:
        return _predict_file(session, named[names[0]], top_k)
    arrays = []
    for spec_input in session.inputs:
        path = named[spec_input.name]
        if path.suffix.lower() == ".txt":
            raise ArchspecError(f"{path}: a model with several inputs takes .npy, .csv or image files per input")
        array = load_samples(path, _shape(spec_input), session.data_format, integer=_is_integer(spec_input))
        arrays.append(array)
    counts = {spec_input.name: len(a) for spec_input, a in zip(session.inputs, arrays)}
    if len(set(counts.values())) > 1:
        raise ArchspecError(f"the input files hold different numbers of samples: {counts}")
    outputs = session.predict(*arrays)
    label = ", ".join(f"{n}={named[n]}" for n in names)
    n = len(arrays[0])
    return [{"input": label if n == 1 else f"{label} [{row}]",
             "outputs": _outputs(session, [o[row] for o in outputs], None, top_k)} for row in range(n)]


def _predict_text(session: Session, path: Path, sequence: dict[str, Any], top_k: int) -> list[dict[str, Any]]:
    """The next character after each line of the file (its last `window` characters, as generate reads them)."""
    from archspec.data.sequences import encode

    vocabulary = sequence["vocabulary"]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchspecError(f"{path}: cannot read the text as UTF-8 ({exc})") from None
    spec_input = session.inputs[0]
    fixed = _shape(spec_input)[0]
    window = fixed or sequence["window"]
    results = []
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        ids = encode(line, vocabulary, f"{path}:{number}")[-window:]
        feed = np.zeros((1, fixed or len(ids)), np.int64)
        feed[0, : len(ids)] = ids
        values = session.predict(feed)[0][0, len(ids) - 1].astype(np.float64)
        if values.min() < 0 or abs(values.sum() - 1) > 1e-3:  # logits, not a softmax's probabilities
            values = np.exp(values - values.max())
            values /= values.sum()
        results.append({"input": f"{path}:{number}", "text": line, "outputs": [
            _describe(session.output_names[0], values[: len(vocabulary)], [repr(c) for c in vocabulary],
                      top_k)]})
    if not results:
        raise ArchspecError(f"{path}: no text (one sequence per line)")
    return results


def _predict_series(session: Session, path: Path, sequence: dict[str, Any]) -> list[dict[str, Any]]:
    """The forecast that follows the series' last window, in the series' units."""
    from archspec.data.sequences import series_csv

    series = series_csv(path, sequence.get("column"))
    window = sequence["window"]
    if len(series.values) < window:
        raise ArchspecError(f"{path}: the series has {len(series.values)} values; the model reads the last {window}")
    x = ((series.values[-window:] - sequence["mean"]) / sequence["std"]).astype(np.float32)
    x = x.reshape(1, *[window if d is None else d for d in _shape(session.inputs[0])])
    outputs = session.predict(x)
    return [{"input": f"{path} (last {window} values)", "outputs": _outputs(session, [o[0] for o in outputs],
                                                                           sequence, 0)}]


def _outputs(session: Session, values: list[np.ndarray], sequence: dict[str, Any] | None,
             top_k: int) -> list[dict[str, Any]]:
    if sequence and sequence.get("kind") == "series":
        forecast = np.asarray(values[0], np.float64).ravel() * sequence["std"] + sequence["mean"]
        return [{"name": session.output_names[0], "forecast": forecast.tolist(), "unit": sequence.get("unit")}]
    classes = session.classes
    return [_describe(name, v, classes if k == 0 else None, top_k)
            for k, (name, v) in enumerate(zip(session.output_names, values))]


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
