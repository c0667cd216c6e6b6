"""The PyTorch backend: a plain `nn.Module` from a resolved spec.

The module takes the spec's inputs positionally, in the spec's layout (NHWC for a
channels_last spec), and returns a tensor or a tuple in the spec's output order. Its
submodules are named after the spec's layers, so `state_dict()` reads like the spec.
"""

from __future__ import annotations

import torch
from torch import nn

from archspec.backends.torch.module import LayerModule
from archspec.spec import Spec
from archspec.weights import Weights, check_weights


def to_channels_first(rank: int) -> tuple[int, ...]:
    """Permutation of a batched tensor with `rank` per-sample axes: (N, ..., C) -> (N, C, ...)."""
    return (0, rank, *range(1, rank))


def to_channels_last(rank: int) -> tuple[int, ...]:
    return (0, *range(2, rank + 1), 1)


class ArchspecModel(nn.Module):
    def __init__(self, spec: Spec):
        super().__init__()
        self.spec = spec
        self.layers = nn.ModuleDict()
        channels_last = spec.data_format == "channels_last"
        # internal[name]: the tensor is a channels_last spec's tensor held channels-first
        internal = {i.name: False for i in spec.inputs}
        rank = {i.name: len(i.shape) for i in spec.inputs}
        self._plan: list[tuple[str, LayerModule, list[tuple[str, tuple | None]]]] = []
        for node in spec.nodes:
            want = node.layer.torch_layout(node.input_shapes, spec.data_format)
            if want == "any":  # keep the inputs' layout, unless they disagree
                flags = {internal[r] for r in node.inputs}
                want = "channels_first" if flags == {True} else "spec"
            steps = []
            for ref in node.inputs:
                permute = None
                if channels_last and rank[ref] >= 2:
                    if want == "channels_first" and not internal[ref]:
                        permute = to_channels_first(rank[ref])
                    elif want == "spec" and internal[ref]:
                        permute = to_channels_last(rank[ref])
                steps.append((ref, permute))
            inside = channels_last and want == "channels_first"
            layer = LayerModule(node.layer, node.input_shapes, spec.data_format, inside)
            self.layers[node.name] = layer
            if not node.trainable:
                layer.requires_grad_(False)
            self._plan.append((node.name, layer, steps))
            rank[node.name] = len(node.output_shape)
            internal[node.name] = inside and rank[node.name] >= 2
        self._internal = internal
        self._logit_outputs = {
            o for o in spec.outputs
            if spec.node(o).layer.activation_name in ("softmax", "sigmoid")
        }
        # free each intermediate tensor after its last use: keeping them all alive defeats the
        # allocator's reuse of memory and costs ~10% on CPU
        last_use: dict[str, int] = {}
        for index, (_, _, steps) in enumerate(self._plan):
            for ref, _ in steps:
                last_use[ref] = index
        keep = set(spec.outputs)
        self._release: list[list[str]] = [[] for _ in self._plan]
        for ref, index in last_use.items():
            if ref not in keep:
                self._release[index].append(ref)
        self._outputs = [(o, to_channels_last(rank[o]) if internal[o] else None) for o in spec.outputs]
        self._input_names = [i.name for i in spec.inputs]

    def _execute(self, inputs, logits: dict | None = None, every: dict | None = None) -> dict[str, torch.Tensor]:
        """Run the plan. `logits` collects the pre-activations of softmax/sigmoid outputs; `every`
        collects every layer's output in the spec's layout (and keeps intermediates alive for it)."""
        values = dict(zip(self._input_names, inputs))
        # masks[name]: the boolean (batch, steps...) mask Keras would attach to that tensor
        masks: dict[str, torch.Tensor] = {}
        for (name, layer, steps), release in zip(self._plan, self._release):
            args = [values[ref] if p is None else values[ref].permute(p) for ref, p in steps]
            in_masks = [masks.get(ref) for ref, _ in steps] if masks else None
            if every is None:
                for ref in release:
                    del values[ref]
                    masks.pop(ref, None)
            if getattr(layer.cfg, "masks_per_input", False):  # Keras's query_mask, value_mask, ... (attention)
                mask = in_masks
            else:
                mask = in_masks[0] if in_masks else None  # Keras hands a layer its first input's mask
            if logits is not None and name in self._logit_outputs:
                logits[name] = layer.pre_activation(*args, mask=mask)
                values[name] = layer.act(logits[name])
            else:
                values[name] = layer(*args, mask=mask)
            policy = layer.cfg.mask_policy
            if policy == "produce" or (in_masks is not None and policy != "drop" and policy != "consume"):
                out_mask = layer.cfg.torch_mask(layer, tuple(args), in_masks or [None] * len(args))
                if out_mask is not None:
                    masks[name] = out_mask
            del args
            if every is not None:
                every[name] = values[name].permute(to_channels_last(values[name].dim() - 1)) if self._internal[name] else values[name]
        return values

    def forward(self, *inputs: torch.Tensor):
        if len(inputs) != len(self._input_names):
            raise TypeError(f"{self.spec.name} takes {len(self._input_names)} input(s) "
                            f"({', '.join(self._input_names)}), got {len(inputs)}")
        values = self._execute(inputs)
        outs = tuple(values[o] if p is None else values[o].permute(p).contiguous() for o, p in self._outputs)
        return outs[0] if len(outs) == 1 else outs

    def forward_train(self, *inputs: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """(output, logits) per output; logits where the output ends in softmax or sigmoid.

        Keras computes cross-entropy from those logits (stable), and so does archspec.
        """
        logits: dict[str, torch.Tensor] = {}
        values = self._execute(inputs, logits=logits)
        result = []
        for name, permute in self._outputs:
            out, logit = values[name], logits.get(name)
            if permute is not None:
                out = out.permute(permute)
                logit = logit.permute(permute) if logit is not None else None
            result.append((out, logit))
        return result

    def forward_all(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer's output, in the spec's layout (for layer-by-layer checks)."""
        every: dict[str, torch.Tensor] = {}
        self._execute(inputs, every=every)
        return every

    def get_neutral_weights(self) -> Weights:
        weights: Weights = {}
        for name, layer in self.layers.items():
            for key, value in layer.neutral().items():
                weights[f"{name}/{key}"] = value
        return weights

    def set_neutral_weights(self, weights: Weights) -> None:
        check_weights(self.spec, weights)
        for node in self.spec.nodes:
            if node.weights:
                self.layers[node.name].load_neutral({w.name: weights[f"{node.name}/{w.name}"] for w in node.weights})


def predict(model: ArchspecModel, arrays: list) -> list:
    """Inference-mode outputs as a list of numpy arrays in the spec's output order."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            outputs = model(*[torch.as_tensor(a) for a in arrays])
    finally:
        model.train(was_training)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return [o.numpy() for o in outputs]


def layer_outputs(model: ArchspecModel, spec: Spec, arrays: list) -> dict:
    model.eval()
    with torch.inference_mode():
        return {k: v.numpy() for k, v in model.forward_all(*[torch.as_tensor(a) for a in arrays]).items()}


def build_model(spec: Spec, weights: Weights | None = None) -> ArchspecModel:
    model = ArchspecModel(spec)
    if weights is not None:
        model.set_neutral_weights(weights)
    return model.eval()
