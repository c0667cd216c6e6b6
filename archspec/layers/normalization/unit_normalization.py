"""UnitNormalization."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape
from archspec.layers.normalization.layer_normalization import Axes, sample_axes
from archspec.layers.registry import register

# keras.ops.normalize's lower bound on the L2 norm, as UnitNormalization calls it
_NORM_FLOOR = 1e-12


@register("UnitNormalization")
class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over `axis`, `keras.layers.UnitNormalization`.

    Computes `x * min(rsqrt(sum(x ** 2 over axis)), 1e12)`, i.e. `x / max(norm, 1e-12)`
    written as Keras writes it (an all-zero slice stays zero).

    Args:
        axis: the axis or axes to normalise over, counting the batch axis like Keras (-1: the
            last). The batch axis itself is not accepted.

    Input and output shape: the same, any rank.
    """

    torch_layout_default = "spec"
    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({}, ((5, 6, 4),)),
        Example({"axis": [1, 2]}, ((4, 3, 5),)),
        Example({"axis": 1}, ((7,),)),
    )

    axis: Axes = Field(-1, description="Axis or axes to normalise over (Keras counts the batch axis; -1 is the last).")

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        sample_axes(self.axis, len(input_shapes[0]))
        return input_shapes[0]

    def torch_setup(self, module, input_shapes, data_format):
        module.dims = sorted(a + 1 for a in sample_axes(self.axis, len(input_shapes[0])))

    def torch_forward(self, module, x):
        import torch

        inv_norm = torch.rsqrt(torch.sum(torch.square(x), dim=module.dims, keepdim=True))
        return x * torch.clamp(inv_norm, max=1.0 / _NORM_FLOOR)
