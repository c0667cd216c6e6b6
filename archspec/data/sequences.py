"""Sequence data: a series cut into windows to forecast its next values (target `next_value`), a
text cut into windows of characters to predict the next character at every step (`next_token`).

Splits follow time: the first windows train, the next ones validate, the last ones test, and no
window's targets fall among another split's (windows at a boundary are dropped). The training
order of the train windows is shuffled by the loop as for any data; the split never is.

Offline sources: `sunspots` (statsmodels' yearly sunspot numbers, 1700-2008), `python_docs` (the
prose of Python's own help topics, `pydoc_data.topics`, standard library), a CSV series, a text
file (.txt).

What a run needs to read its data again the same way (`fitted`) is JSON: the series' mean and std,
the text's vocabulary (run.json's `sequence`, the vocabulary in vocab.json).
"""

from __future__ import annotations

import csv
import json
import math
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archspec.errors import ArchspecError

VOCABULARY_FILE = "vocab.json"
# python_docs is reduced to printable ASCII and newlines: a vocabulary of 96 characters that does not
# change with the Python version whose help topics are read
ASCII = "\n" + "".join(chr(c) for c in range(32, 127))
_PUNCTUATION = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2026": "...", "\u2018": "'", "\u2019": "'",
                              "\u201c": '"', "\u201d": '"', "\t": "    "})
TEXT_SUFFIXES = (".txt",)


@dataclass
class Series:
    name: str
    values: np.ndarray  # float64 (T,)
    times: np.ndarray  # float64 (T,): years, or the step index
    unit: str


# ---------------------------------------------------------------- sources


def sunspots() -> Series:
    """Yearly mean sunspot numbers 1700-2008 (309 values), as statsmodels ships them."""
    try:
        from statsmodels.datasets import sunspots as dataset
    except ImportError:
        raise ArchspecError("the 'sunspots' series needs statsmodels: pip install statsmodels") from None
    frame = dataset.load_pandas().data
    return Series("sunspots", frame["SUNACTIVITY"].to_numpy(np.float64), frame["YEAR"].to_numpy(np.float64),
                  "sunspot number")


def series_csv(path: Path, column: str | int | None = None) -> Series:
    """One numeric column of a CSV file (a header row is optional); `column` picks one of several."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchspecError(f"{path}: cannot read the CSV series ({exc})") from None
    if not rows:
        raise ArchspecError(f"{path}: the CSV series is empty")
    header = None if all(_is_number(c) for c in rows[0]) else [c.strip() for c in rows[0]]
    body = rows[1:] if header else rows
    width = len(rows[0])
    if column is None:
        if width != 1:
            names = header or list(range(width))
            raise ArchspecError(f"{path}: the CSV has {width} columns {names}; choose the series with "
                                "training.windows.column (a header or a 0-based index)")
        index = 0
    elif isinstance(column, int):
        if not 0 <= column < width:
            raise ArchspecError(f"{path}: column {column} does not exist (the CSV has {width} columns)")
        index = column
    else:
        if header is None or column not in header:
            raise ArchspecError(f"{path}: no column '{column}' (headers: {header or 'none'})")
        index = header.index(column)
    values = []
    for line, row in enumerate(body, start=2 if header else 1):
        cell = row[index].strip() if index < len(row) else ""
        if not _is_number(cell) or not math.isfinite(float(cell)):
            raise ArchspecError(f"{path}:{line}: '{cell}' is not a number (column {index})")
        values.append(float(cell))
    name = header[index] if header else path.stem
    return Series(path.stem, np.asarray(values, np.float64), np.arange(len(values), dtype=np.float64), name)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def python_docs() -> str:
    """The text of Python's help topics (pydoc_data.topics, ~465,000 characters of English prose and code)."""
    from pydoc_data.topics import topics

    return to_ascii("\n\n".join(topics[key] for key in sorted(topics)))


def to_ascii(text: str) -> str:
    """Typographic punctuation to ASCII, accents dropped, other characters outside `ASCII` removed."""
    text = unicodedata.normalize("NFKD", text.translate(_PUNCTUATION)).encode("ascii", "ignore").decode("ascii")
    allowed = set(ASCII)
    return "".join(c for c in text if c in allowed)


def text_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArchspecError(f"{path}: cannot read the text as UTF-8 ({exc})") from None
    if not text:
        raise ArchspecError(f"{path}: the text is empty")
    return text


SERIES_NAMED = {"sunspots": sunspots}
TEXT_NAMED = {"python_docs": python_docs}
NAMED = (*SERIES_NAMED, *TEXT_NAMED)


def is_sequence_source(source: str | Path) -> bool:
    """A named series or text, or a .txt file: data that only the next_value / next_token targets can use."""
    text = str(source)
    return text in NAMED or Path(text).suffix.lower() in TEXT_SUFFIXES


# ---------------------------------------------------------------- the run's vocabulary and scale


def encode(text: str, vocabulary: list[str], where: str) -> np.ndarray:
    """Characters -> ids in the vocabulary, or which characters it lacks."""
    index = {c: i for i, c in enumerate(vocabulary)}
    unknown = sorted({c for c in text if c not in index})
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        raise ArchspecError(f"{where}: {len(unknown)} character{'s' if len(unknown) > 1 else ''} not in the "
                            f"vocabulary of {len(vocabulary)}: {shown}")
    return np.fromiter((index[c] for c in text), np.int64, len(text))


def decode(ids, vocabulary: list[str]) -> str:
    return "".join(vocabulary[int(i)] for i in ids)


def run_sequence(run: Path) -> dict[str, Any] | None:
    """run.json's `sequence` (window, series scale, ...), with the vocabulary from vocab.json for a text."""
    info_file = run / "run.json"
    if not info_file.is_file():
        return None
    info = json.loads(info_file.read_text()).get("sequence")
    if info and info.get("kind") == "text":
        vocabulary_file = run / VOCABULARY_FILE
        if not vocabulary_file.is_file():
            raise ArchspecError(f"{run}: a text model's run needs its {VOCABULARY_FILE}; it is missing")
        info = {**info, "vocabulary": json.loads(vocabulary_file.read_text(encoding="utf-8"))}
    return info


# ---------------------------------------------------------------- windows


def _window_length(spec, windows, where: str) -> int:
    shape = spec.inputs[0].shape
    fixed, wanted = shape[0], windows.length if windows else None
    if fixed is not None and wanted is not None and fixed != wanted:
        raise ArchspecError(f"{where}: training.windows.length is {wanted}, but input '{spec.inputs[0].name}' "
                            f"takes {fixed} steps")
    if fixed is None and wanted is None:
        raise ArchspecError(f"{where}: input '{spec.inputs[0].name}' takes any number of steps; set "
                            "training.windows.length (the steps of a training window)")
    return fixed if fixed is not None else wanted


def _split(first_target: np.ndarray, last_target: np.ndarray, test_split: float,
           validation_split: float) -> list[np.ndarray]:
    """Train / validation / test window indices in time order; a window is dropped where its targets
    would reach the next split's first target."""
    n = len(first_target)
    n_test = max(1, int(round(n * test_split)))
    n_val = max(1, int(round((n - n_test) * validation_split))) if validation_split else 0
    bounds = [0, n - n_test - n_val, n - n_test, n]
    parts = [np.arange(bounds[k], bounds[k + 1]) for k in range(3)]
    for k in range(2):
        following = next((p for p in parts[k + 1:] if len(p)), None)
        if following is not None and len(parts[k]):
            parts[k] = parts[k][last_target[parts[k]] < first_target[following[0]]]
    if min(len(parts[0]), len(parts[2])) == 0 or (validation_split and not len(parts[1])):
        raise ArchspecError(f"{n} windows are too few to split into train, validation and test in time order; "
                            "use a longer series or text, shorter windows or a smaller stride")
    return parts


def load_sequences(source: str | Path, spec, target: str, windows=None, *, test_split: float = 0.2,
                   validation_split: float = 0.0, limit: int | None = None, fitted: dict[str, Any] | None = None):
    """`archspec.data.Data` of windows for a spec whose one output has the target next_token or next_value.

    `fitted` (a run's `sequence`) reuses that run's vocabulary or scale instead of fitting them."""
    from archspec.data import Data, Split

    where = f"data '{source}'"
    if len(spec.inputs) != 1 or len(spec.outputs) != 1:
        raise ArchspecError(f"{spec.name}: target {target} trains a model with one input and one output, not "
                            f"{len(spec.inputs)} and {len(spec.outputs)}")
    length = _window_length(spec, windows, where)
    if target == "next_value":
        series = _read_series(source, windows)
        parts, info = _series_windows(series, spec, length, windows, test_split, validation_split, fitted, where)
    else:
        text = _read_text(source)
        parts, info = _text_windows(text, str(source), spec, length, windows, test_split, validation_split, fitted,
                                    where)
    splits = [Split([x], y, {"time": t}) for x, y, t in parts]
    train, val, test = splits
    if limit is not None:
        train = train.take(np.arange(min(limit, len(train))))
        val = val.take(np.arange(min(max(1, limit // 4), len(val))))
        test = test.take(np.arange(min(max(1, limit // 4), len(test))))
    data = Data(info["name"], train, test, val if len(val) else None)
    data.sequence = info
    return data


def _read_series(source: str | Path, windows) -> Series:
    text = str(source)
    if text in SERIES_NAMED:
        return SERIES_NAMED[text]()
    if text in TEXT_NAMED:
        raise ArchspecError(f"data '{text}' is a text: its target is next_token, not next_value")
    path = Path(text)
    if path.suffix.lower() != ".csv" or not path.is_file():
        raise ArchspecError(f"data '{text}': target next_value reads a series: a CSV file or "
                            f"{', '.join(repr(n) for n in SERIES_NAMED)}")
    return series_csv(path, windows.column if windows else None)


def _read_text(source: str | Path) -> str:
    text = str(source)
    if text in TEXT_NAMED:
        return TEXT_NAMED[text]()
    if text in SERIES_NAMED:
        raise ArchspecError(f"data '{text}' is a series: its target is next_value, not next_token")
    path = Path(text)
    if path.suffix.lower() not in TEXT_SUFFIXES or not path.is_file():
        raise ArchspecError(f"data '{text}': target next_token reads a text: a .txt file or "
                            f"{', '.join(repr(n) for n in TEXT_NAMED)}")
    return text_file(path)


def _series_windows(series: Series, spec, length: int, windows, test_split, validation_split, fitted, where):
    input_shape, output_shape = spec.inputs[0].shape, spec.shape_of(spec.outputs[0])
    if spec.inputs[0].is_integer or len(input_shape) not in (1, 2) or (len(input_shape) == 2 and input_shape[1] != 1):
        raise ArchspecError(f"{where}: a series feeds an input of shape [steps] or [steps, 1] (float32), not "
                            f"{list(input_shape)} ({spec.inputs[0].dtype})")
    if len(output_shape) != 1:
        raise ArchspecError(f"{where}: target next_value needs an output of shape [horizon], not {list(output_shape)}")
    horizon = output_shape[0]
    if windows is not None and windows.horizon is not None and windows.horizon != horizon:
        raise ArchspecError(f"{where}: training.windows.horizon is {windows.horizon}, but output "
                            f"'{spec.outputs[0]}' gives {horizon} values")
    stride = windows.stride if windows and windows.stride else 1
    starts = np.arange(0, len(series.values) - length - horizon + 1, stride)
    if len(starts) < 3:
        raise ArchspecError(f"{where}: {len(series.values)} values make {len(starts)} windows of {length} steps and "
                            f"{horizon} to forecast; a series needs at least {length + horizon + 2}")
    parts = _split(starts + length, starts + length + horizon - 1, test_split, validation_split)
    if fitted is not None:
        mean, std = fitted["mean"], fitted["std"]
    elif windows is not None and windows.normalize == "none":
        mean, std = 0.0, 1.0
    else:  # the values the training windows see, inputs and targets
        seen = series.values[: int(starts[parts[0][-1]]) + length + horizon]
        mean, std = float(seen.mean()), float(seen.std()) or 1.0
    scaled = ((series.values - mean) / std).astype(np.float32)
    steps = np.arange(length)
    ahead = np.arange(horizon)
    out = []
    for part in parts:
        begin = starts[part]
        x = scaled[begin[:, None] + steps]
        y = scaled[begin[:, None] + length + ahead]
        out.append((x if len(input_shape) == 1 else x[..., None], y, series.times[begin + length]))
    info = {"kind": "series", "target": "next_value", "name": series.name, "unit": series.unit, "window": length,
            "horizon": horizon, "stride": stride, "mean": mean, "std": std,
            "column": windows.column if windows is not None else None}
    return out, info


def _text_windows(text: str, source: str, spec, length: int, windows, test_split, validation_split, fitted, where):
    input_shape, output_shape = spec.inputs[0].shape, spec.shape_of(spec.outputs[0])
    if not spec.inputs[0].is_integer or len(input_shape) != 1:
        raise ArchspecError(f"{where}: a text feeds character ids to an integer input of shape [steps] (dtype: int32), "
                            f"not {list(input_shape)} ({spec.inputs[0].dtype})")
    if len(output_shape) != 2 or output_shape[0] != input_shape[0]:
        raise ArchspecError(f"{where}: target next_token needs an output with a class per input step, "
                            f"[{input_shape[0]}, vocabulary], not {list(output_shape)}")
    if fitted is not None:
        vocabulary = list(fitted["vocabulary"])
    elif source in TEXT_NAMED:
        vocabulary = list(ASCII)
    else:
        vocabulary = sorted(set(text))
    if output_shape[1] < len(vocabulary):
        raise ArchspecError(f"{where}: the text has a vocabulary of {len(vocabulary)} characters, but output "
                            f"'{spec.outputs[0]}' gives {output_shape[1]} classes per step")
    bounds = [n.layer.integer_input_bound() for n in spec.nodes if spec.inputs[0].name in n.inputs]
    bound = min((b for b in bounds if b is not None), default=None)
    if bound is not None and bound < len(vocabulary):
        raise ArchspecError(f"{where}: the text has a vocabulary of {len(vocabulary)} characters, but the layer that "
                            f"reads input '{spec.inputs[0].name}' takes ids below {bound} (its input_dim)")
    ids = encode(text, vocabulary, where)
    stride = windows.stride if windows and windows.stride else length
    starts = np.arange(0, len(ids) - length, stride)
    if len(starts) < 3:
        raise ArchspecError(f"{where}: {len(ids)} characters make {len(starts)} windows of {length}; a text needs "
                            f"at least {3 * length + 1}")
    parts = _split(starts + 1, starts + length, test_split, validation_split)
    dtype = np.int64 if spec.inputs[0].dtype == "int64" else np.int32
    steps = np.arange(length)
    out = []
    for part in parts:
        begin = starts[part]
        window = ids[begin[:, None] + steps]
        out.append((window.astype(dtype), ids[begin[:, None] + steps + 1], begin.astype(np.float64)))
    name = source if source in TEXT_NAMED else Path(source).stem
    info = {"kind": "text", "target": "next_token", "name": name, "window": length, "stride": stride,
            "vocabulary": vocabulary}
    return out, info
