"""Softmax."""

from __future__ import annotations

from pydantic import Field, field_validator

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, keras_axis
from archspec.layers.registry import register


@register("Softmax")
class Softmax(Layer):
    """Softmax along `axis`, `keras.layers.Softmax`: exp(x) / sum(exp(x)) over that axis.

    Args:
        axis: the axis (Keras counts the batch axis; -1 is the last), or a list of axes
            normalised together (`exp(x - logsumexp(x, axes))`, as Keras computes it).

    Input and output shape: the same, any rank.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({}, ((4, 6),)),
        Example({}, ((3, 3, 4),)),
        Example({"axis": 1}, ((3, 5, 4),)),
        Example({"axis": [1, 2]}, ((3, 5, 4),)),
    )

    axis: int | list[int] = Field(-1, description="Axis (batch axis counted; -1 is the last), or a list of axes.")

    @field_validator("axis")
    @classmethod
    def _not_empty(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("axis needs at least one axis")
        return value

    def _axes(self, shape: Shape) -> list[int]:
        axes = [keras_axis(a, len(shape)) for a in ([self.axis] if isinstance(self.axis, int) else self.axis)]
        if len(set(axes)) != len(axes):
            raise ShapeError(f"axis {self.axis} names one axis twice")
        return axes

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        self._axes(input_shapes[0])
        return input_shapes[0]

    def torch_layout(self, input_shapes, data_format):
        shape = input_shapes[0]
        on_channels = self._axes(shape) == [len(shape) - 1]
        # the channels of a channels_last tensor: run channels-first with dim 1, no transposes
        return "channels_first" if data_format == "channels_last" and on_channels and len(shape) >= 2 else "spec"

    def torch_setup(self, module, input_shapes, data_format):
        dims = [a + 1 for a in self._axes(input_shapes[0])]
        module.dims = [1] if module.layout == "channels_first" else dims

    def torch_forward(self, module, x):
        import torch

        if len(module.dims) == 1:
            return torch.softmax(x, dim=module.dims[0])
        return torch.exp(x - torch.logsumexp(x, dim=module.dims, keepdim=True))
