"""Wrappers: TimeDistributed runs the wrapped layer on every step, the steps folded into the batch.
(Bidirectional lives with the recurrent layers it wraps.)"""

from __future__ import annotations

import re

from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer, emits, emitter
from archspec.codegen.torch_layers.activations import activation_steps
from archspec.codegen.torch_layers.helpers import HELPERS
from archspec.spec.graph import Node

HELPERS["each_step"] = '''def each_step(layer, x, channels_first=False, per_step=False):
    """Keras's TimeDistributed: `layer` on every step of x (batch, steps, ...), the steps
    folded into the batch. channels_first: the layer takes channels first (PyTorch's layout)
    and the steps have them last; per_step: one step at a time, as Keras runs a layer that
    keeps batch statistics in training (each step has statistics of its own)."""
    if channels_first:
        x = x.movedim(-1, 2)
    if per_step:
        y = torch.stack([layer(step) for step in x.unbind(1)], dim=1)
    else:
        y = layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])
    return y.movedim(2, -1) if channels_first and y.dim() > 3 else y
'''


def inner_context(ctx: Context, layer, input_shapes: list, inside: bool, masks: tuple) -> Context:
    """The context of a layer a wrapper holds, as archspec's torch_sublayers builds it."""
    df = ctx.data_format
    node = Node(layer.name, layer, list(ctx.node.inputs), tuple(layer.output_shape(input_shapes, df)),
                list(input_shapes), layer.weights(input_shapes, df))
    return Context(node, df, layer.torch_layout(input_shapes, df), inside, len(input_shapes), masks)


def _shifted(template: str, by: int) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: "{" + str(int(m.group(1)) + by) + "}", template)


@emits("TimeDistributed")
def _time_distributed(ctx: Context) -> TorchLayer:
    cfg, df = ctx.cfg, ctx.data_format
    layer = cfg.layer
    child = tuple(ctx.node.input_shapes[0][1:])
    fn = emitter(layer.type_name)
    if fn is None:
        raise Refused(f"TimeDistributed of {layer.type_name} has no generated PyTorch form yet")
    # as archspec's TimeDistributed: a layer that wants channels first gets each step so
    inside = df == "channels_last" and len(child) >= 2 and layer.torch_layout([child], df) == "channels_first"
    try:
        inner = fn(inner_context(ctx, layer, [child], inside, (False,)))
    except Refused as exc:
        raise Refused(f"TimeDistributed of {exc}") from None
    steps, after = list(inner.steps), []
    # an activation closes the folded steps: it runs on the unfolded output, on its last axis
    name = layer.activation_name
    if name != "linear":
        own = activation_steps(name, inside)
        if steps[-len(own):] == own:
            steps, after = steps[:-len(own)], activation_steps(name, False)
    per_step = any(not w.trainable for w in layer.weights([child], df))
    if not steps:
        return TorchLayer(steps=after)
    # the wrapped layer's statements nested into one function of the folded steps
    expr, values, hints, comments = "x", [], [], []
    for index, step in enumerate(steps):
        template = _shifted(step.template, len(values)).replace("{x0}", "{x}")
        if index and template.count("{x}") > 1:
            raise Refused(f"TimeDistributed of {layer.type_name} reads an intermediate value twice; "
                          "it has no generated PyTorch form yet")
        expr = template.replace("{x}", expr)
        values += step.values
        hints += step.hints
        comments += [step.comment] if step.comment else []
    args = ["{m}" if expr == "{m}(x)" else f"lambda x: {expr}", "{x}"]
    if inside:
        args.append("channels_first=True")
    if per_step:
        args.append("per_step=self.training")
    fold = Step(f"each_step({', '.join(args)})", tuple(values), tuple(hints), "; ".join(comments) or None)
    return TorchLayer(module=inner.module, steps=[fold, *after], module_class=inner.module_class,
                      weights={f"{layer.name}/{k}": v for k, v in inner.weights.items()},
                      helpers=(*inner.helpers, "each_step"))
