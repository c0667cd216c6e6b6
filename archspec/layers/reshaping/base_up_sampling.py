"""What UpSampling1D/2D/3D share: each value repeated `size` times along each spatial axis."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from archspec.layers.base import DataFormat, IntTuple, Layer, Shape, expand_tuple, image, require_rank, spatial


class BaseUpSampling(Layer):
    """Repeats every position `size` times along each spatial axis (nearest-neighbour
    upsampling); subclasses set `rank`.

    Args:
        size: the factor, one int or one per spatial axis.
    """

    rank: ClassVar[int] = 2
    spatial_dim: ClassVar[int] = 2  # the PyTorch tensor's first spatial dim (channels first)
    torch_layout_default = "channels_first"

    size: IntTuple = Field((2,), description="Upsampling factor: one int, or one per spatial axis.")

    @model_validator(mode="after")
    def _expand(self):
        if isinstance(self.size, tuple):  # UpSampling1D's size is one int
            object.__setattr__(self, "size", expand_tuple(self.size, self.rank, "size"))
        return self

    @property
    def factors(self) -> tuple[int, ...]:
        return self.size if isinstance(self.size, tuple) else (self.size,)

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        require_rank(shape, self.rank + 1, f"a {self.rank}-D input with channels")
        dims, channels = spatial(shape, data_format)
        return image(tuple(n * f for n, f in zip(dims, self.factors)), channels, data_format)

    def keras_config(self, data_format):
        return {"size": self.size}

    def torch_forward(self, module, x):
        for index, factor in enumerate(self.factors):
            if factor > 1:
                x = x.repeat_interleave(factor, dim=self.spatial_dim + index)
        return x
