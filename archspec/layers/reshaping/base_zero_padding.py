"""What ZeroPadding1D/2D/3D share: zeros before and after each spatial axis."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from archspec.layers.base import DataFormat, Layer, Shape, image, require_rank, spatial


def padding_pairs(value: Any, rank: int, what: str = "padding") -> tuple[tuple[int, int], ...]:
    """Keras's forms: an int, one int per axis, or one (before, after) pair per axis (1-D: one pair)."""
    def count(v):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{what} values must be non-negative integers")
        return v

    if isinstance(value, int) and not isinstance(value, bool):
        return ((count(value), count(value)),) * rank
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{what} must be an int or a list")
    if rank == 1 and len(value) == 2 and all(isinstance(v, int) for v in value):
        return ((count(value[0]), count(value[1])),)
    if len(value) != rank:
        raise ValueError(f"{what} needs {rank} entries (one per spatial axis), got {len(value)}")
    pairs = []
    for v in value:
        if isinstance(v, (list, tuple)):
            if len(v) != 2:
                raise ValueError(f"each {what} pair is [before, after]")
            pairs.append((count(v[0]), count(v[1])))
        else:
            pairs.append((count(v), count(v)))
    return tuple(pairs)


class BaseZeroPadding(Layer):
    """Pads every spatial axis with zeros; subclasses set `rank`.

    Args:
        padding: an int (all sides), one int per axis (both sides), or [before, after] per axis.
    """

    rank: ClassVar[int] = 2
    torch_layout_default = "channels_first"

    padding: Any = Field(1, validate_default=True, description="An int, one int per axis, or [before, after] per axis.",
                         json_schema_extra={"anyOf": [{"type": "integer"}, {"type": "array"}]})

    @field_validator("padding", mode="before")
    @classmethod
    def _pairs(cls, value: Any) -> Any:
        return padding_pairs(value, cls.rank)

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, self.rank + 1, f"a {self.rank}-D input with channels")
        dims, channels = spatial(shape, data_format)
        return image(tuple(n + a + b for n, (a, b) in zip(dims, self.padding)), channels, data_format)

    def keras_config(self, data_format):
        return {"padding": self.padding[0] if self.rank == 1 else self.padding}

    def torch_setup(self, module, input_shapes, data_format):
        from archspec.backends.torch import ops

        module.pad = ops.pad_tuple(self.padding)

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        return F.pad(x, module.pad)
