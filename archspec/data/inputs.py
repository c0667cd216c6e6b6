"""Single samples from files, shaped for a model input: images, .npy arrays, CSV rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archspec.errors import ArchspecError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def load_image(path: Path, shape: tuple[int, ...], data_format: str = "channels_last") -> np.ndarray:
    """An image file as one float32 sample in [0, 1], resized and converted to the input's channels."""
    from PIL import Image, UnidentifiedImageError

    if len(shape) != 3:
        raise ArchspecError(f"{path}: the model input has shape {list(shape)}, not an image (height, width, channels)")
    (h, w, c) = (shape[1], shape[2], shape[0]) if data_format == "channels_first" else shape
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(c)
    if mode is None:
        raise ArchspecError(f"{path}: the model takes {c} channels; images have 1, 3 or 4")
    try:
        with Image.open(path) as image:
            image = image.convert(mode)
            if image.size != (w, h):
                image = image.resize((w, h), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as exc:
        raise ArchspecError(f"{path}: not a readable image ({exc})") from None
    array = array[..., None] if array.ndim == 2 else array
    return np.transpose(array, (2, 0, 1)) if data_format == "channels_first" else array


def _fits(got: tuple[int, ...], want: tuple[int | None, ...]) -> bool:
    """A shape against an input's, where None (a free axis) takes any length."""
    return len(got) == len(want) and all(w is None or g == w for g, w in zip(got, want))


def load_array(path: Path, shape: tuple[int | None, ...], integer: bool = False) -> np.ndarray:
    """A .npy file holding one sample or a batch of samples of the input's shape (None: any length),
    as float32, or as int64 for an integer input (token ids)."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ArchspecError(f"{path}: not a readable .npy file ({exc})") from None
    if _fits(array.shape, shape):
        array = array[None]
    elif not _fits(array.shape[1:], shape):
        raise ArchspecError(f"{path}: array of shape {list(array.shape)} does not fit input shape {list(shape)}")
    if not np.issubdtype(array.dtype, np.number):
        raise ArchspecError(f"{path}: array of dtype {array.dtype} is not numeric")
    if integer:
        if not np.issubdtype(array.dtype, np.integer):
            raise ArchspecError(f"{path}: the input takes integer ids, the array holds {array.dtype}")
        return array.astype(np.int64)
    return array.astype(np.float32)


def load_samples(path: Path, shape: tuple[int | None, ...], data_format: str = "channels_last",
                 integer: bool = False) -> np.ndarray:
    """A batch (N, *shape) from an image, a .npy/.npz file or CSV rows; `integer`: the input takes ids."""
    path = Path(path)
    if not path.is_file():
        raise ArchspecError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return load_image(path, shape, data_format)[None]
    if suffix == ".npy":
        return load_array(path, shape, integer)
    if suffix == ".csv":
        if None in shape:
            raise ArchspecError(f"{path}: CSV rows feed inputs of a fixed size, not {list(shape)} (use a .npy file)")
        try:
            rows = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2)
        except ValueError as exc:
            raise ArchspecError(f"{path}: not a numeric CSV file ({exc})") from None
        width = int(np.prod(shape))
        if rows.shape[1] == width + 1:
            rows = rows[:, :width]  # a labelled data file: drop the label column
        if rows.shape[1] != width:
            raise ArchspecError(f"{path}: rows have {rows.shape[1]} values, the model input takes {width}")
        return rows.reshape(len(rows), *shape)
    raise ArchspecError(f"{path}: unsupported input file (use PNG/JPEG images, .npy or .csv)")
