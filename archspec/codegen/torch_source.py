"""Standalone PyTorch source from a resolved spec: blocks as nn.Module classes, the model, `build()`,
`load_weights()` for the neutral safetensors file, and a `__main__` that prints a summary.

The model takes the spec's inputs in the spec's layout, as archspec's own PyTorch build does, and
runs image-like tensors channels-first inside (PyTorch's native layout), with the same transposes
at the same places as `archspec.backends.torch`.
"""

from __future__ import annotations

import re

from archspec.codegen import torch_layers
from archspec.codegen.structure import (
    CodegenError, Definition, Repeat, Use, definitions, item_inputs, item_output, local_name, scope_inputs,
    scope_outputs, scope_variables, structure,
)
from archspec.codegen.torch_layers import Context, Refused, Step, TorchLayer
from archspec.codegen.torch_layers.activations import activation_helpers
from archspec.codegen.torch_layers.helpers import HELPERS, helper_order
from archspec.codegen.writer import (
    INDENT, LINE_LENGTH, Code, Param, Raw, call, class_name, docstring, identifier, literal, module_docstring, split_call,
)
from archspec.spec.graph import Node, Spec


def to_channels_first(rank: int) -> tuple[int, ...]:
    return (0, rank, *range(1, rank))


def to_channels_last(rank: int) -> tuple[int, ...]:
    return (0, *range(2, rank + 1), 1)


class _Plan:
    """Layouts, permutes and each node's emitted layer, as archspec.backends.torch plans them."""

    def __init__(self, spec: Spec):
        self.spec = spec
        channels_last = spec.data_format == "channels_last"
        internal = {i.name: False for i in spec.inputs}
        rank = {i.name: len(i.shape) for i in spec.inputs}
        self.permutes: dict[str, list[tuple | None]] = {}
        # Keras's masks: the variable holding each tensor's (batch, steps) mask, and the line
        # that computes a node's new mask from its inputs ({x0}...) and their masks ({mask0}...)
        self.mask_of: dict[str, str] = {}
        self.masks: dict[str, list[str | None]] = {}
        self.mask_lines: dict[str, Step] = {}
        self.layers: dict[str, TorchLayer] = {}
        refused: dict[str, str] = {}
        for node in spec.nodes:
            want = node.layer.torch_layout(node.input_shapes, spec.data_format)
            if want == "any":
                flags = {internal[r] for r in node.inputs}
                want = "channels_first" if flags == {True} else "spec"
            permutes = []
            for ref in node.inputs:
                permute = None
                if channels_last and rank[ref] >= 2:
                    if want == "channels_first" and not internal[ref]:
                        permute = to_channels_first(rank[ref])
                    elif want == "spec" and internal[ref]:
                        permute = to_channels_last(rank[ref])
                permutes.append(permute)
            inside = channels_last and want == "channels_first"
            self.permutes[node.name] = permutes
            layout = node.layer.torch_layout(node.input_shapes, spec.data_format)
            in_masks = [self.mask_of.get(ref) for ref in node.inputs]
            self.masks[node.name] = in_masks
            ctx = Context(node, spec.data_format, layout, inside, len(node.inputs), tuple(m is not None for m in in_masks))
            fn = torch_layers.emitter(node.type)
            try:
                if fn is None:
                    raise Refused(f"{node.type} has no generated PyTorch form yet")
                self.layers[node.name] = fn(ctx)
                self._plan_mask(node, in_masks)
            except Refused as exc:
                refused.setdefault(node.type, f"{exc} (layer '{node.name}')")
            rank[node.name] = len(node.output_shape)
            internal[node.name] = inside and rank[node.name] >= 2
        if refused:
            raise CodegenError("cannot write PyTorch source for this spec: " + "; ".join(refused.values()))
        self.internal = internal
        needed: set[str] = set()  # masks some layer reads: the others are not computed
        for node in reversed(spec.nodes):
            if node.name in self.mask_lines:
                if self.mask_of[node.name] not in needed:
                    del self.mask_lines[node.name]
                    continue
                needed.update(m for m in self.masks[node.name] if m)
            if node.layer.uses_mask:
                needed.update(m for m in self.masks[node.name] if m)


    def _plan_mask(self, node: Node, in_masks: list[str | None]) -> None:
        """Keras's compute_mask for `node`, as archspec.backends.torch carries masks."""
        cfg, policy = node.layer, node.layer.mask_policy
        variable = identifier(local_name(node.name)) + "_mask"
        if variable in self.mask_of.values():  # another scope's layer of that name made one already
            variable = identifier(node.name.replace("/", "_")) + "_mask"
        if node.type in ("Embedding", "Masking") and (node.type == "Masking" or cfg.mask_zero):
            value = "0" if node.type == "Embedding" else literal(float(cfg.mask_value))
            expr = "{x0} != 0" if node.type == "Embedding" else f"({{x0}} != {value}).any(dim=-1)"
            self.mask_lines[node.name] = Step(expr)
            self.mask_of[node.name] = variable
            return
        if not any(in_masks) or policy in ("drop", "consume", "produce"):
            if any(in_masks) and policy == "produce":
                raise Refused(f"{node.type} of masked tensors has no generated PyTorch form yet")
            return
        if policy == "merge":
            if all(in_masks) and len(set(in_masks)) == 1:  # a residual: one mask on both sides
                self.mask_of[node.name] = in_masks[0]
            elif all(in_masks):
                self.mask_lines[node.name] = Step(" | ".join(f"{{mask{i}}}" for i in range(len(in_masks))))
                self.mask_of[node.name] = variable
            return
        recurrent = cfg.layer if node.type == "Bidirectional" else cfg
        if getattr(recurrent, "return_sequences", True) is False:  # a recurrent layer's last step: no mask
            return
        if in_masks[0] is not None:
            self.mask_of[node.name] = in_masks[0]


class TorchWriter:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.plan = _Plan(spec)
        self.model = structure(spec)
        self.defs: dict[str, Definition] = {}
        self.weights: dict[str, dict[str, tuple]] = {}
        for node in spec.nodes:
            layer = self.plan.layers[node.name]
            if node.weights and layer.module_class is None:
                raise CodegenError(f"internal: the PyTorch form of {node.type} holds no weights")
            if layer.module_class:
                table = self.weights.setdefault(layer.module_class, {})
                for weight in node.weights:
                    entry = layer.weights[weight.name]
                    if table.setdefault(weight.name, entry) != entry:
                        raise CodegenError(f"internal: two layouts for {layer.module_class}.{weight.name}")

    # ------------------------------------------------------------ one scope's lines

    def _in_channels(self, use: Use):
        shape = self.spec.shape_of(use.input)
        if len(shape) >= 2 and self.spec.data_format == "channels_first":
            return shape[0]
        return shape[-1]

    def body(self, use: Use) -> list[Code]:
        spec = self.spec
        names = scope_variables(spec, use)
        attrs: set[str] = set()
        lines: list[Code] = []
        inputs = scope_inputs(spec, use)
        mask_args, mask_out = self._mask_flow(use) if use.block is not None else ([], None)
        args = ", ".join([*(names[i] for i in inputs), *mask_args])
        lines.append(Code(f"def forward(self, {args}):", section="forward"))
        for item in use.items:
            out = names[item_output(item)]
            ins = [names[r] for r in item_inputs(item)]
            if isinstance(item, Node):
                lines += self._node_lines(item, ins, out, attrs, use)
                continue
            if isinstance(item, Use) and item.name in self.hoisted:
                ins[0] += f".permute{literal(self.hoisted[item.name])}"
            attr = self._attr(item.local, attrs, item)
            flows = [self._mask_flow(u) for u in (item.uses if isinstance(item, Repeat) else [item])]
            reads = list(dict.fromkeys(m for flow, _ in flows for m in flow))
            made = next((m for _, m in flows if m), None)
            call = f"self.{attr}({', '.join([*ins, *reads])})"
            if isinstance(item, Use):
                definition = self.defs[item.name]
                values = definition.args[item.name]
                lines.append(self._call_code(attr, definition.name, values))
            else:
                lines += self._repeat_code(attr, item)
                if reads or made:  # nn.Sequential passes one tensor: the blocks and their masks in a loop
                    if made or len(ins) != 1:
                        raise CodegenError(f"repeated block '{item.name}' makes a Keras mask; not written yet")
                    lines.append(Code(f"for block in self.{attr}:", section="forward"))
                    lines.append(Code(f"{INDENT}{out} = block({', '.join([*ins, *reads])})", section="forward"))
                    continue
            target = f"{out}, {made}" if made else out
            lines.append(Code(f"{target} = {call}", section="forward", chain="block"))
        outs = []
        for name in scope_outputs(spec, use):
            expr = names[name]
            if use.block is None and self.plan.internal.get(name):
                expr += f".permute{literal(to_channels_last(len(spec.node(name).output_shape)))}.contiguous()"
            outs.append(expr)
        if mask_out:
            outs.append(mask_out)
        lines.append(Code(f"return {', '.join(outs)}", section="forward", chain="return"))
        return lines

    def _hoist(self, scope: Use) -> None:
        """Block uses whose input every reader inside permutes the same way (a channels_last tensor
        entering channels-first layers) get the permute at their call instead, so that uses with and
        without the layout change share one class."""
        for item in scope.items:
            if isinstance(item, Repeat):
                for member in item.uses:
                    self._hoist(member)
            if not isinstance(item, Use):
                continue
            self._hoist(item)
            readers = [n for n in item.items if item.input in item_inputs(n)]
            if not readers or not all(isinstance(n, Node) for n in readers):
                continue
            permutes = {p for n in readers for ref, p in zip(n.inputs, self.plan.permutes[n.name]) if ref == item.input}
            if len(permutes) == 1 and None not in permutes:
                self.hoisted[item.name] = permutes.pop()

    def _mask_flow(self, use: Use) -> tuple[list[str], str | None]:
        """The Keras masks a block use reads from outside (extra arguments of its forward, in order of
        first use), and the mask it makes for its output when a layer outside reads that mask."""
        inside: set[str] = set()
        reads: list[str] = []
        made: set[str] = set()

        def walk(item) -> None:
            if isinstance(item, Repeat):
                for member in item.uses:
                    walk(member)
            elif isinstance(item, Use):
                for child in item.items:
                    walk(child)
            else:
                inside.add(item.name)
                reads.extend(m for m in self._mask_reads(item) if m not in made and m not in reads)
                if item.name in self.plan.mask_lines:
                    made.add(self.plan.mask_of[item.name])

        walk(use)
        out = self.plan.mask_of.get(use.output)
        outside = {m for node in self.spec.nodes if node.name not in inside for m in self._mask_reads(node)}
        return reads, out if out in made and out in outside else None

    def _mask_reads(self, node: Node) -> list[str]:
        """The masks a node's forward steps or mask line read."""
        texts = [step.template for step in self.plan.layers[node.name].steps]
        if node.name in self.plan.mask_lines:
            texts.append(self.plan.mask_lines[node.name].template)
        masks = self.plan.masks[node.name]
        return [m for i, m in enumerate(masks) if m and any(f"{{mask{i}}}" in t or (i == 0 and "{mask}" in t)
                                                          for t in texts)]

    def _attr(self, local: str, attrs: set[str], item) -> str:
        attr = identifier(local)
        if attr in attrs:
            raise CodegenError(f"layer names in one scope give the same attribute '{attr}' ('{local}')")
        attrs.add(attr)
        return attr

    def _call_code(self, attr: str, cls: str, values: tuple) -> Code:
        slots = ", ".join("{" + str(i) + "}" for i in range(len(values)))
        params = self._params_of(cls)
        return Code(f"self.{attr} = {cls}({slots})", tuple(values), tuple(f"{attr}_{p}" for p in params), "init")

    def _params_of(self, cls: str) -> list[str]:
        for definition in self.defs.values():
            if definition.name == cls:
                return definition.params
        return []

    def _repeat_code(self, attr: str, group: Repeat) -> list[Code]:
        defs = [self.defs[u.name] for u in group.uses]
        args = [d.args[u.name] for d, u in zip(defs, group.uses)]
        if any(u.extra_inputs for u in group.uses):
            raise CodegenError(f"repeated block '{group.name}' reads tensors other than its input")
        if len({d.name for d in defs}) == 1 and len(set(map(repr, args))) == 1:
            slots = ", ".join("{" + str(i) + "}" for i in range(len(args[0])))
            n = len(args[0])
            return [Code(f"blocks = [{defs[0].name}({slots}) for _ in range({{{n}}})]",
                         (*args[0], len(group.uses)), (*(f"{attr}_{p}" for p in defs[0].params), f"{attr}_repeat"),
                         "init"),
                    Code(f"self.{attr} = nn.Sequential(*blocks)", section="init")]
        parts, values, hints = [], [], []
        for d, a in zip(defs, args):
            slots = ", ".join("{" + str(len(values) + i) + "}" for i in range(len(a)))
            parts.append(f"{d.name}({slots})")
            values += a
            hints += [f"{attr}_{p}" for p in d.params]
        return [Code(f"self.{attr} = nn.Sequential({', '.join(parts)})", tuple(values), tuple(hints), "init")]

    def _node_lines(self, node: Node, ins: list[str], out: str, attrs: set[str], use: Use) -> list[Code]:
        layer = self.plan.layers[node.name]
        lines: list[Code] = []
        attr = None
        if layer.module is not None:
            attr = self._attr(local_name(node.name), attrs, node)
            template, values, hints = layer.module
            if node.inputs[0] not in scope_inputs(self.spec, use):
                # only a layer reading the block's input takes its channel count as `in_channels`
                hints = tuple(h.replace("in_", "input_") for h in hints)
            lines.append(Code(f"self.{attr} = {template}", values, tuple(f"{attr}_{h}" for h in hints), "init"))
        permutes = [None if use.name in self.hoisted and ref == use.input else p
                    for ref, p in zip(node.inputs, self.plan.permutes[node.name])]
        exprs = [v if p is None else f"{v}.permute{literal(p)}" for v, p in zip(ins, permutes)]
        masks = self.plan.masks[node.name]

        def fill(text: str) -> str:
            for i, mask in enumerate(masks):
                text = text.replace(f"{{mask{i}}}", mask or "None")
            return text.replace("{mask}", masks[0] or "None") if masks else text

        if node.name in self.plan.mask_lines:
            text = self.plan.mask_lines[node.name].template
            for i, expr in enumerate(exprs):
                text = text.replace(f"{{x{i}}}", expr)
            lines.append(Code(f"{self.plan.mask_of[node.name]} = {fill(text)}", section="forward"))
        if node.type == "Flatten" and any(self.plan.permutes[node.name]):
            lines.append(Code("# Keras flattens a channels_last tensor in (height, width, channels) order",
                              section="forward"))
        steps = layer.steps or [Step("{x}")]
        if not layer.steps and exprs[0] == out:
            return lines
        for index, step in enumerate(steps):
            text = fill(step.template.replace("{m}", f"self.{attr}"))
            if index == 0:
                text = text.replace("{x}", exprs[0])
                for i, expr in enumerate(exprs):
                    text = text.replace(f"{{x{i}}}", expr)
            else:
                text = text.replace("{x}", out)
            if step.comment:
                lines.append(Code(f"# {step.comment}", section="forward"))
            chain = "link"
            if index == 0 and node.weights and node.type not in NORMALIZATIONS:
                chain = "start"
            elif index == len(steps) - 1 and node.type in ACTIVATIONS:
                chain = "end"
            lines.append(Code(f"{out} = {text}", step.values, tuple(step.hints), "forward", chain))
        return lines

    # ------------------------------------------------------------ the file

    def source(self) -> str:
        spec = self.spec
        self.defs = {}
        self.hoisted = {}
        self._hoist(self.model)
        made = definitions(self.model, self.body, _block_class, self._in_channels, self.defs)
        blocks: list[Definition] = []
        for definition in made.values():
            if definition not in blocks:
                blocks.append(definition)
        model_lines = self.body(self.model)
        model_class = class_name(spec.name)
        if model_class in {d.name for d in blocks} | set(HELPERS):
            model_class += "Model"
        needed = {h for layer in self.plan.layers.values() for h in layer.helpers}
        needed |= {h for node in spec.nodes for h in _activation_helpers(node.layer)}
        helpers = sorted(needed, key=helper_order().index)
        body: list[str] = [""] + self._weight_table()
        for helper in helpers:
            body += ["", ""] + HELPERS[helper].rstrip("\n").split("\n")
        for definition in blocks:
            body += ["", ""] + self._class(definition.name, self.model.descriptions.get(definition.block, ""),
                                           definition.params, definition.lines)
        body += ["", ""] + self._class(model_class, self._model_doc(), [], model_lines)
        body += ["", ""] + self._factory(model_class)
        body += ["", ""] + self._loader()
        body += ["", ""] + self._main()
        text = "\n".join(body)
        out = self._module_docstring(model_class) + [""]
        if "math." in text:
            out.append("import math")
        out += ["import re", "", "import torch"]
        if "F." in text:
            out.append("import torch.nn.functional as F")
        out += ["from safetensors.numpy import load_file", "from torch import nn"]
        out += body
        return "\n".join(out).rstrip("\n") + "\n"

    def _module_docstring(self, model_class: str) -> list[str]:
        spec = self.spec
        paragraphs = [
            spec.description.strip() or f"The {spec.name} model.",
            f"Generated by `archspec codegen --backend torch` from the spec '{spec.name}'; it needs only "
            "PyTorch, NumPy and safetensors. `build()` makes the model, `load_weights()` reads an archspec "
            "weights file (Keras's layout, keys `<layer>/<variable>`).",
            *self._notes(),
        ]
        return module_docstring(paragraphs)

    def _notes(self) -> list[str]:
        types = {n.type for n in self.spec.nodes}
        notes = []
        if any(self.plan.internal.values()) or self.spec.data_format == "channels_last" and any(
                len(i.shape) >= 2 for i in self.spec.inputs):
            notes.append("Inputs and outputs are in the spec's layout (channels last); image tensors run "
                         "channels-first inside, PyTorch's layout.")
        if "BatchNormalization" in types:
            notes.append("Batch normalization keeps Keras's epsilon, and PyTorch's momentum is 1 - Keras's. "
                         "In training, nn.BatchNorm updates its running variance with the unbiased batch "
                         "variance where Keras uses the biased one.")
        if types & {"AveragePooling1D", "AveragePooling2D", "AveragePooling3D"}:
            notes.append("Average pooling with 'same' padding averages over the real values only, as "
                         "TensorFlow does.")
        return notes

    def _model_doc(self) -> str:
        spec = self.spec
        shapes = ", ".join(f"{i.name}: (batch, {', '.join('None' if d is None else str(d) for d in i.shape)})"
                           for i in spec.inputs)
        outs = ", ".join(f"{o}: (batch, {', '.join('None' if d is None else str(d) for d in spec.node(o).output_shape)})"
                         for o in spec.outputs)
        return f"Takes {shapes}; returns {outs}, in the spec's layout ({spec.data_format})."

    def _class(self, name: str, doc: str, params: list[str], lines: list[Code]) -> list[str]:
        out = [f"class {name}(nn.Module):"]
        if doc:
            out += docstring(doc, INDENT)
            out.append("")
        out += call("def __init__", ["self", *params], ":", INDENT)
        out.append(f"{INDENT * 2}super().__init__()")
        # parameters the forward reads are kept on the module
        kept = sorted({v.name for code in lines if code.section == "forward" for v in code.values
                       if isinstance(v, Param)}, key=params.index)
        for name in kept:
            out.append(f"{INDENT * 2}self.{name} = {name}")
        for code in lines:
            if code.section == "init":
                out += split_call(code.render(), INDENT * 2)
        out.append("")
        statements = []
        for code in lines:
            if code.section == "forward":
                values = tuple(Raw(f"self.{v.name}") if isinstance(v, Param) else v for v in code.values)
                if code.template.startswith("def "):
                    rendered = code.render(values)
                    args = rendered[len("def forward("):-len("):")].split(", ")
                    out += call("def forward", args, ":", INDENT)
                else:
                    statements.append((code.render(values), code.chain))
        for statement in chained(statements, len(INDENT * 2)):
            out += split_call(statement, INDENT * 2)
        return out

    def _weight_table(self) -> list[str]:
        out = ["# Keras variable -> (PyTorch attribute, permutation of Keras's layout), by module type",
               "KERAS_TO_TORCH = {"]
        for cls in sorted(self.weights):
            entries = ", ".join(f"{literal(k)}: ({literal(a)}, {literal(p)})" for k, (a, p) in
                                sorted(self.weights[cls].items()))
            line = f"{INDENT}{literal(cls)}: {{{entries}}},"
            if len(line) <= 88:
                out.append(line)
            else:
                out.append(f"{INDENT}{literal(cls)}: {{")
                for k, (a, p) in sorted(self.weights[cls].items()):
                    entry = f"{INDENT * 2}{literal(k)}: ({literal(a)}, {literal(p)}),"
                    if len(entry) > 88:  # ruff writes a long tuple one item a line
                        entry = (f"{INDENT * 2}{literal(k)}: (\n{INDENT * 3}{literal(a)},\n{INDENT * 3}"
                                 f"{literal(p)},\n{INDENT * 2}),")
                    out += entry.split("\n")
                out.append(f"{INDENT}}},")
        out.append("}")
        if not self.weights:
            out = ["KERAS_TO_TORCH = {}"]
        return out

    def _factory(self, model_class: str) -> list[str]:
        return [f"def build() -> {model_class}:",
                f'{INDENT}"""The model in inference mode (load_weights() gives it trained weights)."""',
                f"{INDENT}return {model_class}().eval()"]

    def _loader(self) -> list[str]:
        renamed = {}
        for node in self.spec.nodes:
            for part in node.name.split("/"):
                simple = _simple_attribute(part)
                if identifier(part) != simple:
                    renamed[simple] = identifier(part)
        table = "RENAMED.get(name, name)" if renamed else "name"
        out = []
        if renamed:
            out += ["RENAMED = {" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in sorted(renamed.items())) + "}",
                    "", ""]
        out += [
            "def _child(module: nn.Module, part: str) -> nn.Module:",
            f'{INDENT}"""The submodule a layer name became: `1_conv` is `conv_1`, `block_2` `block[1]`."""',
            f'{INDENT}name = re.sub(r"^(\\d+)_(.+)$", r"\\2_\\1", part.replace("-", "_"))',
            *([f"{INDENT}name = {table}"] if renamed else []),
            f"{INDENT}repeat = re.fullmatch(r\"(.+)_(\\d+)\", part)",
            f"{INDENT}if not hasattr(module, name) and repeat:  # the blocks of a repeat",
            f"{INDENT * 2}return _child(module, repeat[1])[int(repeat[2]) - 1]",
            f"{INDENT}return getattr(module, name)",
            "",
            "",
            "def _table(module: nn.Module) -> dict:",
            f"{INDENT}return KERAS_TO_TORCH.get(type(module).__name__, {{}})",
            "",
            "",
            "def load_weights(model: nn.Module, path: str) -> None:",
            f'{INDENT}"""Load an archspec weights file: keys `<layer>/<variable>`, arrays in Keras\'s layout."""',
            f"{INDENT}state = [*model.parameters(), *model.buffers()]",
            f"{INDENT}unset = {{id(t) for t in state if t.is_floating_point()}}",
            f"{INDENT}for key, array in load_file(path).items():",
            f"{INDENT * 2}module, parts = model, key.split(\"/\")",
            f"{INDENT * 2}while len(parts) > 1 and \"/\".join(parts) not in _table(module):",
            f"{INDENT * 3}module, parts = _child(module, parts[0]), parts[1:]  # a layer name",
            f"{INDENT * 2}attribute, permute = _table(module)[\"/\".join(parts)]",
            f"{INDENT * 2}tensors = dict(module.named_parameters()) | dict(module.named_buffers())",
            f"{INDENT * 2}target = tensors[attribute]",
            f"{INDENT * 2}value = torch.from_numpy(array)",
            f"{INDENT * 2}value = value if permute is None else value.permute(permute)",
            f"{INDENT * 2}with torch.no_grad():",
            f"{INDENT * 3}target.copy_(value.reshape(target.shape))",
            f"{INDENT * 2}unset.discard(id(target))",
            f"{INDENT}if unset:",
            f'{INDENT * 2}raise ValueError(f"{{path}} leaves {{len(unset)}} tensors of the model unset")',
        ]
        return out

    def _main(self) -> list[str]:
        inputs = ", ".join(f"torch.zeros(2, {', '.join(str(d or 7) for d in i.shape)}"
                           + (", dtype=torch.long)" if i.is_integer else ")") for i in self.spec.inputs)
        return [
            'if __name__ == "__main__":',
            f"{INDENT}model = build()",
            f"{INDENT}print(model)",
            f'{INDENT}print(f"{{sum(p.numel() for p in model.parameters()):,}} parameters")',
            *split_call(f"outputs = model({inputs})", INDENT),
            f"{INDENT}for output in outputs if isinstance(outputs, tuple) else (outputs,):",
            f"{INDENT * 2}print(tuple(output.shape))",
        ]


ACTIVATIONS = {"Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax"}
NORMALIZATIONS = {"BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
                  "RMSNormalization"}
_ASSIGN = re.compile(r"(\w+) = (.+)")
MOST_NESTED = 3


def chained(statements: list[tuple[str, str]], indent: int) -> list[str]:
    """Nest consecutive statements the way a person writes them, `x = F.relu(self.bn(self.conv(x)))`:
    a statement whose variable is read once, as a call argument, by the next one and nowhere after.

    Kinds: "start" (a layer with weights other than a normalization) begins a line, "link" nests
    both ways, "end" (an activation) closes its line, "block" (a block's call) stands on its own
    line, "return" takes the line it returns; anything else stands alone. At most MOST_NESTED
    statements a line, and none longer than ruff's limit."""
    done: list[str] = []
    pending: list | None = None  # [variable, expression, statements nested]

    def flush():
        nonlocal pending
        if pending is not None:
            done.append(f"{pending[0]} = {pending[1]}")
            pending = None

    for index, (text, kind) in enumerate(statements):
        if kind == "return" and pending is not None and text == f"return {pending[0]}":
            done.append(f"return {pending[1]}")
            pending = None
            continue
        match = _ASSIGN.fullmatch(text)
        if kind not in ("start", "link", "end", "block") or match is None:
            flush()
            done.append(text)
            continue
        target, expression = match.groups()
        if kind in ("start", "block"):
            flush()
        if pending is not None:
            variable, inner, depth = pending
            merged = _substitute(expression, variable, inner)
            if (merged is None or depth >= MOST_NESTED or indent + len(f"{target} = {merged}") > LINE_LENGTH
                    or not _dead_after(variable, target, statements[index + 1:])):
                flush()
            else:
                pending = [target, merged, depth + 1]
        if pending is None:
            pending = [target, expression, 1]
        if kind in ("end", "block"):  # closed: only a return takes it
            pending[2] = MOST_NESTED
    flush()
    return done


def _substitute(expression: str, variable: str, inner: str) -> str | None:
    """`expression` with `inner` for its one use of `variable`, where that use is a call argument."""
    uses = list(re.finditer(rf"\b{variable}\b", expression))
    if len(uses) != 1:
        return None
    start, end = uses[0].span()
    if expression[start - 1:start] not in ("(", " ") or expression[end:end + 1] not in (")", ","):
        return None
    if expression[start - 1] == " " and expression[start - 2:start] != ", ":
        return None
    return expression[:start] + inner + expression[end:]


def _dead_after(variable: str, target: str, rest: list[tuple[str, str]]) -> bool:
    """Whether `variable` is no longer read once the statement assigning `target` has run."""
    if variable == target:
        return True
    for text, _ in rest:
        if re.search(rf"\b{variable}\b", text):
            match = _ASSIGN.fullmatch(text)
            return bool(match and match[1] == variable and not re.search(rf"\b{variable}\b", match[2]))
    return True


def _activation_helpers(layer) -> set[str]:
    """Definitions the file needs for the activations a layer (or the layer it wraps) names."""
    names = {getattr(layer, key, None) for key in ("activation", "recurrent_activation")}
    found = {h for name in names if isinstance(name, str) for h in activation_helpers(name)}
    for key in ("layer", "backward_layer"):
        if getattr(layer, key, None) is not None:
            found |= _activation_helpers(getattr(layer, key))
    return found


def _block_class(block: str) -> str:
    """A block's class name, kept apart from the classes the file may define for layers."""
    name = class_name(block)
    return name + "Block" if name in HELPERS else name


def _simple_attribute(part: str) -> str:
    import re

    return re.sub(r"^(\d+)_(.+)$", r"\2_\1", part.replace("-", "_"))


def generate(spec: Spec) -> str:
    return TorchWriter(spec).source()
