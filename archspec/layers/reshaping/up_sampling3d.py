"""UpSampling3D."""

from archspec.layers.base import Example
from archspec.layers.registry import register
from archspec.layers.reshaping.base_up_sampling import BaseUpSampling


@register("UpSampling3D")
class UpSampling3D(BaseUpSampling):
    """Repeats each voxel of a volume `size` times along depth, height and width,
    `keras.layers.UpSampling3D`.

    Args:
        size: the factor, one int or [depth, height, width].

    Input shape: (batch, depth, height, width, channels) for channels_last.
    Output shape: each spatial size times its factor.
    """

    rank = 3
    examples = (Example({}, ((2, 3, 2, 2),)), Example({"size": [1, 3, 2]}, ((2, 3, 2, 2),)))
