"""CenterCrop."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape, image
from archspec.layers.preprocessing.base_image_preprocessing import (
    RESIZE_BREAKS_TF2ONNX, aspect_crop, image_size, torch_resize,
)
from archspec.layers.registry import register


@register("CenterCrop")
class CenterCrop(Layer):
    """Crops the central `height` x `width` window of images, `keras.layers.CenterCrop`.

    Like Keras, an image smaller than the target along either axis is not padded: its largest
    centred window of the target's aspect ratio is resized (bilinear, TensorFlow's half-pixel
    centres) to `height` x `width`, Keras's `smart_resize`.

    Args:
        height, width: the output size.

    Input shape: (batch, height, width, channels) for channels_last.
    Output shape: (batch, height, width, channels) with the target's height and width.
    """

    torch_layout_default = "channels_first"
    keras_onnx_problem = RESIZE_BREAKS_TF2ONNX

    examples = (
        Example({"height": 4, "width": 3}, ((7, 6, 2),)),
        Example({"height": 5, "width": 5}, ((5, 8, 3),)),
        Example({"height": 6, "width": 4}, ((5, 9, 2),)),
    )

    height: int = Field(..., ge=1, strict=True, description="Output height.")
    width: int = Field(..., ge=1, strict=True, description="Output width.")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        _, _, channels = image_size(input_shapes[0], data_format)
        return image((self.height, self.width), channels, data_format)

    def torch_setup(self, module, input_shapes, data_format):
        height, width, _ = image_size(input_shapes[0], data_format)
        module.resize = height < self.height or width < self.width
        if module.resize:  # smart_resize, with static sizes: Python float arithmetic
            top, rows, left, columns = aspect_crop(height, width, self.height, self.width, dtype=float)
        else:
            top, rows, left, columns = (height - self.height) // 2, self.height, (width - self.width) // 2, self.width
        module.crop = (slice(None), slice(None), slice(top, top + rows), slice(left, left + columns))

    def torch_forward(self, module, x):
        x = x[module.crop]
        return torch_resize(x, (self.height, self.width), "bilinear") if module.resize else x
