"""Bidirectional."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from archspec.layers.base import DataFormat, Example, Layer, Shape, ShapeError
from archspec.layers.registry import register
from archspec.layers.wrappers.base_wrapper import NestedLayer, prefixed, problem


def _renamed(name: str, prefix: str) -> str:
    """Keras's forward_<name> / backward_<name>, without doubling a prefix the name has already."""
    return prefix + name.removeprefix(prefix)


@register("Bidirectional")
class Bidirectional(Layer):
    """Runs a recurrent layer over the sequence forwards and backwards, `keras.layers.Bidirectional`.

    Args:
        layer: the recurrent layer (SimpleRNN, LSTM, GRU), a mapping with its type and
            parameters. It runs as `forward_<its name>` (default name: its type in snake case,
            so `forward_lstm`); its weights are `<bidirectional>/forward_<name>/...`.
        backward_layer: the layer that runs backwards; by default a copy of `layer` with
            go_backwards true, named `backward_<name>`. Given, it keeps its own name, must have
            the opposite go_backwards and the same return_sequences and output shape.
        merge_mode: how the two outputs combine: concat (on the last axis), sum, ave, mul.
            Keras's null (two output tensors) is not available: a spec layer has one output.

    Masks: both directions skip masked steps (the backward layer reverses the sequence, its
    mask included); with return_sequences the backward outputs are put back in time order and
    the mask goes on, as in Keras, and masked steps output zeros (Keras sets the wrapped
    layers' zero_output_for_mask to return_sequences).

    Input shape: (batch, time, features). Output shape: the wrapped layer's, with the last
    axis doubled for concat.
    """

    torch_layout_default = "spec"
    mask_policy = "pass"  # Keras: supports_masking; compute_mask keeps the mask with return_sequences only
    uses_mask = True
    examples = (
        Example({"layer": {"type": "LSTM", "name": "enc", "units": 3, "return_sequences": True}}, ((None, 4),),
                data_formats=("channels_last",)),
        Example({"layer": {"type": "GRU", "units": 2}, "merge_mode": "sum"}, ((None, 3),),
                data_formats=("channels_last",)),
        Example({"layer": {"type": "SimpleRNN", "units": 3, "return_sequences": True}, "merge_mode": "mul",
                 "backward_layer": {"type": "SimpleRNN", "name": "back", "units": 3, "return_sequences": True,
                                    "go_backwards": True, "activation": "relu"}}, ((5, 2),),
                data_formats=("channels_last",)),
        Example({"layer": {"type": "GRU", "units": 2, "reset_after": False}, "merge_mode": "ave"}, ((6, 3),),
                data_formats=("channels_last",)),
    )

    layer: NestedLayer = Field(..., description="The recurrent layer: a mapping with its type and parameters.")
    merge_mode: Literal["concat", "sum", "ave", "mul"] | None = Field(
        "concat", description="How the forward and backward outputs combine: concat, sum, ave or mul.")
    backward_layer: NestedLayer | None = Field(
        None, description="The backward layer; default: a copy of layer with go_backwards true.")

    @field_validator("merge_mode")
    @classmethod
    def _one_output(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("merge_mode null gives two output tensors in Keras, and a spec layer has one output: "
                             "use concat, sum, ave or mul (or two recurrent layers, one with go_backwards)")
        return value

    @model_validator(mode="after")
    def _recurrent_pair(self):
        from archspec.layers.recurrent.base_rnn import BaseRNN

        for key, layer in (("layer", self.layer), ("backward_layer", self.backward_layer)):
            if layer is not None and not isinstance(layer, BaseRNN):
                raise problem((key, "type"), f"Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), "
                              f"not {layer.type_name}", layer.type_name)
        backward = self.backward
        given = "backward_layer" if self.backward_layer is not None else "layer"
        if self.forward.go_backwards == backward.go_backwards:
            raise problem((given,), "the forward and the backward layer have the same go_backwards "
                          f"({backward.go_backwards}): give backward_layer the opposite"
                          if self.backward_layer is not None else
                          "layer has go_backwards true: the backward copy would run the same way; "
                          "give a backward_layer, or leave go_backwards false", backward.go_backwards)
        if self.forward.return_sequences != backward.return_sequences:
            raise problem((given,), "layer and backward_layer must agree on return_sequences",
                          backward.return_sequences)
        if backward.name == self.forward.name:
            raise problem((given,), f"layer and backward_layer have the same name '{backward.name}' inside "
                          "the wrapper", backward.name)
        return self

    @property
    def forward(self):
        """The forward layer as Keras makes it: renamed, zero outputs at masked steps with sequences."""
        return self.layer.model_copy(update={"name": _renamed(self.layer.name, "forward_"),
                                             "zero_output_for_mask": self.layer.return_sequences})

    @property
    def backward(self):
        if self.backward_layer is not None:
            layer = self.backward_layer
        else:
            layer = self.layer.model_copy(update={"name": _renamed(self.layer.name, "backward_"),
                                                  "go_backwards": True})
        return layer.model_copy(update={"zero_output_for_mask": layer.return_sequences})

    def output_shape(self, input_shapes: list[Shape], data_format: DataFormat) -> Shape:
        forward = self.forward.output_shape(input_shapes, data_format)
        backward = self.backward.output_shape(input_shapes, data_format)
        if tuple(forward) != tuple(backward):
            raise ShapeError(f"has a backward layer whose output {backward} differs from the forward one's {forward}")
        if self.merge_mode == "concat":
            return (*forward[:-1], 2 * forward[-1])
        return tuple(forward)

    def weights(self, input_shapes, data_format):
        forward, backward = self.forward, self.backward
        return (prefixed(forward.name, forward.weights(input_shapes, data_format))
                + prefixed(backward.name, backward.weights(input_shapes, data_format)))

    def macs(self, input_shapes, output_shape, data_format):
        return sum(layer.macs(input_shapes, layer.output_shape(input_shapes, data_format), data_format)
                   for layer in (self.forward, self.backward))

    @property
    def stochastic(self) -> bool:  # type: ignore[override]
        return self.forward.stochastic or self.backward.stochastic

    # --- PyTorch: each direction runs in a module of its own (module.sublayers)

    def torch_sublayers(self, input_shapes, data_format):
        return [(layer.name, layer, input_shapes, False) for layer in (self.forward, self.backward)]

    def torch_setup(self, module, input_shapes, data_format):
        module.forward_layer = module.sublayers[self.forward.name]
        module.backward_layer = module.sublayers[self.backward.name]

    def torch_forward(self, module, x, mask=None):
        import torch

        y = module.forward_layer(x, mask=mask)
        y_rev = module.backward_layer(x, mask=mask)
        if self.layer.return_sequences:
            y_rev = torch.flip(y_rev, (1,))  # the backward layer's outputs come in its reversed order
        if self.merge_mode == "concat":
            return torch.cat([y, y_rev], dim=-1)
        if self.merge_mode == "sum":
            return y + y_rev
        if self.merge_mode == "ave":
            return (y + y_rev) / 2
        return y * y_rev

    def torch_mask(self, module, inputs, masks):
        return masks[0] if self.layer.return_sequences else None

    # --- Keras

    def keras_layer(self, data_format: DataFormat, name: str):
        import keras

        backward = None
        if self.backward_layer is not None:
            backward = self.backward_layer.keras_layer(data_format, self.backward_layer.name)
        return keras.layers.Bidirectional(self.layer.keras_layer(data_format, self.layer.name),
                                          merge_mode=self.merge_mode, backward_layer=backward, name=name)
