"""GroupNormalization."""

from __future__ import annotations

from pydantic import Field, field_validator

from archspec.initializers import Initializer
from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, Weight, keras_axis
from archspec.layers.registry import register


@register("GroupNormalization")
class GroupNormalization(Layer):
    """Group normalization, `keras.layers.GroupNormalization`, with Keras's defaults and rules.

    The `axis` dimension (the channels) is split into `groups` contiguous groups; each sample
    is normalised per group over the group's channels and every other non-batch axis, with
    the biased variance and `rsqrt(variance + epsilon)`, in float32; gamma and beta are per
    channel. groups 1 normalises each sample as a whole; -1 (one channel per group) is
    instance normalization.

    Args:
        groups: number of groups (32, as in Keras); it must divide the channels. -1: one per channel.
        axis: the channel axis, counting the batch axis like Keras (-1: channels_last's). Keras
            has no data_format here: channels_first inputs need `axis: 1`.
        epsilon: added to the variance.
        center, scale: learn beta / gamma.

    Input and output shape: the same, any rank.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({"groups": 2}, ((6, 4, 4),)),
        Example({"groups": -1, "center": False, "epsilon": 0.01}, ((5, 6),)),
        Example({"groups": 3, "axis": -2, "scale": False, "beta_initializer": "glorot_uniform"}, ((6, 6, 3),)),
        Example({"axis": 1}, ((2, 3, 64),), data_formats=("channels_first",)),
    )

    groups: int = Field(32, strict=True, description="Number of channel groups; -1: one channel per group.")
    axis: int = Field(-1, strict=True, description="Channel axis (Keras counts the batch axis; -1 is the last).")
    epsilon: float = Field(1e-3, gt=0.0, description="Added to the variance.")
    center: bool = Field(True, description="Learn an offset (beta).")
    scale: bool = Field(True, description="Learn a scale (gamma).")
    beta_initializer: Initializer = Field("zeros", description="Initializer of beta.")
    gamma_initializer: Initializer = Field("ones", description="Initializer of gamma.")

    @field_validator("groups")
    @classmethod
    def _check_groups(cls, value: int) -> int:
        if value <= 0 and value != -1:
            raise ValueError("groups must be a positive integer, or -1 for instance normalization")
        return value

    def channel_axis(self, shape: Shape) -> int:
        return keras_axis(self.axis, len(shape))

    def group_count(self, shape: Shape) -> int:
        channels = shape[self.channel_axis(shape)]
        groups = channels if self.groups == -1 else self.groups
        if channels < groups:
            raise ShapeError(f"{groups} groups cannot be more than the {channels} channels of axis {self.axis}")
        if channels % groups:
            raise ShapeError(f"{groups} groups do not divide the {channels} channels of axis {self.axis}")
        return groups

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        self.group_count(input_shapes[0])
        return input_shapes[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        shape = input_shapes[0]
        dim = (shape[self.channel_axis(shape)],)
        weights = []
        if self.scale:
            weights.append(Weight("gamma", dim, self.gamma_initializer, torch_name="weight"))
        if self.center:
            weights.append(Weight("beta", dim, self.beta_initializer, torch_name="bias"))
        return weights

    def torch_layout(self, input_shapes, data_format):
        shape = input_shapes[0]
        last = self.channel_axis(shape) == len(shape) - 1
        # the channels of a channels_last image: PyTorch's group_norm wants them on dim 1
        return "channels_first" if data_format == "channels_last" and last and len(shape) >= 2 else "spec"

    def torch_setup(self, module, input_shapes, data_format):
        shape = input_shapes[0]
        module.groups = self.group_count(shape)
        module.dim = 1 if module.layout == "channels_first" else self.channel_axis(shape) + 1
        module.view = (-1, *[1] * (len(shape) - 1))

    def torch_forward(self, module, x):
        import torch.nn.functional as F

        # F.group_norm splits dim 1 into contiguous groups and reduces each over its channels
        # and every further axis, with the biased variance and epsilon inside the rsqrt: Keras's
        # reshape to (..., groups, channels // groups, ...) and moments
        moved = module.dim != 1
        if moved:
            x = x.movedim(module.dim, 1)
        weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
        # two torch 2.13 CPU bugs in group_norm's backward: a segfault for a channels_last-strided
        # input that needs no gradient (hence contiguous()), and "tensor does not have a device"
        # for a bias without a weight (hence beta added apart then)
        y = F.group_norm(x.contiguous(), module.groups, weight, bias if weight is not None else None, self.epsilon)
        if bias is not None and weight is None:
            y = y + bias.view(module.view)
        return y.movedim(1, module.dim) if moved else y
