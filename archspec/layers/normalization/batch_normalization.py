"""BatchNormalization."""

from __future__ import annotations

from pydantic import Field

from archspec.initializers import Initializer
from archspec.layers.base import DataFormat, Example, Layer, Shape, Weight, keras_axis
from archspec.layers.registry import register


@register("BatchNormalization")
class BatchNormalization(Layer):
    """Batch normalization, `keras.layers.BatchNormalization`, with Keras's defaults and rules.

    Args:
        axis: the feature axis, counting the batch axis like Keras (-1: channels of channels_last).
        momentum: moving = moving * momentum + batch statistic * (1 - momentum).
        epsilon: added to the variance.
        center, scale: learn beta / gamma.

    Training uses the batch's biased variance; inference, and a frozen layer (trainable: false),
    the moving statistics, which are non-trainable weights. Input and output shape: the same.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = (
        Example({}, ((6, 5, 3),)),
        Example({"momentum": 0.9, "epsilon": 0.01, "center": False}, ((4,),)),
        Example({"axis": 1, "scale": False}, ((3, 4),), data_formats=("channels_last",)),
        Example({}, ((7, 3),)),
    )

    axis: int = Field(-1, description="Feature axis (Keras counts the batch axis; -1 is the last).")
    momentum: float = Field(0.99, ge=0.0, le=1.0, description="Momentum of the moving statistics.")
    epsilon: float = Field(1e-3, gt=0.0, description="Added to the variance.")
    center: bool = Field(True, description="Learn an offset (beta).")
    scale: bool = Field(True, description="Learn a scale (gamma).")
    beta_initializer: Initializer = Field("zeros", description="Initializer of beta.")
    gamma_initializer: Initializer = Field("ones", description="Initializer of gamma.")
    moving_mean_initializer: Initializer = Field("zeros", description="Initializer of the moving mean.")
    moving_variance_initializer: Initializer = Field("ones", description="Initializer of the moving variance.")

    def feature_axis(self, shape: Shape) -> int:
        return keras_axis(self.axis, len(shape))

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        self.feature_axis(input_shapes[0])
        return input_shapes[0]

    def weights(self, input_shapes: list[Shape], data_format: DataFormat) -> list[Weight]:
        shape = input_shapes[0]
        dim = (shape[self.feature_axis(shape)],)
        weights = []
        if self.scale:
            weights.append(Weight("gamma", dim, self.gamma_initializer, torch_name="weight"))
        if self.center:
            weights.append(Weight("beta", dim, self.beta_initializer, torch_name="bias"))
        weights.append(Weight("moving_mean", dim, self.moving_mean_initializer, trainable=False,
                              torch_name="running_mean"))
        weights.append(Weight("moving_variance", dim, self.moving_variance_initializer, trainable=False,
                              torch_name="running_var"))
        return weights

    def torch_layout(self, input_shapes, data_format):
        shape = input_shapes[0]
        last = self.feature_axis(shape) == len(shape) - 1
        # the channel axis of a channels_last tensor: run channels-first, PyTorch's fast path
        return "channels_first" if data_format == "channels_last" and last and len(shape) >= 2 else "spec"

    def torch_setup(self, module, input_shapes, data_format):
        shape = input_shapes[0]
        module.dim = 1 if module.layout == "channels_first" else self.feature_axis(shape) + 1

    def torch_forward(self, module, x):
        import torch
        import torch.nn.functional as F

        moved = module.dim != 1
        if moved:
            x = x.movedim(module.dim, 1)
        weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
        # like Keras under a mixed policy: statistics and normalization in float32, the result in x's dtype
        dtype = x.dtype
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        if module.training and self.trainable:
            dims = [d for d in range(x.dim()) if d != 1]
            group = getattr(module, "sync_group", None)
            if group is None:
                mean = x.mean(dim=dims)
                var = x.var(dim=dims, unbiased=False)
            else:
                mean, var = _global_moments(x, dims, group)
            with torch.no_grad():
                module.running_mean.mul_(self.momentum).add_(mean.detach(), alpha=1 - self.momentum)
                module.running_var.mul_(self.momentum).add_(var.detach(), alpha=1 - self.momentum)
            view = [1, -1] + [1] * (x.dim() - 2)
            y = (x - mean.view(view)) * torch.rsqrt(var.view(view) + self.epsilon)
            if weight is not None:
                y = y * weight.view(view)
            if bias is not None:
                y = y + bias.view(view)
        else:
            y = F.batch_norm(x, module.running_mean, module.running_var, weight, bias, False, 0.0, self.epsilon)
        y = y.to(dtype)
        return y.movedim(1, module.dim) if moved else y


def _global_moments(x, dims, group):
    """Mean and biased variance over the batch of every process (data-parallel training), two passes like
    `x.var` so that N processes give the statistics one process gives; gradients flow through the sums."""
    import torch
    from torch.distributed.nn.functional import all_reduce

    channels = x.shape[1]
    count = x.new_full((1,), x.numel() // max(channels, 1))
    totals = all_reduce(torch.cat([x.sum(dim=dims), count]), group=group)
    mean = totals[:channels] / totals[channels]
    centred = x - mean.view([1, -1] + [1] * (x.dim() - 2))
    var = all_reduce((centred * centred).sum(dim=dims), group=group) / totals[channels]
    return mean, var
