"""ActivityRegularization."""

from __future__ import annotations

from pydantic import Field

from archspec.layers.base import Example, Layer
from archspec.layers.registry import register


@register("ActivityRegularization")
class ActivityRegularization(Layer):
    """The identity, adding `l1 * sum(|x|) + l2 * sum(x^2)` (divided by the batch size) to the
    training loss, `keras.layers.ActivityRegularization`.

    The forward pass is the identity in every backend. Keras's `fit()` adds the penalty to the
    loss, so archspec's Keras trainer includes it; archspec's PyTorch trainer does not add it
    (yet), so trainings with l1 or l2 above 0 differ between the two backends.

    Input and output shape: the same, any rank.
    """

    mask_policy = "pass"  # Keras: supports_masking
    examples = (Example({"l1": 0.01}, ((6,),)), Example({"l1": 0.001, "l2": 0.01}, ((4, 4, 3),)))

    l1: float = Field(0.0, ge=0.0, description="Weight of the L1 penalty on the layer's output.")
    l2: float = Field(0.0, ge=0.0, description="Weight of the L2 penalty on the layer's output.")
