"""TimeDistributed."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError, fmt_shape
from archspec.layers.registry import register
from archspec.layers.wrappers.base_wrapper import NestedLayer, prefixed


@register("TimeDistributed")
class TimeDistributed(Layer):
    """Applies the wrapped layer to every step of a sequence, `keras.layers.TimeDistributed`.

    Args:
        layer: the wrapped layer, a mapping with its type and parameters
            (`{type: Dense, units: 4}`); its name (default: its type in snake case, `dense`)
            prefixes its weights: `td/dense/kernel`.

    A mask arriving with the input goes on unchanged, as in Keras; the wrapped layer does not
    see it (Keras would hand it each step's (batch,) slice, which no layer here can use).
    In training, a wrapped layer that keeps batch statistics (BatchNormalization) runs once
    per step, as Keras runs it, so that each step's batch statistics and moving averages are
    Keras's; otherwise the steps are folded into the batch.

    Input shape: (batch, steps, ...). Output shape: (batch, steps, <the wrapped layer's output>).
    """

    torch_layout_default = "spec"
    mask_policy = "pass"  # Keras: supports_masking, compute_mask returns the input's mask
    examples = (
        Example({"layer": {"type": "Dense", "units": 3, "activation": "softmax"}}, ((None, 4),),
                data_formats=("channels_last",)),
        Example({"layer": {"type": "Dense", "name": "proj", "units": 2}}, ((5, 3),)),
        Example({"layer": {"type": "Conv2D", "filters": 3, "kernel_size": 3, "activation": "relu"}},
                ((None, 6, 6, 2),), data_formats=("channels_last",)),
        Example({"layer": {"type": "Conv1D", "filters": 2, "kernel_size": 2, "padding": "same"}}, ((3, 5, 2),),
                data_formats=("channels_last",)),
        Example({"layer": {"type": "BatchNormalization"}}, ((4, 3),), data_formats=("channels_last",)),
    )

    layer: NestedLayer = Field(..., description="The wrapped layer: a mapping with its type and parameters.")

    def _child(self, shape: Shape) -> Shape:
        if len(shape) < 2:
            raise ShapeError(f"expects (batch, steps, ...) with at least one axis per step, got {fmt_shape(shape)}")
        return shape[1:]

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        shape = input_shapes[0]
        try:
            inner = self.layer.output_shape([self._child(shape)], data_format)
        except ShapeError as exc:
            raise ShapeError(f"wraps {self.layer.type_name} '{self.layer.name}', which {exc}") from None
        return (shape[0], *inner)

    def weights(self, input_shapes, data_format):
        return prefixed(self.layer.name, self.layer.weights([self._child(input_shapes[0])], data_format))

    def macs(self, input_shapes, output_shape, data_format):
        child = self._child(input_shapes[0])
        steps = input_shapes[0][0] or 0
        return steps * self.layer.macs([child], output_shape[1:], data_format)

    # --- PyTorch: the wrapped layer runs in a module of its own (module.sublayers)

    def _inner_channels_first(self, child: Shape, data_format: DataFormat) -> bool:
        return (data_format == "channels_last" and len(child) >= 2
                and self.layer.torch_layout([child], data_format) == "channels_first")

    def torch_sublayers(self, input_shapes, data_format):
        child = self._child(input_shapes[0])
        return [(self.layer.name, self.layer, [child], self._inner_channels_first(child, data_format))]

    def torch_setup(self, module, input_shapes, data_format):
        from archspec.backends.torch import to_channels_first, to_channels_last

        child = self._child(input_shapes[0])
        inside = self._inner_channels_first(child, data_format)
        out_rank = len(self.layer.output_shape([child], data_format))
        module.inner = module.sublayers[self.layer.name]
        module.permute_in = to_channels_first(len(child)) if inside else None
        module.permute_out = to_channels_last(out_rank) if inside and out_rank >= 2 else None
        module.per_step = any(not w.trainable for w in module.inner.weight_specs)

    def torch_forward(self, module, x):
        import torch

        if module.training and module.per_step:
            return torch.stack([self._apply(module, x[:, i]) for i in range(x.shape[1])], dim=1)
        n, t = x.shape[0], x.shape[1]
        return self._apply(module, x.flatten(0, 1)).unflatten(0, (n, t))

    @staticmethod
    def _apply(module, x):
        if module.permute_in is not None:
            x = x.permute(module.permute_in)
        y = module.inner(x)
        return y if module.permute_out is None else y.permute(module.permute_out)

    def keras_layer(self, data_format: DataFormat, name: str):
        inner = self.layer.keras_layer(data_format, self.layer.name)
        return folding_class()(inner, name=name)


@lru_cache(maxsize=None)
def folding_class():
    """Keras's TimeDistributed with the steps folded into the batch axis.

    Keras maps a free time axis with vectorized_map, which tf2onnx converts into a loop that
    feeds a convolution the wrong layout; and Keras 3.15 maps it over `ops.shape(inputs)[0]`
    read before its batch/time transpose, so a graph traced with a free time axis (an export,
    or `fit`) runs batch-size-many steps (a (4, 23, 3) input gives 4 steps). Every wrapped
    layer treats the samples of a batch alike, so folding the steps into the batch is the same
    function, in plain ops; only batch statistics (BatchNormalization in training) are taken
    per step, as Keras does, which needs Keras's own per-step call.
    """
    import keras

    @keras.saving.register_keras_serializable(package="archspec")
    class FoldedTimeDistributed(keras.layers.TimeDistributed):
        def call(self, inputs, training=None, mask=None):
            if training and isinstance(self.layer, keras.layers.BatchNormalization):
                return super().call(inputs, training=training, mask=mask)
            shape = keras.ops.shape(inputs)
            folded = keras.ops.reshape(inputs, (-1, *shape[2:]))
            kwargs = {"training": bool(training)} if self.layer._call_has_training_arg else {}
            outputs = self.layer(folded, **kwargs)
            return keras.ops.reshape(outputs, (shape[0], shape[1], *keras.ops.shape(outputs)[1:]))

    return FoldedTimeDistributed
