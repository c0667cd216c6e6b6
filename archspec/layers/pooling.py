"""Max and average pooling, local and global."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import (
    DataFormat, IntPair, Layer, Padding, Shape, ShapeError, image, require_rank, spatial,
    window_output,
)
from archspec.layers.registry import register


class _Pooling2D(Layer):
    pool_size: IntPair = Field((2, 2), description="Window size: an int or [height, width].")
    strides: IntPair | None = Field(None, description="Default: pool_size.")
    padding: Padding = "valid"

    @property
    def effective_strides(self) -> tuple[int, int]:
        return self.strides or self.pool_size

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, 3, "an image (batch, height, width, channels)")
        dims, channels = spatial(shape, data_format)
        out = tuple(
            window_output(size, k, s, self.padding)
            for size, k, s in zip(dims, self.pool_size, self.effective_strides)
        )
        if min(out) <= 0:
            raise ShapeError(
                f"pool {self.pool_size[0]}x{self.pool_size[1]} with padding 'valid' does not fit its input"
            )
        return image(out, channels, data_format)


@register("MaxPooling2D", "MaxPool2D")
class MaxPooling2D(_Pooling2D):
    """Max over each window, `keras.layers.MaxPooling2D`."""


@register("AveragePooling2D", "AvgPool2D")
class AveragePooling2D(_Pooling2D):
    """Mean over each window; with padding 'same' the padded pixels are not counted, as in Keras."""


class _GlobalPooling2D(Layer):
    keepdims: bool = False

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, 3, "an image (batch, height, width, channels)")
        _, channels = spatial(shape, data_format)
        return image((1, 1), channels, data_format) if self.keepdims else (channels,)


@register("GlobalAveragePooling2D", "GlobalAvgPool2D")
class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width."""


@register("GlobalMaxPooling2D", "GlobalMaxPool2D")
class GlobalMaxPooling2D(_GlobalPooling2D):
    """Max over height and width."""
