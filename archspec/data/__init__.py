"""Data for training and evaluation: sources, and their preparation for a spec's inputs.

`load_data(source, spec, ...)` returns train / validation / test splits whose inputs have
the model's per-sample shape and layout (float32), and whose targets follow the spec's
outputs. Splits are drawn with a seed, so both backends see the very same samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archspec.data import sequences, sources
from archspec.data.sources import RawData
from archspec.errors import ArchspecError, suggest
from archspec.spec import Spec

NAMED = {"mnist5k": sources.mnist5k, "digits": sources.digits, "shapes": sources.shapes, "pima": sources.pima}
KERAS_NAMED = ("mnist", "fashion_mnist")


@dataclass
class Split:
    x: list[np.ndarray]  # one array per model input, float32, the model's layout
    labels: np.ndarray  # the source's labels (ints for classification)
    # per-sample arrays beside the labels, named after the target that uses them: "mask" (per-pixel
    # classes (N, H, W), 0 = background) and "input" (the clean inputs, where x holds noisy ones)
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> "Split":
        return Split([a[index] for a in self.x], self.labels[index], {k: v[index] for k, v in self.extras.items()})


@dataclass
class Data:
    name: str
    train: Split
    test: Split
    val: Split | None = None
    classes: list[str] | None = None
    standardize: dict[str, list[float]] | None = None  # mean/std per feature, fitted on train
    # windows of a text or a series (archspec.data.sequences): window, vocabulary or the series' scale
    sequence: dict[str, Any] | None = None


def read_source(source: str | Path, spec: Spec | None = None) -> RawData:
    """Named data set or path -> raw arrays."""
    text = str(source)
    if text == "shapes" and spec is not None and len(spec.inputs[0].shape) == 3:
        return _shapes_for(spec)
    if text in NAMED:
        return NAMED[text]()
    if text in KERAS_NAMED:
        return sources.keras_dataset(text)
    if sequences.is_sequence_source(text):
        kind = "a series: training.targets: {<output>: next_value}" if text in sequences.SERIES_NAMED else \
            "a text: training.targets: {<output>: next_token}"
        raise ArchspecError(f"data '{text}' is {kind} cuts it into windows")
    path = Path(text)
    if not path.exists():
        hint = suggest(text, [*NAMED, *KERAS_NAMED, *sequences.NAMED])
        raise ArchspecError(
            f"data '{text}' is neither a file, a folder nor a known data set{hint}; "
            f"known: {', '.join([*NAMED, *KERAS_NAMED, *sequences.NAMED])}"
        )
    if path.is_dir():
        if any(sources._find(path, stem) for stem in sources._IDX_FILES[:1]):
            name = "fashion_mnist" if "fashion" in path.name.lower() else "mnist"
            return sources.idx_directory(path, name, sources.FASHION_CLASSES if name == "fashion_mnist"
                                         else sources.DIGIT_CLASSES)
        size = channels = None
        if spec is not None and len(spec.inputs[0].shape) == 3:
            shape = spec.inputs[0].shape
            size, channels = (shape[1:], shape[0]) if spec.data_format == "channels_first" else (shape[:2], shape[2])
        return sources.image_folder(path, size, channels)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return sources.csv_file(path)
    if suffix == ".npz":
        return sources.npz_file(path)
    if suffix in (".gz",) or "idx" in path.name:
        raise ArchspecError(f"{path}: pass the folder that holds the four IDX files, not one file")
    raise ArchspecError(f"{path}: unsupported data file (use .csv, .npz, an image folder or an IDX folder)")


def _shapes_for(spec: Spec) -> RawData:
    """The generated shapes, drawn at the model's (square) input size, in grey for one channel."""
    shape = spec.inputs[0].shape
    (h, w), channels = (shape[1:], shape[0]) if spec.data_format == "channels_first" else (shape[:2], shape[2])
    raw = sources.shapes(size=h) if h == w else sources.shapes()
    if channels == 1:
        grey = raw.x.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        raw.x = np.clip(np.round(grey), 0, 255).astype(np.uint8)[..., None]
    return raw


def fit_input(x: np.ndarray, spec: Spec, where: str) -> np.ndarray:
    """Reshape or transpose a source's samples to the model's input shape, or explain why not."""
    target = spec.inputs[0].shape
    got = x.shape[1:]
    if got == target:
        return x
    if len(got) == 2 and len(target) == 3:
        if spec.data_format == "channels_last" and target == (*got, 1):
            return x[..., None]
        if spec.data_format == "channels_first" and target == (1, *got):
            return x[:, None]
    if len(got) == 3 and spec.data_format == "channels_first" and target == (got[2], got[0], got[1]):
        return np.transpose(x, (0, 3, 1, 2))
    raise ArchspecError(
        f"{where}: samples have shape {list(got)}, but input '{spec.inputs[0].name}' of {spec.name} takes {list(target)}"
    )


def check_labels(labels: np.ndarray, classes: int | None, where: str) -> None:
    if labels.ndim != 1:
        return
    if not np.issubdtype(labels.dtype, np.integer):
        return
    if labels.min() < 0 or (classes is not None and labels.max() >= classes):
        raise ArchspecError(
            f"{where}: labels run from {labels.min()} to {labels.max()}, but the model has {classes} classes"
        )


def _keep(raw: RawData, keep: list[int]) -> RawData:
    """Only the samples of these labels, renumbered 0..k-1 in the given order (masks: 1..k)."""
    lookup = np.full(int(max(keep)) + 1, -1)
    lookup[keep] = np.arange(len(keep))
    mask_lookup = np.concatenate([[0], lookup + 1]).astype(np.uint8)  # 0 stays the background

    def select(x, y, masks=None):
        chosen = np.isin(y, keep)
        return x[chosen], lookup[y[chosen]].astype(np.int64), None if masks is None else mask_lookup[masks[chosen]]

    x, y, masks = select(raw.x, raw.y, raw.masks)
    classes = [raw.classes[k] for k in keep] if raw.classes else None
    kept = RawData(raw.name, x, y, classes, raw.scale, masks=masks)
    if raw.x_test is not None:
        kept.x_test, kept.y_test, kept.masks_test = select(raw.x_test, raw.y_test, raw.masks_test)
    return kept


LABEL_TARGETS = ("label", "one_hot")  # targets whose values are the labels, checked against the output's units


def _extras(raw: RawData, wanted: set[str], where: str, test: bool = False) -> dict[str, np.ndarray]:
    """The arrays the targets need besides the labels (per-pixel masks), or why the data lacks them."""
    if "mask" not in wanted:
        return {}
    masks = raw.masks_test if test else raw.masks
    if masks is None:
        raise ArchspecError(
            f"{where} has no per-pixel masks, but training.targets asks for 'mask' (the generated 'shapes' data "
            "has them: data: shapes)"
        )
    return {"mask": masks}


def add_noise(split: Split, stddev: float, clip: tuple[float, float] | None, seed: list[int]) -> Split:
    """Gaussian noise on the (first) input, fixed per sample and seeded, the clean input kept as extras['input'].

    keras.io's denoising autoencoder: x + noise_factor * N(0, 1), clipped to [0, 1]. The noise of
    sample i does not depend on how many samples follow it (--limit keeps the first ones' noise)."""
    clean = split.x[0]
    rng = np.random.default_rng(seed)
    noisy = clean + np.float32(stddev) * rng.standard_normal(clean.shape, dtype=np.float32)
    if clip is not None:
        noisy = np.clip(noisy, np.float32(clip[0]), np.float32(clip[1]))
    return Split([noisy.astype(np.float32), *split.x[1:]], split.labels, {**split.extras, "input": clean})


def load_data(
    source: str | Path,
    spec: Spec,
    *,
    test_split: float = 0.2,
    validation_split: float = 0.0,
    standardize: bool = False,
    seed: int = 0,
    limit: int | None = None,
    keep_labels: list[int] | None = None,
    validation_source: str | Path | None = None,
    targets: dict[str, str] | None = None,
    input_noise: Any = None,
    windows: Any = None,
    fitted: dict[str, Any] | None = None,
) -> Data:
    """`targets` (output -> target name, training.targets) says what the splits carry besides labels:
    per-pixel masks for 'mask'. `input_noise` (training.input_noise: `stddev`, `clip`) adds seeded
    Gaussian noise to every split's inputs, keeping the clean ones for the 'input' target.

    The targets next_token and next_value cut a text or a series into windows (training.windows),
    split in time order (archspec.data.sequences); `fitted`: a run's vocabulary or scale to reuse."""
    target = next((t for t in (targets or {}).values() if t in ("next_token", "next_value")), None)
    if target is not None:
        if validation_source is not None:
            raise ArchspecError(f"target {target}: the validation windows are cut from the same text or series, "
                                "after the training ones; validation_data does not apply (use validation_split)")
        return sequences.load_sequences(source, spec, target, windows, test_split=test_split,
                                        validation_split=validation_split, limit=limit, fitted=fitted)
    if len(spec.inputs) != 1:
        raise ArchspecError(f"{spec.name} has {len(spec.inputs)} inputs; training data sets feed one input")
    raw = read_source(source, spec)
    where = f"data '{source}'"
    targets = targets or {}
    wanted = set(targets.values())
    if keep_labels:
        raw = _keep(raw, keep_labels)
    full = Split([fit_input(raw.x, spec, where)], raw.y, _extras(raw, wanted, where))
    scale = raw.scale
    rng = np.random.default_rng(seed)
    if raw.x_test is not None:
        test = Split([fit_input(raw.x_test, spec, where)], raw.y_test, _extras(raw, wanted, where, test=True))
        train = full.take(rng.permutation(len(full)))
    else:
        if not 0.0 < test_split < 1.0:
            raise ArchspecError(f"test_split must be between 0 and 1, got {test_split}")
        order = rng.permutation(len(full))
        n_test = max(1, int(round(len(full) * test_split)))
        test, train = full.take(order[:n_test]), full.take(order[n_test:])
    if limit is not None:
        train = train.take(np.arange(min(limit, len(train))))
        test = test.take(np.arange(min(max(1, limit // 4), len(test))))
    classes = raw.classes
    units = spec.shape_of(spec.outputs[0])[-1]
    if targets.get(spec.outputs[0], "label") in LABEL_TARGETS:
        check_labels(np.concatenate([train.labels, test.labels]), units if units > 1 else 2, where)

    def floats(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float32)
        return a * np.float32(scale) if scale else a

    train.x, test.x = [floats(train.x[0])], [floats(test.x[0])]
    val = None
    if validation_source is not None:  # a validation set of its own (like a separate test folder)
        raw_val = read_source(validation_source, spec)
        raw_val = _keep(raw_val, keep_labels) if keep_labels else raw_val
        val_where = f"validation data '{validation_source}'"
        val = Split([floats(fit_input(raw_val.x, spec, val_where))], raw_val.y, _extras(raw_val, wanted, val_where))
        if targets.get(spec.outputs[0], "label") in LABEL_TARGETS:
            check_labels(val.labels, units if units > 1 else 2, val_where)
    stats = None
    if standardize:
        x = train.x[0]
        mean, std = x.mean(axis=0), x.std(axis=0)
        std = np.where(std > 0, std, 1.0).astype(np.float32)
        for split in (train, test, val):
            if split is not None:
                split.x = [(split.x[0] - mean) / std]
        stats = {"mean": mean.ravel().tolist(), "std": std.ravel().tolist()}
    if input_noise is not None and input_noise.stddev > 0:
        clip = tuple(input_noise.clip) if input_noise.clip is not None else None
        train = add_noise(train, input_noise.stddev, clip, [seed, 1])
        test = add_noise(test, input_noise.stddev, clip, [seed, 2])
        val = add_noise(val, input_noise.stddev, clip, [seed, 3]) if val is not None else None
    if validation_split and val is None:
        if not 0.0 < validation_split < 1.0:
            raise ArchspecError(f"validation_split must be between 0 and 1, got {validation_split}")
        n_val = max(1, int(round(len(train) * validation_split)))
        # like Keras's fit(validation_split=...): the last samples, before any shuffling
        val = train.take(np.arange(len(train) - n_val, len(train)))
        train = train.take(np.arange(len(train) - n_val))
    return Data(raw.name, train, test, val, spec.classes or classes, stats)
