"""Dense, EinsumDense, Embedding, PositionEmbedding, Masking."""

from __future__ import annotations

import re

from archspec.codegen.torch_layers import Context, Step, TorchLayer, ctor, emits
from archspec.codegen.torch_layers.activations import activation_steps
from archspec.codegen.torch_layers.helpers import HELPERS

HELPERS["EinsumDense"] = '''class EinsumDense(nn.Module):
    """Keras's EinsumDense: einsum(equation, x, kernel) + bias, both in Keras's layout."""

    def __init__(self, equation, kernel_shape, bias_shape=None):
        super().__init__()
        self.equation = equation
        self.kernel = nn.Parameter(torch.zeros(kernel_shape))
        self.bias = None
        if bias_shape is not None:
            self.bias = nn.Parameter(torch.zeros(bias_shape))

    def forward(self, x):
        y = torch.einsum(self.equation, x, self.kernel)
        return y if self.bias is None else y + self.bias
'''


@emits("Dense")
def _dense(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    args = [("in_features", ctx.node.input_shapes[0][-1], True), ("out_features", cfg.units, True)]
    if not cfg.use_bias:
        args.append(("bias", False, False))
    return TorchLayer(module=ctor("nn.Linear", args), steps=[Step("{m}({x})"), *activation_steps(cfg.activation, False)],
                      module_class="Linear", weights={"kernel": ("weight", (1, 0)), "bias": ("bias", None)})


def _is_linear(equation: str, bias_axes: str | None) -> bool:
    """Whether the equation is a Dense on the last axis (`abc,cd->abd`, `...b,bc->...c`)."""
    inputs, kernel, output = re.split(r",|->", equation)
    if inputs.endswith("..."):
        return False
    inputs, output = inputs.replace("...", ""), output.replace("...", "")
    return (len(set(inputs)) == len(inputs) and len(kernel) == 2 and kernel[0] == inputs[-1]
            and kernel[1] not in inputs and output == inputs[:-1] + kernel[1] and bias_axes in (None, kernel[1]))


@emits("EinsumDense")
def _einsum_dense(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    kernel = ctx.node.weights[0].shape
    bias = ctx.node.weights[1].shape if len(ctx.node.weights) > 1 else None
    activation = activation_steps(cfg.activation, ctx.inside)
    if _is_linear(cfg.equation, cfg.bias_axes):
        args = [("in_features", kernel[0], True), ("out_features", kernel[1], True)]
        if bias is None:
            args.append(("bias", False, False))
        return TorchLayer(module=ctor("nn.Linear", args), steps=[Step("{m}({x})"), *activation],
                          module_class="Linear", weights={"kernel": ("weight", (1, 0)), "bias": ("bias", None)})
    args = [("equation", cfg.equation, True), ("kernel_shape", tuple(kernel), True)]
    if bias is not None:
        args.append(("bias_shape", tuple(bias), True))
    return TorchLayer(module=ctor("EinsumDense", args), steps=[Step("{m}({x})"), *activation],
                      module_class="EinsumDense", weights={"kernel": ("kernel", None), "bias": ("bias", None)},
                      helpers=("EinsumDense",))


@emits("Embedding")
def _embedding(ctx: Context) -> TorchLayer:
    cfg = ctx.cfg
    return TorchLayer(module=ctor("nn.Embedding", [("num_embeddings", cfg.input_dim, True),
                                                   ("embedding_dim", cfg.output_dim, True)]),
                      steps=[Step("{m}({x}.long())")], module_class="Embedding",
                      weights={"embeddings": ("weight", None)})


@emits("PositionEmbedding")
def _position_embedding(ctx: Context) -> TorchLayer:
    return TorchLayer(module=ctor("PositionEmbedding", [("sequence_length", ctx.cfg.sequence_length, True),
                                                        ("features", ctx.node.input_shapes[0][-1], True)]),
                      steps=[Step("{m}({x})")], module_class="PositionEmbedding",
                      weights={"embeddings": ("embeddings", None)}, helpers=("PositionEmbedding",))


@emits("Masking")
def _masking(ctx: Context) -> TorchLayer:
    # the mask itself is the plan's (mask_lines); the values of masked steps become zeros
    return TorchLayer(steps=[Step("{x} * ({x} != {0}).any(dim=-1, keepdim=True)", (float(ctx.cfg.mask_value),),
                                  ("mask_value",))])
