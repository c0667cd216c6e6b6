"""ImageDataGenerator's random transforms in numpy, so both backends see identical batches.

Same parameter meanings as keras.preprocessing.image.ImageDataGenerator: one random affine
transform per image (rotation, shifts, shear, zoom, then flips) around the image centre,
resampled linearly (scipy.ndimage, order 1) with the given fill mode.
"""

from __future__ import annotations

import math

import numpy as np

from archspec.train.config import Augmentation


def _transform(config: Augmentation, rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, bool, bool]:
    """A random output->input matrix (in row, column coordinates) and the two flip decisions."""
    low, high = config.zoom_bounds
    theta = math.radians(rng.uniform(-config.rotation_range, config.rotation_range)) if config.rotation_range else 0.0
    tx = rng.uniform(-config.height_shift_range, config.height_shift_range) * h if config.height_shift_range else 0.0
    ty = rng.uniform(-config.width_shift_range, config.width_shift_range) * w if config.width_shift_range else 0.0
    shear = math.radians(rng.uniform(-config.shear_range, config.shear_range)) if config.shear_range else 0.0
    zx, zy = rng.uniform(low, high, 2) if (low, high) != (1.0, 1.0) else (1.0, 1.0)
    matrix = np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    matrix = matrix @ np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    matrix = matrix @ np.array([[1, -math.sin(shear), 0], [0, math.cos(shear), 0], [0, 0, 1]])
    matrix = matrix @ np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    # around the centre, as Keras's transform_matrix_offset_center does
    cx, cy = h / 2 - 0.5, w / 2 - 0.5
    matrix = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]]) @ matrix @ np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    flip_h = bool(config.horizontal_flip and rng.random() < 0.5)
    flip_v = bool(config.vertical_flip and rng.random() < 0.5)
    return matrix, flip_h, flip_v


def augment_batch(images: np.ndarray, config: Augmentation, rng: np.random.Generator, channels_first: bool) -> np.ndarray:
    from scipy import ndimage

    if channels_first:
        images = np.moveaxis(images, 1, -1)
    n, h, w, channels = images.shape
    out = np.empty_like(images)
    for i in range(n):
        matrix, flip_h, flip_v = _transform(config, rng, h, w)
        for c in range(channels):
            out[i, ..., c] = ndimage.affine_transform(images[i, ..., c], matrix[:2, :2], matrix[:2, 2], order=1,
                                                      mode=config.fill_mode, cval=config.cval)
        if flip_h:
            out[i] = out[i][:, ::-1]
        if flip_v:
            out[i] = out[i][::-1]
    return np.moveaxis(out, -1, 1) if channels_first else out
