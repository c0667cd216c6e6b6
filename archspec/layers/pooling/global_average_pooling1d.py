"""GlobalAveragePooling1D."""

from archspec.layers.base import Example
from archspec.layers.pooling.base_pooling import BaseGlobalPooling
from archspec.layers.registry import register


@register("GlobalAveragePooling1D", "GlobalAvgPool1D")
class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over every position of a sequence (steps, channels), `keras.layers.GlobalAveragePooling1D`."""

    rank = 1
    reduction = "mean"
    mask_policy = "consume"  # Keras: the mean over the unmasked steps; the output has no mask
    uses_mask = True
    examples = (
        Example({}, ((9, 3),)),
        Example({"keepdims": True}, ((9, 3),)),
        Example({}, ((None, 3),)),
    )

    def torch_forward(self, module, x, mask=None):
        if mask is None:
            return super().torch_forward(module, x)
        # Keras 3.15: where(mask, x, 0).sum(steps) / mask.sum(steps); the mask (batch, steps)
        # lies along the steps axis, which is dim 2 of the channels-first tensor here
        keep = mask[:, None, :]
        total = x.where(keep, 0).sum(dim=2, keepdim=self.keepdims)
        return total / keep.to(x.dtype).sum(dim=2, keepdim=self.keepdims)
