"""What the image preprocessing layers share (Keras's `BaseImagePreprocessingLayer`).

- Their inputs are images: (height, width, channels) per sample, or (channels, height,
  width) in a channels_first spec.
- Keras's resize (`keras.ops.image.resize` with TensorFlow): half-pixel centres, the
  aspect-ratio crop and pad of `Resizing`, used by Resizing and CenterCrop.
- The random augmentation layers (RandomFlip, RandomRotation, ...): they change their inputs
  while training only and are the identity at inference. Keras cannot export them to ONNX
  (keras-team/keras#21346), so the model built for ONNX export has `keras.layers.Identity`
  in their place, which is what they compute at inference; the PyTorch module is the identity
  in eval mode, so `torch.export` sees the identity too.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from archspec.layers.base import DataFormat, Layer, Shape, image, require_rank, spatial

FillMode = Literal["reflect", "wrap", "constant", "nearest"]


# why the Keras exporter refuses the layers that resize with Keras's image ops
RESIZE_BREAKS_TF2ONNX = ("tf2onnx mis-converts every BatchNormalization of a model that holds Keras's resize "
                         "(its graph has a tf.cond)")


def image_size(shape: Shape, data_format: DataFormat) -> tuple[int, int, int]:
    """(height, width, channels) of an image-like per-sample shape."""
    require_rank(shape, 3, "an image (height, width, channels)")
    (height, width), channels = spatial(shape, data_format)
    return height, width, channels


def aspect_crop(height: int, width: int, target_height: int, target_width: int,
                dtype: Any = np.float32) -> tuple[int, int, int, int]:
    """Keras's crop to the target's aspect ratio: (top, crop height, left, crop width).

    `Resizing` computes it in float32 tensors; CenterCrop's `smart_resize`, with static sizes,
    in Python floats (`dtype=float`): the arithmetic is copied so that the pixel counts agree.
    """
    crop_height = max(min(height, int(dtype(width * target_height) / dtype(target_width))), 1)
    crop_width = max(min(width, int(dtype(height * target_width) / dtype(target_height))), 1)
    return (int(dtype(height - crop_height) / dtype(2)), crop_height,
            int(dtype(width - crop_width) / dtype(2)), crop_width)


def aspect_pad(height: int, width: int, target_height: int, target_width: int) -> tuple[int, int]:
    """Keras's pad to the target's aspect ratio: (rows, columns) added on each side."""
    pad_height = max(height, int(np.float32(width * target_height) / np.float32(target_width)))
    pad_width = max(width, int(np.float32(height * target_width) / np.float32(target_height)))
    return int(np.float32(pad_height - height) / np.float32(2)), int(np.float32(pad_width - width) / np.float32(2))


def torch_resize(x, size: tuple[int, int], interpolation: str, antialias: bool = False):
    """`tf.image.resize` of a channels-first batch: half-pixel centres for both methods
    (TensorFlow's nearest is floor((i + 0.5) * scale), PyTorch's "nearest-exact")."""
    import torch.nn.functional as F

    if interpolation == "nearest":
        return F.interpolate(x, size=size, mode="nearest-exact")
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)


# ---------------------------------------------------------------- random augmentation


def factor_bounds(factor: float | tuple[float, float], low: float, high: float,
                  what: str = "factor") -> tuple[float, float]:
    """Keras's (lower, upper) from a factor (`BaseImagePreprocessingLayer._set_factor`).

    A number f in [low, high] gives (max(-|f|, low), |f|); a pair is sorted, and refused only
    when it lies wholly outside [low, high].
    """
    if isinstance(factor, (tuple, list)):
        if factor[0] > high or factor[1] < low:
            raise ValueError(f"{what} must be a number or a pair in [{low}, {high}], got {list(factor)}")
        lower, upper = sorted(factor)
        return lower, upper
    if not low <= factor <= high:
        raise ValueError(f"{what} must be a number or a pair in [{low}, {high}], got {factor}")
    return max(-abs(factor), low), abs(factor)


def shift_bounds(factor: float | tuple[float, float], low: float, high: float, what: str,
                 low_inclusive: bool = True) -> tuple[float, float]:
    """RandomZoom's and RandomTranslation's (lower, upper): every value in range, a number f gives
    (-|f|, |f|), a pair is sorted."""
    values = list(factor) if isinstance(factor, (tuple, list)) else [factor]
    for value in values:
        if value > high or value < low or (value == low and not low_inclusive):
            raise ValueError(f"{what} values must be in {'[' if low_inclusive else '('}{low}, {high}], got {value}")
    if isinstance(factor, (tuple, list)):
        lower, upper = sorted(factor)
        return lower, upper
    return -abs(factor), abs(factor)


Factor = float | tuple[float, float]  # a number f for [-f, f], or [lower, upper]


class BaseRandomImageLayer(Layer):
    """A random image augmentation: subclasses implement `augment` (channels-first batch).

    Args:
        seed: seed of the layer's random draws (Keras's SeedGenerator; PyTorch gives the layer
            its own generator seeded with it).

    Input and output shape: (batch, height, width, channels) for channels_last.
    """

    stochastic = True
    torch_layout_default = "channels_first"

    seed: int | None = Field(None, description="Seed of the random draws; none: a different sequence each run.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        height, width, channels = image_size(input_shapes[0], data_format)
        return image((height, width), channels, data_format)

    def keras_config(self, data_format):
        config = self.model_dump(exclude={"name", "inputs", "trainable"})
        # every image preprocessing layer takes data_format, some only through **kwargs (which
        # the generic builder does not pass)
        config["data_format"] = data_format
        return config

    def keras_layer(self, data_format, name):
        from archspec.backends.keras.layers import FOR_EXPORT

        if FOR_EXPORT.get():  # what the layer computes at inference, which tf2onnx can convert
            import keras

            return keras.layers.Identity(name=name)
        return super().keras_layer(data_format, name)

    def torch_forward(self, module, x):
        if not module.training:
            return x
        return self.augment(module, x)

    def augment(self, module, x):  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def uniform(self, module, shape: tuple[int, ...], low: float, high: float, like):
        """Uniform draws in [low, high) from the layer's generator (seeded) or torch's."""
        import torch

        if self.seed is None:
            draws = torch.rand(shape, device=like.device, dtype=like.dtype)
        else:
            generator = getattr(module, "generator", None)
            if generator is None or generator.device != like.device:
                generator = torch.Generator(device=like.device)
                generator.manual_seed(self.seed)
                module.generator = generator
            draws = torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype)
        return low + (high - low) * draws


def affine_transform(x, transform, interpolation: str, fill_mode: str, fill_value: float):
    """TensorFlow's ImageProjectiveTransformV3 (`keras.ops.image.affine_transform`) on a
    channels-first batch, for the affine transforms Keras's augmentations draw.

    `transform` is (batch, 6): output pixel (x, y) (integer coordinates, no half-pixel shift)
    reads the input at (a0 x + a1 y + a2, b0 x + b1 y + b2). Coordinates outside the image are
    mapped back by `fill_mode` (reflect: dcba|abcd|dcba, wrap: abcd|abcd|abcd, nearest: the
    edge) or read `fill_value` (constant); bilinear reads outside the image read `fill_value`
    with TensorFlow's weights.
    """
    import torch

    n, c, height, width = x.shape
    ys, xs = torch.meshgrid(torch.arange(height, device=x.device, dtype=torch.float32),
                            torch.arange(width, device=x.device, dtype=torch.float32), indexing="ij")
    t = transform.to(torch.float32).view(n, 6, 1, 1).unbind(1)
    in_x = _map_coordinate(t[0] * xs + t[1] * ys + t[2], width, fill_mode)
    in_y = _map_coordinate(t[3] * xs + t[4] * ys + t[5], height, fill_mode)
    flat = x.reshape(n, c, height * width)

    def read(iy, ix):
        inside = (iy >= 0) & (iy < height) & (ix >= 0) & (ix < width)
        index = (iy.clamp(0, height - 1) * width + ix.clamp(0, width - 1)).long().view(n, 1, -1)
        values = flat.gather(2, index.expand(n, c, -1)).view(n, c, height, width)
        return torch.where(inside.unsqueeze(1), values, torch.full_like(values, fill_value))

    if interpolation == "nearest":
        # std::round: halves away from zero (torch.round goes to even)
        return read(torch.sign(in_y) * torch.floor(in_y.abs() + 0.5), torch.sign(in_x) * torch.floor(in_x.abs() + 0.5))
    y0, x0 = torch.floor(in_y), torch.floor(in_x)
    y1, x1 = y0 + 1, x0 + 1
    wy0, wy1 = (y1 - in_y).unsqueeze(1), (in_y - y0).unsqueeze(1)
    wx0, wx1 = (x1 - in_x).unsqueeze(1), (in_x - x0).unsqueeze(1)
    top = wx0 * read(y0, x0) + wx1 * read(y0, x1)
    bottom = wx0 * read(y1, x0) + wx1 * read(y1, x1)
    return (wy0 * top + wy1 * bottom).to(x.dtype)


def _map_coordinate(coord, size: int, fill_mode: str):
    """TensorFlow's MapCoordinate: an input coordinate outside [0, size - 1] mapped back inside."""
    import torch

    if fill_mode == "constant":
        return coord
    if size <= 1 or fill_mode == "nearest":
        return coord.clamp(0, size - 1)
    if fill_mode == "reflect":
        period = 2 * size
        low = period * torch.trunc(-coord / period) + coord
        low = torch.where(low < -size, low + period, -low - 1)
        high = coord - period * torch.trunc(coord / period)
        high = torch.where(high >= size, period - high - 1, high)
    else:  # wrap
        low = coord + size * (torch.trunc(-coord / (size - 1)) + 1)
        high = coord - size * torch.trunc(coord / (size - 1))
    mapped = torch.where(coord < 0, low, torch.where(coord > size - 1, high, coord))
    return mapped.clamp(0, size - 1)

