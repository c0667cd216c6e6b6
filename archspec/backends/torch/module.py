"""The one `nn.Module` every layer type runs in.

It holds the layer's weights in PyTorch's layout (parameters, or buffers for what Keras
keeps non-trainable), converts them to and from Keras's layout as each `Weight` says, and
calls the layer config's own `torch_forward`. No layer type needs a class of its own here.
"""

from __future__ import annotations

import torch
from torch import nn

from archspec.activations import AXIS_ACTIVATIONS
from archspec.backends.torch import ops
from archspec.layers import Layer
from archspec.layers.base import DataFormat, Shape


class LayerModule(nn.Module):
    def __init__(self, cfg: Layer, input_shapes: list[Shape], data_format: DataFormat, channels_first_inside: bool):
        super().__init__()
        self.cfg = cfg
        self.data_format = data_format
        self.input_shapes = input_shapes
        self.layout = cfg.torch_layout(input_shapes, data_format)
        # a channels_last spec's image-like tensors reach this layer channels-first
        self.internal_channels_first = channels_first_inside
        # a wrapper's wrapped layers (TimeDistributed, Bidirectional) run in modules of their own,
        # which hold the weights under their prefix (`forward_enc/lstm_cell/kernel`)
        sublayers = getattr(cfg, "torch_sublayers", None)
        if sublayers is not None:
            self.sublayers = nn.ModuleDict({
                prefix: LayerModule(sub, shapes, data_format, inside)
                for prefix, sub, shapes, inside in sublayers(input_shapes, data_format)
            })
        held = tuple(f"{prefix}/" for prefix in getattr(self, "sublayers", ()))
        self.weight_specs = [w for w in cfg.weights(input_shapes, data_format) if not w.name.startswith(held)]
        for weight in self.weight_specs:
            tensor = torch.from_numpy(weight.to_torch(ops.init_tensor(weight.initializer, weight.shape).numpy()))
            if weight.trainable:
                setattr(self, weight.attribute, nn.Parameter(tensor))
            else:
                self.register_buffer(weight.attribute, tensor)
        name = cfg.activation_name
        # Keras applies softmax & co. over the last axis of the spec's layout: channels (dim 1)
        # when this layer runs a channels_last spec's tensor channels-first
        dim = 1 if name in AXIS_ACTIVATIONS and channels_first_inside else -1
        self.act = ops.activation(name, dim)
        self.has_activation = name != "linear"
        cfg.torch_setup(self, input_shapes, data_format)

    def pre_activation(self, *inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None and self.cfg.uses_mask:
            return self.cfg.torch_forward(self, *inputs, mask=mask)
        return self.cfg.torch_forward(self, *inputs)

    def forward(self, *inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        out = self.pre_activation(*inputs, mask=mask)
        return self.act(out) if self.has_activation else out

    def neutral(self) -> dict:
        """This layer's weights in Keras's layout, by Keras variable path."""
        own = {w.name: w.from_torch(ops.to_numpy(getattr(self, w.attribute))) for w in self.weight_specs}
        for prefix, sub in getattr(self, "sublayers", {}).items():
            own.update({f"{prefix}/{key}": value for key, value in sub.neutral().items()})
        return own

    def load_neutral(self, weights: dict) -> None:
        for w in self.weight_specs:
            ops.copy_into(getattr(self, w.attribute), w.to_torch(weights[w.name]))
        for prefix, sub in getattr(self, "sublayers", {}).items():
            sub.load_neutral({key[len(prefix) + 1:]: value for key, value in weights.items()
                              if key.startswith(f"{prefix}/")})

    def extra_repr(self) -> str:
        return self.cfg.type_name
