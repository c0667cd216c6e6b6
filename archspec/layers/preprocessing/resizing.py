"""Resizing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from archspec.layers.base import DataFormat, Example, Layer, Shape, image
from archspec.layers.preprocessing.base_image_preprocessing import (
    RESIZE_BREAKS_TF2ONNX, aspect_crop, aspect_pad, image_size, torch_resize,
)
from archspec.layers.registry import register


@register("Resizing")
class Resizing(Layer):
    """Resizes images to `height` x `width`, `keras.layers.Resizing`.

    Computes TensorFlow's `tf.image.resize` (half-pixel centres): PyTorch's
    `interpolate(mode="bilinear", align_corners=False)` or `mode="nearest-exact"`.

    Args:
        height, width: the output size.
        interpolation: "bilinear" or "nearest". Keras's bicubic, lanczos3, lanczos5 and area
            have no PyTorch equivalent and are refused.
        crop_to_aspect_ratio: first crop the largest centred window of the target's aspect
            ratio, so that the image is not distorted.
        pad_to_aspect_ratio: first pad the image evenly on both sides (with `fill_value`) to
            the target's aspect ratio, so that it is not distorted.
        fill_mode: "constant", the only mode Keras has.
        fill_value: the value padding adds (pad_to_aspect_ratio).
        antialias: filter when downsampling (bilinear only; TensorFlow's triangle filter,
            which is PyTorch's antialiased bilinear).

    Input shape: (batch, height, width, channels) for channels_last.
    Output shape: (batch, height, width, channels) with the target's height and width.
    """

    torch_layout_default = "channels_first"
    keras_onnx_problem = RESIZE_BREAKS_TF2ONNX

    examples = (
        Example({"height": 4, "width": 6}, ((7, 5, 3),)),
        Example({"height": 5, "width": 3, "interpolation": "nearest"}, ((9, 8, 2),)),
        Example({"height": 4, "width": 4, "crop_to_aspect_ratio": True}, ((6, 9, 2),)),
        Example({"height": 6, "width": 4, "pad_to_aspect_ratio": True, "fill_value": 0.5}, ((5, 7, 2),)),
        Example({"height": 3, "width": 4, "antialias": True}, ((9, 8, 2),), onnx_keras=False,
                note="tf2onnx has no ONNX op for TensorFlow's ScaleAndTranslate (antialiased resize)"),
    )

    height: int = Field(..., ge=1, strict=True, description="Output height.")
    width: int = Field(..., ge=1, strict=True, description="Output width.")
    interpolation: Literal["bilinear", "nearest"] = Field("bilinear", description="bilinear or nearest.")
    crop_to_aspect_ratio: bool = Field(False, description="Crop to the target's aspect ratio before resizing.")
    pad_to_aspect_ratio: bool = Field(False, description="Pad to the target's aspect ratio before resizing.")
    fill_mode: Literal["constant"] = Field("constant", description="How padding fills: constant (Keras's only mode).")
    fill_value: float = Field(0.0, description="The value pad_to_aspect_ratio pads with.")
    antialias: bool = Field(False, description="Antialiasing filter when downsampling (bilinear).")

    @model_validator(mode="after")
    def _check(self):
        if self.crop_to_aspect_ratio and self.pad_to_aspect_ratio:
            raise ValueError("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be true")
        return self

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        _, _, channels = image_size(input_shapes[0], data_format)
        return image((self.height, self.width), channels, data_format)

    def torch_setup(self, module, input_shapes, data_format):
        height, width, _ = image_size(input_shapes[0], data_format)
        module.crop = module.pad = None
        if self.crop_to_aspect_ratio:
            top, rows, left, columns = aspect_crop(height, width, self.height, self.width)
            module.crop = (slice(None), slice(None), slice(top, top + rows), slice(left, left + columns))
        elif self.pad_to_aspect_ratio:
            rows, columns = aspect_pad(height, width, self.height, self.width)
            module.pad = (columns, columns, rows, rows) if rows or columns else None

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        if module.crop is not None:
            x = x[module.crop]
        elif module.pad is not None:
            x = F.pad(x, module.pad, value=self.fill_value)
        antialias = self.antialias and self.interpolation == "bilinear"
        return torch_resize(x, (self.height, self.width), self.interpolation, antialias)
