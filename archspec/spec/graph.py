"""The resolved model: validated layers wired into a graph, in topological order, with shapes."""

from __future__ import annotations

import contextvars
import functools
import heapq
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from archspec.errors import ArchspecError, Location, Problem, kind_of, shorten, suggest
from archspec.layers import Layer, Shape, ShapeError, Weight, layer_class
from archspec.layers.base import DataFormat, fmt_shape
from archspec.spec.blocks import BlockExpander, Entry
from archspec.spec.model import InputDef, SpecFile
from archspec.spec.validation import validation_problems
from archspec.spec.yaml_source import Source, problem_at


@dataclass
class Node:
    """One layer of the resolved graph."""

    name: str
    layer: Layer
    inputs: list[str]
    output_shape: Shape
    input_shapes: list[Shape]
    weights: list[Weight]
    location: Location | None = None

    @property
    def type(self) -> str:
        return self.layer.type_name

    @property
    def trainable(self) -> bool:
        return self.layer.trainable

    @property
    def params(self) -> int:
        return sum(w.size for w in self.weights)

    @property
    def trainable_params(self) -> int:
        return sum(w.size for w in self.weights if w.trainable and self.trainable)


@dataclass
class Input:
    name: str
    shape: Shape  # None on a free axis
    dtype: str = "float32"

    @property
    def is_integer(self) -> bool:
        return self.dtype.startswith("int")


@dataclass
class Spec:
    """A validated, resolved spec: what every command and backend works from."""

    name: str
    description: str
    data_format: DataFormat
    inputs: list[Input]
    nodes: list[Node]  # topological order
    outputs: list[str]
    classes: list[str] | None = None
    training: Any = None  # archspec.train.config.Training
    path: str | None = None
    base: str | None = None  # transfer learning: the base spec's file
    base_weights: str | None = None  # transfer learning: trained weights of the base layers
    source: Any = field(default=None, repr=False, compare=False)  # the parsed file (codegen reads its blocks)
    _by_name: dict[str, Node] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._by_name = {n.name: n for n in self.nodes}

    def node(self, name: str) -> Node:
        return self._by_name[name]

    def shape_of(self, name: str) -> Shape:
        if name in self._by_name:
            return self._by_name[name].output_shape
        return next(i.shape for i in self.inputs if i.name == name)

    @property
    def is_sequential(self) -> bool:
        """True when every layer takes exactly the previous one (Keras's Sequential)."""
        previous = self.inputs[0].name
        for node in self.nodes:
            if node.inputs != [previous]:
                return False
            previous = node.name
        return len(self.inputs) == 1 and self.outputs == [previous]

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def trainable_params(self) -> int:
        return sum(n.trainable_params for n in self.nodes)

    def weight_keys(self) -> dict[str, Weight]:
        """Neutral-weights keys `<layer>/<weight>` in graph order."""
        return {f"{n.name}/{w.name}": w for n in self.nodes for w in n.weights}


def resolve(spec_file: SpecFile, source: Source, default_name: str) -> Spec:
    problems: list[Problem] = []
    input_defs: list[InputDef] = spec_file.input_defs()
    inputs = [Input(d.name, tuple(d.shape), d.dtype) for d in input_defs]
    base_entries, base_layers, base_weights = [], {}, None
    if spec_file.base is not None:
        base_inputs, base_entries, base_layers, base_weights = _base(spec_file, source)
        inputs = inputs or base_inputs
    input_names = {i.name for i in inputs}
    if len(input_names) != len(inputs):
        problems.append(problem_at(source, ("inputs",), "input names must be unique"))

    first = spec_file.base.up_to if spec_file.base is not None else inputs[0].name
    expander = BlockExpander(source, spec_file.blocks, first)
    expander.expand(spec_file.layers)
    problems += expander.problems
    entries = base_entries + expander.entries

    # names: unique across inputs and layers
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.name in input_names:
            problems.append(problem_at(source, entry.path, f"{entry.context}layer name '{entry.name}' is also an input name"))
        elif entry.name in seen:
            first = source.locate(seen[entry.name].path)
            problems.append(
                problem_at(source, entry.path, f"{entry.context}duplicate layer name '{entry.name}' (first used at line {first.line})")
            )
        else:
            seen[entry.name] = entry

    # layer configs
    layers: dict[str, Layer] = {}
    reported: set[tuple] = set()
    for entry in seen.values():
        layer = base_layers.get(entry.name) or _validate_layer(entry, source, problems, reported)
        if layer is not None:
            layers[entry.name] = layer

    known = input_names | set(seen)

    def resolve_ref(ref: str) -> str:
        hops = 0
        while ref in expander.aliases and hops < 10_000:
            ref, hops = expander.aliases[ref], hops + 1
        return ref

    wiring: dict[str, list[str]] = {}
    for entry in seen.values():
        refs = [resolve_ref(r) for r in entry.inputs]
        bad = [r for r in refs if r not in known]
        for ref in bad:
            problems.append(
                problem_at(source, entry.path + ("inputs",),
                           f"{entry.context}layer '{entry.name}' takes unknown input '{ref}'{suggest(ref, known)}")
            )
        if entry.name in refs:
            problems.append(problem_at(source, entry.path, f"{entry.context}layer '{entry.name}' takes itself as input"))
        layer = layers.get(entry.name)
        if layer is not None and not bad:
            n = len(refs)
            if n < layer.min_inputs or (layer.max_inputs is not None and n > layer.max_inputs):
                want = (f"at least {layer.min_inputs}" if layer.max_inputs is None else str(layer.max_inputs))
                problems.append(
                    problem_at(source, entry.path, f"{entry.context}{layer.type_name} '{entry.name}' takes {want} "
                               f"input{'s' if want != '1' else ''}, got {n}")
                )
        wiring[entry.name] = refs

    outputs = _outputs(spec_file, source, entries, resolve_ref, known, problems)
    if spec_file.training is not None:
        training = spec_file.training
        for key, mapping in (("loss", training.loss), ("loss_weights", training.loss_weights),
                             ("targets", training.targets)):
            for name in mapping if isinstance(mapping, dict) else ():
                if name not in outputs:
                    problems.append(problem_at(source, ("training", key, name),
                                               f"training.{key}: '{name}' is not an output{suggest(name, outputs)}",
                                               key=True))
    if problems:
        raise ArchspecError(_dedupe(problems))

    order = _topological_order(list(seen), wiring, input_names, source, seen)
    _check_reachability(order, wiring, inputs, outputs, source, seen)
    nodes = _infer_shapes(order, wiring, layers, inputs, spec_file.data_format, source, seen)
    return Spec(
        name=spec_file.name or default_name,
        description=spec_file.description,
        data_format=spec_file.data_format,
        inputs=inputs,
        nodes=nodes,
        outputs=outputs,
        classes=spec_file.classes,
        training=spec_file.training,
        path=source.file,
        base=spec_file.base.spec if spec_file.base is not None else None,
        base_weights=base_weights,
        source=source,
    )


MAX_BASE_DEPTH = 16
_BASE_CHAIN: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("archspec_base_chain", default=())


def _path_key(path) -> str:
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # a symlink loop, an unreadable directory
        return str(path)


def _base(spec_file: SpecFile, source: Source):
    """The base spec's layers up to `up_to`, as entries of this spec (transfer learning)."""
    from pathlib import Path

    from archspec.spec.load import load

    base = spec_file.base
    here = Path(source.file).parent
    path = here / base.spec
    chain = (*_BASE_CHAIN.get(), _path_key(Path(source.file)))
    key = _path_key(path)
    if key in chain or len(chain) > MAX_BASE_DEPTH:
        raise ArchspecError([problem_at(source, ("base", "spec"),
                                        f"base spec {base.spec} leads back to itself (a cycle of 'base' specs)"
                                        if key in chain else f"'base' specs are nested more than {MAX_BASE_DEPTH} deep")])
    token = _BASE_CHAIN.set(chain)
    try:
        base_spec = load(path)
    except ArchspecError as exc:
        problems = [problem_at(source, ("base", "spec"), f"base spec {base.spec}: {p}") for p in exc.problems]
        raise ArchspecError(problems) from None
    finally:
        _BASE_CHAIN.reset(token)
    names = {n.name for n in base_spec.nodes}
    if base.up_to not in names:
        raise ArchspecError([problem_at(source, ("base", "up_to"),
                                        f"base spec {base_spec.name} has no layer '{base.up_to}'{suggest(base.up_to, names)}")])
    keep, stack = set(), [base.up_to]
    while stack:
        name = stack.pop()
        if name in keep or name not in names:
            continue
        keep.add(name)
        stack.extend(base_spec.node(name).inputs)
    entries, layers = [], {}
    for node in base_spec.nodes:
        if node.name in keep:
            entries.append(Entry(node.name, {}, list(node.inputs), ("base",), f"from base spec {base_spec.name}: "))
            layers[node.name] = node.layer.model_copy(update={"trainable": node.trainable and base.trainable})
    used = {ref for node in base_spec.nodes if node.name in keep for ref in node.inputs}
    inputs = [i for i in base_spec.inputs if i.name in used]
    weights = None
    if base.weights is not None:  # checked when training starts: a summary needs no weights
        candidate = Path(base.weights)
        weights = str(here / candidate if (here / candidate).exists() else candidate)
    return inputs, entries, layers, weights


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _validate_layer(entry: Entry, source: Source, problems: list[Problem], reported: set[tuple]) -> Layer | None:
    """The entry's layer config, or None after adding its problems (once per place in the file)."""
    type_name = entry.data.get("type")
    if not isinstance(type_name, str):
        got = "" if type_name is None else f", got {kind_of(type_name)} {shorten(type_name)}"
        problems.append(problem_at(source, entry.path + ("type",), f"{entry.context}type: expected a layer type name{got}"))
        return None
    try:
        cls = layer_class(type_name)
    except KeyError as exc:
        problems.append(problem_at(source, entry.path + ("type",), f"{entry.context}{exc.args[0]}"))
        return None
    data = {k: v for k, v in entry.data.items() if k != "type"}
    data["trainable"] = entry.trainable
    found: list[Problem] = []
    try:
        return cls.model_validate({**data, "name": entry.name.rsplit("/", 1)[-1]}).model_copy(update={"name": entry.name})
    except ValidationError as exc:
        found = validation_problems(exc, data, source, entry.path, cls)
    except Exception as exc:  # noqa: BLE001 - a layer's own validator choked on a value (a list where a name goes)
        found = _crashing_values(cls, data, source, entry, exc)
    context = f"{entry.context}{cls.type_name} '{entry.name}': "
    for problem in found:
        if (problem.location, problem.message) not in reported:  # a block's mistake reads once, not per use
            reported.add((problem.location, problem.message))
            problems.append(Problem(context + problem.message, problem.location))
    return None


def _crashing_values(cls: type[Layer], data: dict[str, Any], source: Source, entry: Entry,
                     exc: Exception) -> list[Problem]:
    """Problems for a layer config that made validation raise something other than a ValidationError.

    Layer types normalise some values before pydantic checks them (an activation or initializer
    name is looked up in an alias table); a list or a mapping there used to end in
    `TypeError: unhashable type`. Each key is tried on its own to name the culprit(s), then the
    rest of the entry is validated as usual so its other mistakes are reported too.
    """
    culprits = [key for key, value in data.items() if _crashes(cls, key, value)]
    problems = [
        problem_at(source, entry.path + (key,), f"{key}: {_expected(cls, key)}, got {kind_of(data[key])} {shorten(data[key])}")
        for key in culprits
    ]
    if not culprits:  # not a single value's fault: say so at the entry rather than crash
        return [problem_at(source, entry.path, f"invalid layer configuration ({type(exc).__name__}: {shorten(str(exc))})")]
    rest = {k: v for k, v in data.items() if k not in culprits}
    try:
        cls.model_validate({**rest, "name": entry.name.rsplit("/", 1)[-1]})
    except ValidationError as exc:
        reported_already = {f"missing required key '{key}'" for key in culprits}
        problems += [p for p in validation_problems(exc, rest, source, entry.path, cls) if p.message not in reported_already]
    except Exception:  # noqa: BLE001
        pass
    return problems


def _crashes(cls: type[Layer], key: Any, value: Any) -> bool:
    """Whether validating `value` alone as the field `key` raises something other than a ValidationError."""
    adapter = _field_adapter(cls, key)
    if adapter is None:
        return False
    try:
        adapter.validate_python(value)
    except ValidationError:
        return False
    except Exception:  # noqa: BLE001
        return True
    return False


def _expected(cls: type[Layer], key: str) -> str:
    """'Input should be ...' as pydantic words it for a wrong string, or a plain 'expected a single value'."""
    adapter = _field_adapter(cls, key)
    try:
        if adapter is not None:
            adapter.validate_python("\x00?")
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        if errors and errors[0]["type"] == "literal_error":
            return errors[0]["msg"]
    except Exception:  # noqa: BLE001
        pass
    return "expected a single value"


@functools.lru_cache(maxsize=None)
def _field_adapter(cls: type[Layer], key: Any) -> TypeAdapter | None:
    field = cls.model_fields.get(key) if isinstance(key, str) else None
    if field is None:
        return None
    try:
        annotation = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
        return TypeAdapter(annotation)
    except Exception:  # noqa: BLE001 - an annotation pydantic cannot rebuild on its own
        return None


def _outputs(spec_file, source, entries, resolve_ref, known, problems) -> list[str]:
    if spec_file.outputs is None:
        # the last expanded entry is also the output of a trailing block use
        return [entries[-1].name] if entries else []
    outputs = []
    for i, ref in enumerate(spec_file.outputs):
        name = resolve_ref(ref)
        if name not in known:
            problems.append(problem_at(source, ("outputs", i), f"outputs: unknown layer '{ref}'{suggest(ref, known)}"))
        outputs.append(name)
    if len(set(outputs)) != len(outputs):
        problems.append(problem_at(source, ("outputs",), "outputs: a layer is listed twice"))
    return outputs


def _topological_order(names, wiring, input_names, source, seen) -> list[str]:
    """Kahn's algorithm, taking layers in declaration order whenever there is a choice."""
    index = {name: i for i, name in enumerate(names)}
    pending = {name: sum(1 for r in wiring[name] if r not in input_names) for name in names}
    users: dict[str, list[str]] = {}
    for name in names:
        for ref in wiring[name]:
            users.setdefault(ref, []).append(name)
    ready = [index[n] for n in names if pending[n] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        name = names[heapq.heappop(ready)]
        order.append(name)
        for user in users.get(name, []):
            pending[user] -= 1
            if pending[user] == 0:
                heapq.heappush(ready, index[user])
    if len(order) < len(names):
        stuck = [n for n in names if pending[n] > 0]
        cycle = _find_cycle(stuck, wiring)
        raise ArchspecError(
            [problem_at(source, seen[cycle[0]].path, "layers form a cycle: " + " -> ".join([*cycle, cycle[0]]))]
        )
    return order


def _find_cycle(stuck: list[str], wiring: dict[str, list[str]]) -> list[str]:
    stuck_set = set(stuck)
    node, path, pos = stuck[0], [], {}
    while node not in pos:
        pos[node] = len(path)
        path.append(node)
        node = next(r for r in wiring[node] if r in stuck_set)
    return list(reversed(path[pos[node]:]))


def _check_reachability(order, wiring, inputs, outputs, source, seen) -> None:
    needed: set[str] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        stack.extend(wiring.get(name, []))
    problems = [
        problem_at(source, seen[name].path, f"layer '{name}' does not lead to any output (add it to 'outputs' or remove it)")
        for name in order if name not in needed
    ]
    problems += [
        problem_at(source, ("inputs",), f"input '{i.name}' is not used by any output") for i in inputs if i.name not in needed
    ]
    if problems:
        raise ArchspecError(problems)


def has_free_axis(shapes: list[Shape]) -> bool:
    return any(d is None for shape in shapes for d in shape)


def layer_shapes(layer: Layer, input_shapes: list[Shape], data_format: DataFormat) -> tuple[Shape, list[Weight]]:
    """(output shape, weights) of a layer; ShapeError where a free axis (None) cannot be taken.

    A layer's rule that does arithmetic on a free axis (TypeError on None) needs a fixed size
    there; a weight never depends on a free axis."""
    free = has_free_axis(input_shapes)
    try:
        output_shape = tuple(layer.output_shape(input_shapes, data_format))
        weights = layer.weights(input_shapes, data_format)
    except TypeError:
        if not free:
            raise
        raise ShapeError("needs a fixed size on every axis it computes with, but its input has a free "
                         "axis (None): give the input a fixed length, or pool over the free axis first") from None
    for weight in weights:
        if any(d is None for d in weight.shape):
            raise ShapeError(f"would have a weight ({weight.name}) whose size depends on a free axis (None): "
                             "give that axis a fixed size")
    return output_shape, weights


def _infer_shapes(order, wiring, layers, inputs, data_format, source, seen) -> list[Node]:
    shapes: dict[str, Shape] = {i.name: i.shape for i in inputs}
    nodes: list[Node] = []
    problems: list[Problem] = []
    for name in order:
        refs = wiring[name]
        if any(r not in shapes for r in refs):
            continue  # an upstream layer already failed
        layer = layers[name]
        input_shapes = [shapes[r] for r in refs]
        try:
            output_shape, weights = layer_shapes(layer, input_shapes, data_format)
        except ShapeError as exc:
            got = ", ".join(fmt_shape(s) for s in input_shapes)
            entry = seen[name]
            said = str(exc)
            suffix = "" if got in said else f" (input: {got})"  # the layer's message may name its input already
            problems.append(
                problem_at(source, entry.path, f"{entry.context}{layer.type_name} '{name}' {said}{suffix}")
            )
            continue
        shapes[name] = output_shape
        nodes.append(Node(name, layer, refs, output_shape, input_shapes, weights, source.locate(seen[name].path)))
    if problems:
        raise ArchspecError(problems)
    return nodes
