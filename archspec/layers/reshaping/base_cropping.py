"""What Cropping1D/2D/3D share: values removed from both ends of each spatial axis."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from archspec.layers.base import DataFormat, Layer, Shape, ShapeError, fmt_shape, image, require_rank, spatial
from archspec.layers.reshaping.base_zero_padding import padding_pairs


def cropping_field(default: Any, description: str) -> Any:
    return Field(default, validate_default=True, description=description,
                 json_schema_extra={"anyOf": [{"type": "integer"}, {"type": "array"}]})


class BaseCropping(Layer):
    """Crops every spatial axis; subclasses set `rank` and their Keras default.

    Args:
        cropping: an int (all ends), one int per axis (both ends), or [before, after] per axis.
    """

    rank: ClassVar[int] = 2
    torch_layout_default = "channels_first"

    cropping: Any = cropping_field(((0, 0), (0, 0)), "An int, one int per axis, or [before, after] per axis.")

    @field_validator("cropping", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        return padding_pairs(value, cls.rank, "cropping")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, self.rank + 1, f"a {self.rank}-D input with channels")
        dims, channels = spatial(shape, data_format)
        out = tuple(n - a - b for n, (a, b) in zip(dims, self.cropping))
        if min(out) <= 0:
            raise ShapeError(f"cropping {[list(p) for p in self.cropping]} leaves nothing of its input "
                             f"{fmt_shape(shape)}")
        return image(out, channels, data_format)

    def keras_config(self, data_format):
        return {"cropping": self.cropping[0] if self.rank == 1 else self.cropping}

    def torch_setup(self, module, input_shapes, data_format):
        dims, _ = spatial(input_shapes[0], data_format)
        module.crop = (slice(None), slice(None)) + tuple(slice(a, n - b) for n, (a, b) in zip(dims, self.cropping))

    def torch_forward(self, module, x):
        return x[module.crop]
