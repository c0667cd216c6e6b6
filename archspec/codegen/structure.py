"""The spec's structure as a person wrote it: block uses, repeats, and which values make one use of a
block differ from another (the parameters of the generated class or function).

A resolved spec is flat (`stage2_3/conv1`); the spec file is expanded once more here to learn which
scope is a use of which block, with which parameter values. Each use's generated source is a list of
`Code` lines with literal slots; uses of one block whose lines have the same templates share one
class, and the slots whose values differ between them (or equal a block parameter) become its
parameters, named after the block's parameters where the values say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from archspec.codegen.writer import Code, Param, identifier
from archspec.errors import ArchspecError
from archspec.spec.graph import Node, Spec


class CodegenError(ArchspecError):
    """The spec cannot be written as source (exit code 2)."""

    def __init__(self, message: str):
        super().__init__(f"codegen: {message}")


@dataclass
class Use:
    """A block use (or the whole model, `block` None): its nodes and nested uses, in order."""

    name: str  # full scoped name; "" for the model
    block: str | None
    params: dict[str, Any] = field(default_factory=dict)
    items: list["Node | Use | Repeat"] = field(default_factory=list)
    input: str | None = None  # the tensor $input stands for
    extra_inputs: list[str] = field(default_factory=list)  # outer tensors its layers read
    output: str | None = None
    descriptions: dict[str, str] = field(default_factory=dict)  # the model's: each block's description

    @property
    def local(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass
class Repeat:
    """`repeat: N` of one block: the uses `<name>_1` ... `<name>_N`, each taking the previous one."""

    name: str
    uses: list[Use]

    @property
    def local(self) -> str:
        return self.name.rsplit("/", 1)[-1]


def local_name(full: str) -> str:
    return full.rsplit("/", 1)[-1]


def structure(spec: Spec) -> Use:
    """The model's tree of block uses, from the spec file."""
    records, descriptions = _block_uses(spec)
    model = Use("", None, descriptions=descriptions)
    uses: dict[str, Use] = {"": model}
    repeats: dict[str, Repeat] = {}
    for full, (block, params, repeat) in records.items():
        names = [full] if repeat == 1 else [f"{full}_{r}" for r in range(1, repeat + 1)]
        for use_name in names:
            uses[use_name] = Use(use_name, block, params)
        if repeat > 1:
            repeats[full] = Repeat(full, [uses[n] for n in names])
    members = {u.name: group for group in repeats.values() for u in group.uses}
    attached: set[str] = set()  # uses (and repeat groups) already placed in their parent
    for node in spec.nodes:
        item, parent = node, _parent(node.name)
        while True:  # place the node, and each enclosing use at its first node
            if parent not in uses:
                raise CodegenError(f"layer '{node.name}' belongs to no block use of this spec file "
                                   "(a transfer-learning base written with blocks is not supported)")
            scope = uses[parent]
            group = members.get(item.name) if isinstance(item, Use) else None
            if group is None:
                scope.items.append(item)
            elif group.name not in attached:
                attached.add(group.name)
                scope.items.append(group)
            if parent == "" or parent in attached:
                break
            attached.add(parent)
            item, parent = scope, _parent(scope.name)
    _wire(spec, model)
    return model


def _parent(name: str) -> str:
    return name.rsplit("/", 1)[0] if "/" in name else ""


def nodes_of(use: Use) -> list[Node]:
    out: list[Node] = []
    for item in use.items:
        if isinstance(item, Node):
            out.append(item)
        elif isinstance(item, Use):
            out += nodes_of(item)
        else:
            for member in item.uses:
                out += nodes_of(member)
    return out


def _wire(spec: Spec, model: Use) -> None:
    """Each use's input, other outer inputs and output; refuse what a class cannot express."""
    users: dict[str, set[str]] = {}
    for node in spec.nodes:
        for ref in node.inputs:
            users.setdefault(ref, set()).add(node.name)
    outputs = set(spec.outputs)

    def visit(use: Use) -> None:
        for item in use.items:
            for member in (item.uses if isinstance(item, Repeat) else [item] if isinstance(item, Use) else []):
                visit(member)
        if use.block is None:
            return
        inside = {n.name for n in nodes_of(use)}
        order = [n for n in spec.nodes if n.name in inside]
        external: list[str] = []
        for node in order:
            for ref in node.inputs:
                if ref not in inside and ref not in external:
                    external.append(ref)
        use.output = order[-1].name if order else None
        leaks = sorted(n for n in inside if n != use.output and (users.get(n, set()) - inside or n in outputs))
        if leaks:
            raise CodegenError(f"layer '{leaks[0]}' inside block use '{use.name}' is used outside it; a block "
                               "as a class or function returns only its last layer")
        if not external:
            raise CodegenError(f"block use '{use.name}' takes no input")
        use.input, use.extra_inputs = external[0], external[1:]

    visit(model)


def _block_uses(spec: Spec) -> tuple[dict[str, tuple[str, dict, int]], dict[str, str]]:
    """{use name: (block, parameter values, repeat)} by expanding the spec file's blocks again, and
    {block: description}."""
    from archspec.spec.blocks import USE_KEYS, BlockExpander
    from archspec.spec.model import SpecFile
    from archspec.spec.yaml_source import read_source

    source = spec.source
    if source is None:
        if not spec.path or spec.path.startswith("<"):
            return {}, {}
        source = read_source(spec.path)
    spec_file = SpecFile.model_validate(source.data)
    if not spec_file.blocks:
        return {}, {}
    records: dict[str, tuple[str, dict, int]] = {}

    class Recorder(BlockExpander):
        def _use(self, item, path, name, scope, inputs, stack, trainable, context):
            block = self.blocks.get(item.get("block")) if isinstance(item.get("block"), str) else None
            if block is not None:
                params = {**block.params, **{k: v for k, v in item.items() if k not in USE_KEYS}}
                records[scope.prefix + name] = (item["block"], params, item.get("repeat", 1))
            return super()._use(item, path, name, scope, inputs, stack, trainable, context)

    first = spec_file.base.up_to if spec_file.base is not None else spec.inputs[0].name
    Recorder(source, spec_file.blocks, first).expand(spec_file.layers)
    return records, {name: block.description for name, block in spec_file.blocks.items()}


# ---------------------------------------------------------------- blocks as parameterised definitions


@dataclass
class Definition:
    """One generated class (torch) or function (Keras) for a group of uses of one block."""

    name: str  # the class or function name
    block: str
    params: list[str]
    lines: list[Code]  # with Param values in the parameter slots
    args: dict[str, tuple]  # use name -> its argument values, in `params` order


def definitions(model: Use, body: Callable[[Use], list[Code]], naming: Callable[[str], str],
                in_channels: Callable[[Use], Any], result: dict[str, Definition]) -> dict[str, Definition]:
    """Definitions for every block use, innermost first; `body(use)` gives the use's lines (it may
    look up the definitions of the uses nested in it, already made). Returns {use name: definition}."""
    by_block: dict[str, list[Use]] = {}
    contains: dict[str, set[str]] = {}

    def collect(use: Use) -> None:
        for item in use.items:
            for member in (item.uses if isinstance(item, Repeat) else [item] if isinstance(item, Use) else []):
                if use.block is not None:
                    contains.setdefault(use.block, set()).add(member.block)
                by_block.setdefault(member.block, []).append(member)
                collect(member)

    collect(model)
    order: list[str] = []

    def place(block: str, trail: tuple = ()) -> None:
        if block in order or block in trail:
            return
        for inner in sorted(contains.get(block, ())):
            place(inner, (*trail, block))
        order.append(block)

    for block in sorted(by_block):
        place(block)
    taken: set[str] = set()
    for block in order:
        uses = by_block[block]
        groups: dict[tuple, list[tuple[Use, list[Code]]]] = {}
        for use in uses:
            lines = body(use)
            key = tuple((c.section, c.template, tuple(type(v).__name__ for v in c.values)) for c in lines)
            groups.setdefault(key, []).append((use, lines))
        for index, group in enumerate(groups.values()):
            name = naming(block) + ("" if index == 0 else str(index + 1))
            while name in taken:
                name += "_"
            taken.add(name)
            definition = _unify(name, block, group, in_channels)
            for use, _ in group:
                result[use.name] = definition
    return result


def _unify(name: str, block: str, group: list[tuple[Use, list[Code]]], in_channels) -> Definition:
    uses = [u for u, _ in group]
    candidates: dict[str, tuple] = {}
    first = uses[0]
    channels = tuple(in_channels(u) for u in uses)
    for key in first.params:
        values = tuple(u.params.get(key) for u in uses)
        if all(_scalar(v) for v in values) and key.isidentifier():
            candidates[identifier(key) if identifier(key) == key else key + "_"] = values
    params: list[str] = []
    vectors: dict[str, tuple] = {}
    new_lines: list[Code] = []
    for position, code in enumerate(group[0][1]):
        slots = []
        for slot, value in enumerate(code.values):
            vector = tuple(lines[position].values[slot] for _, lines in group)
            hint = code.hints[slot] if slot < len(code.hints) else f"value_{position}_{slot}"
            param = _name_slot(vector, hint, candidates, channels, vectors)
            if param is None:
                slots.append(value)
                continue
            if param not in vectors:
                vectors[param] = vector
                params.append(param)
            slots.append(Param(param))
        new_lines.append(Code(code.template, tuple(slots), code.hints, code.section, code.chain))
    ordered = [p for p in ("in_channels",) if p in params]
    ordered += [p for p in candidates if p in params and p not in ordered]
    ordered += [p for p in params if p not in ordered]
    args = {u.name: tuple(vectors[p][i] for p in ordered) for i, u in enumerate(uses)}
    return Definition(name, block, ordered, new_lines, args)


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str)) and not isinstance(value, bool)


def _name_slot(vector: tuple, hint: str, candidates: dict[str, tuple], channels: tuple,
               taken: dict[str, tuple]) -> str | None:
    """The parameter a slot becomes, or None where it stays a literal."""
    varying = len(set(map(repr, vector))) > 1
    wants_channels = hint.endswith(("in_channels", "in_features"))
    if wants_channels and vector == channels:
        return "in_channels"
    for key, values in candidates.items():
        if vector == values and (varying or _distinctive(vector[0])):
            return key
    if vector == channels and varying:
        return "in_channels"
    if not varying:
        return None
    for key, values in taken.items():  # one parameter for slots that always agree
        if values == vector:
            return key
    name, n = hint, 2
    while name in taken and taken[name] != vector:
        name, n = f"{hint}_{n}", n + 1
    return name


def _distinctive(value: Any) -> bool:
    """A constant that equals a block parameter stands for it only when it is unlikely to be a coincidence."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 2



# ---------------------------------------------------------------- variables of one scope's code


def item_output(item: "Node | Use | Repeat") -> str:
    if isinstance(item, Node):
        return item.name
    if isinstance(item, Use):
        return item.output
    return item.uses[-1].output


def item_inputs(item: "Node | Use | Repeat") -> list[str]:
    if isinstance(item, Node):
        return list(item.inputs)
    use = item if isinstance(item, Use) else item.uses[0]
    return [use.input, *use.extra_inputs]


def scope_inputs(spec: Spec, use: Use) -> list[str]:
    return [i.name for i in spec.inputs] if use.block is None else [use.input, *use.extra_inputs]


def scope_outputs(spec: Spec, use: Use) -> list[str]:
    return list(spec.outputs) if use.block is None else [use.output]


def scope_variables(spec: Spec, use: Use, keep_inputs: bool = False) -> dict[str, str]:
    """The variable holding each tensor of a scope: `x` for a tensor the next statement alone takes,
    the layer's own name otherwise."""
    inputs, outputs = scope_inputs(spec, use), scope_outputs(spec, use)
    consumers: dict[str, list[int]] = {}
    for index, item in enumerate(use.items):
        for ref in item_inputs(item):
            consumers.setdefault(ref, []).append(index)
    producer = {item_output(item): index for index, item in enumerate(use.items)}
    for index, name in enumerate(inputs):
        producer.setdefault(name, -1 - index)
    names: dict[str, str] = {}
    taken = {"x"}
    for tensor, made in producer.items():
        users = consumers.get(tensor, [])
        step = made if made >= 0 else -1
        single = (users == [step + 1] and tensor not in outputs) or (not users and tensor in outputs
                                                                       and made == len(use.items) - 1
                                                                       and len(outputs) == 1)
        if single and (made >= 0 or (made == -1 and not keep_inputs)):
            names[tensor] = "x"
            continue
        if use.block is not None and made == -1:
            base = "inputs"
        else:
            base = identifier(local_name(tensor))
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        names[tensor] = name
    return names
