"""Recurrent layers: SimpleRNN, LSTM and GRU as classes the file defines, each a plain loop over
the time steps in Keras's gate order, with Keras's masks."""

from __future__ import annotations

import re

from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer, ctor, emits
from archspec.codegen.torch_layers.activations import _EXPRESSIONS
from archspec.codegen.writer import Raw, identifier

_CALLABLE = re.compile(r"^((?:F|torch)\.\w+)\(\{x\}\)$")


def cell_activation(name: str) -> Raw:
    """Keras's activation `name` as a PyTorch callable: `torch.tanh`, or a lambda."""
    if name == "linear":
        return Raw("nn.Identity()")
    if name not in _EXPRESSIONS or "{0}" in _EXPRESSIONS[name][0]:
        raise Refused(f"activation '{name}' inside a recurrent cell has no generated PyTorch form yet")
    template = _EXPRESSIONS[name][0]
    match = _CALLABLE.match(template)
    return Raw(match.group(1) if match else "lambda x: " + template.replace("{x}", "x"))


def recurrent_layer(cfg, features: int, mask: bool) -> TorchLayer:
    """The module and weight layout of one SimpleRNN/LSTM/GRU config (also inside Bidirectional)."""
    if cfg.dropout > 0 or cfg.recurrent_dropout > 0:
        raise Refused(f"{cfg.type_name} with dropout or recurrent_dropout has no generated PyTorch form yet")
    cls = cfg.type_name
    args = [("input_size", features, True), ("units", cfg.units, True)]
    if not cfg.use_bias:
        args.append(("bias", False, False))
    if cls == "GRU" and not cfg.reset_after:
        args.append(("reset_after", False, False))
    for key in ("return_sequences", "go_backwards", "zero_output_for_mask"):
        if getattr(cfg, key):
            args.append((key, True, False))
    if cfg.activation != "tanh":
        args.append(("activation", cell_activation(cfg.activation), False))
    if getattr(cfg, "recurrent_activation", "sigmoid") != "sigmoid":
        args.append(("recurrent_activation", cell_activation(cfg.recurrent_activation), False))
    cell = cfg.cell_name
    return TorchLayer(module=ctor(cls, args), steps=[Step("{m}({x}, mask={mask})" if mask else "{m}({x})")],
                      module_class=cls, weights={f"{cell}/kernel": ("weight_ih", (1, 0)),
                                                 f"{cell}/recurrent_kernel": ("weight_hh", (1, 0)),
                                                 f"{cell}/bias": ("bias", None)},
                      helpers=("Recurrent", cls))


@emits("SimpleRNN", "LSTM", "GRU")
def _recurrent(ctx: Context) -> TorchLayer:
    return recurrent_layer(ctx.cfg, ctx.node.input_shapes[0][-1], ctx.masks[0])


def _shifted(template: str, by: int) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: "{" + str(int(m.group(1)) + by) + "}", template)


@emits("Bidirectional")
def _bidirectional(ctx: Context) -> TorchLayer:
    cfg, features = ctx.cfg, ctx.node.input_shapes[0][-1]
    parts, values, hints, weights, helpers = [], [], [], {}, ["Bidirectional"]
    for layer, role in ((cfg.forward, "forward"), (cfg.backward, "backward")):
        inner = recurrent_layer(layer, features, True)
        template, inner_values, inner_hints = inner.module
        parts.append(_shifted(template, len(values)))
        values += inner_values
        hints += [f"{role}_{h}" for h in inner_hints]
        attr = identifier(layer.name)
        weights.update({f"{layer.name}/{k}": (f"{attr}.{a}", p) for k, (a, p) in inner.weights.items()})
        helpers += [h for h in inner.helpers if h not in helpers]
    names = (identifier(cfg.forward.name), identifier(cfg.backward.name))
    template = f"Bidirectional({parts[0]}, {parts[1]}, {{{len(values)}}}"
    values.append(names)
    hints.append("names")
    if cfg.merge_mode != "concat":
        template += f", {{{len(values)}}}"
        values.append(cfg.merge_mode)
        hints.append("merge_mode")
    mask = ", mask={mask}" if ctx.masks[0] else ""
    return TorchLayer(module=(template + ")", tuple(values), tuple(hints)), steps=[Step(f"{{m}}({{x}}{mask})")],
                      module_class="Bidirectional", weights=weights, helpers=tuple(helpers))
