"""Write an `ImportedGraph` as a spec a person would have written, plus its neutral weights.

Readable means: a layer that takes the previous entry says no `inputs:`, values equal to the
layer type's defaults are left out (a default is what the pydantic field gives when the key is
missing), Keras's auto names (`conv2d_3`) are left out where nothing refers to them, tuples of
equal values read as one value (`kernel_size: 3`), and repeated sub-graphs are folded into
`blocks:` with parameters and `repeat` (see `_fold`).

Folding renames layers (`conv2_block1_1_conv` becomes `conv2_block1/1_conv`, repetitions
`conv2_block_1/...`); the weights are re-keyed to the names the emitted spec resolves to. The
emitted text is loaded back and compared, layer by layer, with the graph it came from (type,
every parameter, wiring); a folding that does not give the same graph falls back to the flat
spec, so folding can make a spec shorter but never different.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml

from archspec.errors import ArchspecError
from archspec.importers.graph import ImportedGraph, ImportedLayer
from archspec.layers import Layer, layer_class, snake_case

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_PARAMS = 8  # a block with more parameters than this is harder to read than its instances


@dataclass
class Emitted:
    """An emitted spec: its text, the resolved spec, and the weights under its layer names."""

    text: str
    spec: Any  # archspec.spec.Spec
    weights: dict[str, np.ndarray]
    names: dict[str, str]  # imported layer name -> the emitted spec's resolved layer name
    folded: bool
    notes: list[str] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return self.text.count("\n")


# ---------------------------------------------------------------- one layer's parameters


@dataclass
class _Layer:
    """An imported layer with its configuration validated: `full` holds every field."""

    source: ImportedLayer
    model: Layer
    full: dict[str, Any]  # every parameter, as JSON values
    essential: dict[str, Any]  # only those that differ from the defaults, compacted

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def type(self) -> str:
        return self.model.type_name


def _validate(type_name: str, config: dict[str, Any]) -> Layer:
    return layer_class(type_name).model_validate({**config, "name": "x"})


def _dump(model: Layer) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude={"name", "inputs", "trainable"})


def _prepare(layer: ImportedLayer) -> _Layer:
    try:
        cls = layer_class(layer.type)
    except KeyError as exc:
        raise ArchspecError(f"layer '{layer.name}': {exc.args[0]}") from None
    try:
        model = _validate(cls.type_name, layer.config)
    except Exception as exc:  # noqa: BLE001 - pydantic or a layer validator: either way the layer is refused
        raise ArchspecError(f"layer '{layer.name}' ({layer.type}): archspec cannot represent its configuration: "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    full = _dump(model)
    reference = _dump(model)
    essential: dict[str, Any] = {}
    for key, value in full.items():
        rest = {k: v for k, v in full.items() if k != key}
        try:
            if _dump(_validate(cls.type_name, rest)) == reference:
                continue  # the default
        except Exception:  # noqa: BLE001 - a required field
            pass
        essential[key] = _compact(cls.type_name, full, key, value)
    return _Layer(layer, model, full, essential)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _compact(type_name: str, full: dict[str, Any], key: str, value: Any) -> Any:
    """The shortest spelling of `value` that the layer type reads as the same: `[3, 3]` -> 3,
    `[[1, 1], [2, 2]]` -> `[1, 2]`."""
    if not isinstance(value, list) or not value:
        return value
    candidates = []
    leaves = _leaves(value)
    if len(set(map(repr, leaves))) == 1:
        candidates.append(leaves[0])
    if all(isinstance(v, list) and len(v) == 2 and v[0] == v[1] for v in value):
        candidates.append([v[0] for v in value])
    if not candidates:
        return value
    reference = _dump(_validate(type_name, full))
    for candidate in candidates:
        try:
            if _dump(_validate(type_name, {**full, key: candidate})) == reference:
                return candidate
        except Exception:  # noqa: BLE001 - a spelling the type does not take
            continue
    return value


def _is_auto_name(name: str, type_name: str) -> bool:
    """Keras's generated names: the snake_case class name, then `_1`, `_2`, ..."""
    return re.fullmatch(re.escape(snake_case(type_name)) + r"(_\d+)?", name) is not None


# ---------------------------------------------------------------- YAML, one entry a line


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def _entry(items: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in items.items()) + "}"


# ---------------------------------------------------------------- the spec's entries


@dataclass
class _Plan:
    """What the emitter writes: top-level entries, block definitions, and for every imported
    layer (in expansion order) its resolved name."""

    entries: list[dict[str, Any]]
    blocks: dict[str, dict[str, Any]]
    order: list[str]  # imported layer names in the order the spec expands them
    refs: dict[str, str]  # imported layer name -> the name a top-level entry refers to it by


def _flat_plan(graph: ImportedGraph, layers: list[_Layer], first_input: str, input_names: dict[str, str],
               every_name: bool = False) -> _Plan:
    referenced = {layer.name for layer in layers} if every_name else _explicitly_referenced(graph, layers)
    entries, previous = [], first_input
    refs = dict(input_names)
    for layer in layers:
        entries.append(_layer_entry(layer, layer.essential, [refs[r] for r in layer.source.inputs], previous,
                                    keep_name=layer.name in referenced or not _is_auto_name(layer.name, layer.type)))
        refs[layer.name] = layer.name if "name" in entries[-1] else None  # filled from the loaded spec
        previous = refs[layer.name]
    return _Plan(entries, {}, [layer.name for layer in layers], refs)


def _layer_entry(layer: _Layer, config: dict[str, Any], inputs: list[str | None], previous: str | None,
                 keep_name: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": layer.type, **config}
    if keep_name:
        entry["name"] = layer.name.rsplit("/", 1)[-1]
    if inputs != [previous]:
        entry["inputs"] = inputs[0] if len(inputs) == 1 else inputs
    if not layer.source.trainable:
        entry["trainable"] = False
    return entry


def _explicitly_referenced(graph: ImportedGraph, layers: list[_Layer]) -> set[str]:
    """Layers some other layer (or the outputs) names rather than takes as 'the previous entry'."""
    names = set(graph.outputs)
    for index, layer in enumerate(layers):
        previous = layers[index - 1].name if index else None
        if layer.source.inputs != [previous]:
            names.update(layer.source.inputs)
    return names


# ---------------------------------------------------------------- folding


@dataclass
class _Segment:
    """Layers [start, stop) that only take each other and the layer (or input) just before them."""

    start: int
    stop: int
    entry: str  # what feeds it: the previous layer's or a model input's name
    foldable: bool

    def __len__(self) -> int:
        return self.stop - self.start


def _segments(graph: ImportedGraph, layers: list[_Layer]) -> list[_Segment]:
    """Cut the layer list where no edge crosses: a cut after layer i means that nothing after i
    takes anything from before i. The pieces between cuts, joined where their names say they
    belong together (`conv2_block1_add` and `conv2_block1_out`), are the candidates for blocks."""
    position = {layer.name: i for i, layer in enumerate(layers)}
    reach_from = list(range(len(layers)))  # the furthest layer that takes layer i
    reach = -1  # the furthest layer that takes a model input
    for j, layer in enumerate(layers):
        for ref in layer.source.inputs:
            if ref in position:
                reach_from[position[ref]] = max(reach_from[position[ref]], j)
            else:
                reach = max(reach, j)
    bounds, start = [], 0
    for i in range(len(layers)):
        if reach <= i:  # nothing after i takes anything from before i: i alone feeds what follows
            bounds.append((start, i + 1))
            start = i + 1
        reach = max(reach, reach_from[i])
    bounds = _join_by_name(layers, bounds)
    outputs = set(graph.outputs)
    segments = []
    for start, stop in bounds:
        refs = {r for layer in layers[start:stop] for r in layer.source.inputs
                if r not in position or position[r] < start}
        foldable = len(refs) == 1 and not any(layer.name in outputs for layer in layers[start:stop - 1])
        entry = layers[start - 1].name if start else next(iter(refs), "")
        segments.append(_Segment(start, stop, entry, foldable))
    return segments


def _instance_prefix(names: list[str]) -> str:
    """The part of the names that says which instance they belong to: their common prefix, up
    to its last part that holds a number (`conv2_block1_` of `conv2_block1_1_conv`, `block1a_`
    of `block1a_se_reduce`); '' when there is none."""
    prefix = _common_prefix(names)
    parts = prefix.rstrip("_").split("_") if prefix else []
    while parts and not re.search(r"\d", parts[-1]):
        parts.pop()
    return "_".join(parts) + "_" if parts else ""


def _join_by_name(layers: list[_Layer], bounds: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join neighbouring pieces whose layers all carry a multi-layer piece's instance prefix."""
    changed = True
    while changed:
        changed = False
        for k, (start, stop) in enumerate(bounds):
            if stop - start < 2:
                continue
            prefix = _instance_prefix([layer.name for layer in layers[start:stop]])
            if not prefix:
                continue
            for other in (k + 1, k - 1):
                if 0 <= other < len(bounds):
                    a, b = bounds[other]
                    if all(layer.name.startswith(prefix) for layer in layers[a:b]):
                        lo, hi = min(k, other), max(k, other)
                        bounds[lo:hi + 1] = [(bounds[lo][0], bounds[hi][1])]
                        changed = True
                        break
            if changed:
                break
    return bounds


def _shape_key(layers: list[_Layer], segment: _Segment) -> tuple:
    """What instances of one block share: types, keys, trainability and wiring; not the values."""
    local = {layers[i].name: i - segment.start for i in range(segment.start, segment.stop)}
    key = []
    for layer in layers[segment.start:segment.stop]:
        wiring = tuple(local.get(r, "$input") for r in layer.source.inputs)
        key.append((layer.type, tuple(layer.full), layer.source.trainable, wiring))
    return tuple(key)


def _common_prefix(names: list[str]) -> str:
    """The common prefix, cut after its last `_` or `/`."""
    prefix = _char_prefix(names)
    cut = max(prefix.rfind("_"), prefix.rfind("/"))
    return prefix[:cut + 1] if cut >= 0 else ""


def _char_prefix(names: list[str]) -> str:
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


def _inner_names(layers: list[_Layer], segment: _Segment) -> tuple[str, list[str]]:
    names = [layer.name for layer in layers[segment.start:segment.stop]]
    prefix = _common_prefix(names) if len(names) > 1 else ""
    inner = [n[len(prefix):] for n in names]
    if not all(re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_\-]*", n) for n in inner) or len(set(inner)) != len(inner):
        prefix, inner = "", [n.replace("/", "_") for n in names]
    return prefix.rstrip("_/"), inner


class _Namer:
    """Unique identifiers: `base`, `base_2`, ... among those already taken."""

    def __init__(self, taken: set[str]):
        self.taken = set(taken)

    def __call__(self, base: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", base) or "block"
        if not re.match(r"[A-Za-z_]", base):
            base = f"b_{base}"
        name, n = base, 1
        while name in self.taken:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name


def _fold(graph: ImportedGraph, layers: list[_Layer], first_input: str, input_names: dict[str, str]) -> _Plan | None:
    """Blocks for the segments (see `_segments`) of two or more layers that occur at least twice
    with the same shape: the values that differ between occurrences become the block's
    parameters; consecutive occurrences with the same values become one use with `repeat`."""
    segments = _segments(graph, layers)
    groups: dict[tuple, list[int]] = {}
    for k, segment in enumerate(segments):
        if segment.foldable and len(segment) >= 2:
            groups.setdefault(_shape_key(layers, segment), []).append(k)
    groups = {key: members for key, members in groups.items() if len(members) >= 2}
    if not groups:
        return None

    top_names = {layer.name for layer in layers} | set(input_names.values())
    block_namer = _Namer(set())
    use_namer = _Namer(top_names)
    blocks: dict[str, dict[str, Any]] = {}
    block_of: dict[int, tuple[str, dict[str, Any], list[str]]] = {}  # segment -> (block, param values, inner names)
    for key, members in groups.items():
        definition = _define_block(layers, [segments[k] for k in members])
        if definition is None:
            continue
        prefix, inner = _inner_names(layers, segments[members[0]])
        name = block_namer(re.sub(r"_+", "_", re.sub(r"\d+", "", prefix)).strip("_") or "block")
        params, values, body = definition
        blocks[name] = {"params": dict.fromkeys(params), "layers": body(inner)} if params else {"layers": body(inner)}
        for k, value in zip(members, values):
            block_of[k] = (name, value, inner)
    if not block_of:
        return None

    entries: list[dict[str, Any]] = []
    order: list[str] = []
    refs: dict[str, str | None] = dict(input_names)
    referenced = _explicitly_referenced(graph, layers)
    previous: str | None = first_input
    k = 0
    while k < len(segments):
        segment = segments[k]
        if k not in block_of:
            for layer in layers[segment.start:segment.stop]:
                keep = layer.name in referenced or not _is_auto_name(layer.name, layer.type)
                entry = _layer_entry(layer, layer.essential, [refs[r] for r in layer.source.inputs], previous, keep)
                entries.append(entry)
                order.append(layer.name)
                refs[layer.name] = entry.get("name")
                previous = refs[layer.name]
            k += 1
            continue
        block, value, inner = block_of[k]
        run = 1
        while k + run < len(segments) and block_of.get(k + run, (None, None))[:2] == (block, value):
            run += 1
        run_segments = segments[k:k + run]
        prefixes = [_inner_names(layers, s)[0] for s in run_segments]
        if run == 1:
            use = use_namer(prefixes[0] or block)
        else:
            stem = re.sub(r"[\d_]+$", "", _char_prefix(prefixes)) if all(prefixes) else ""
            stem = stem or block
            use = use_namer(stem)
            for r in range(1, run + 1):
                use_namer.taken.add(f"{use}_{r}")
        entry: dict[str, Any] = {"block": block, "name": use, **value}
        if run > 1:
            entry["repeat"] = run
        feed = refs.get(segment.entry)
        if feed != previous:
            entry["inputs"] = feed
        entries.append(entry)
        for s in run_segments:
            order.extend(layer.name for layer in layers[s.start:s.stop])
        refs[layers[run_segments[-1].stop - 1].name] = use
        previous = use
        k += run
    return _Plan(entries, blocks, order, refs)


def _define_block(layers: list[_Layer], instances: list[_Segment]):
    """(parameter names, each instance's values, a function of the inner names giving the body),
    or None when the instances differ in too many values to read well as one block."""
    first = instances[0]
    count = len(first)
    varying: list[tuple[int, str]] = []
    for offset in range(count):
        for key in layers[first.start + offset].full:
            seen = {repr(layers[s.start + offset].full[key]) for s in instances}
            if len(seen) > 1:
                varying.append((offset, key))
    # positions whose values move together across instances share one parameter
    columns: dict[tuple, list[tuple[int, str]]] = {}
    for offset, key in varying:
        column = tuple(repr(layers[s.start + offset].full[key]) for s in instances)
        columns.setdefault(column, []).append((offset, key))
    if len(columns) > MAX_PARAMS:
        return None
    namer = _Namer({"input"})
    param_of: dict[tuple[int, str], str] = {}
    params: list[str] = []
    for positions in columns.values():
        base = Counter(key for _, key in positions).most_common(1)[0][0]
        name = namer(base if IDENTIFIER.match(base) else "param")
        params.append(name)
        for position in positions:
            param_of[position] = name
    values = []
    for segment in instances:
        value = {}
        for positions, name in zip(columns.values(), params):
            offset, key = positions[0]
            layer = layers[segment.start + offset]
            value[name] = _compact(layer.type, layer.full, key, layer.full[key])
        values.append(value)

    def body(inner: list[str]) -> list[dict[str, Any]]:
        local = {layers[first.start + i].name: inner[i] for i in range(count)}
        result = []
        for offset in range(count):
            layer = layers[first.start + offset]
            config = {}
            for key, value in layer.full.items():
                if (offset, key) in param_of:
                    config[key] = "$" + param_of[(offset, key)]
                elif key in layer.essential:
                    config[key] = layer.essential[key]
            inputs = [local.get(r, "$input") for r in layer.source.inputs]
            previous = inner[offset - 1] if offset else "$input"
            entry: dict[str, Any] = {"type": layer.type, **config, "name": inner[offset]}
            if inputs != [previous]:
                entry["inputs"] = inputs[0] if len(inputs) == 1 else inputs
            if not layer.source.trainable:
                entry["trainable"] = False
            result.append(entry)
        return result

    return params, values, body


# ---------------------------------------------------------------- text, and the proof that it is the graph


def _text(graph: ImportedGraph, plan: _Plan, input_names: dict[str, str], description: str | None,
          outputs: list[str]) -> str:
    lines = ["archspec: 1", f"name: {_flow(graph.name)}"]
    if description:
        lines.append(f"description: {_flow(description)}")
    if graph.data_format != "channels_last":
        lines.append(f"data_format: {graph.data_format}")
    only = graph.inputs[0] if len(graph.inputs) == 1 else None
    if only is not None and input_names[only.name] == "input":
        lines.append(f"input_shape: {_flow(list(only.shape))}")
    else:
        lines.append("inputs:")
        for i in graph.inputs:
            item = {"name": input_names[i.name], "shape": list(i.shape)}
            if i.dtype != "float32":
                item["dtype"] = i.dtype
            lines.append(f"  - {_entry(item)}")
    if plan.blocks:
        lines.append("blocks:")
        for name, block in plan.blocks.items():
            lines.append(f"  {name}:")
            if "params" in block:
                lines.append(f"    params: {_entry(block['params'])}")
            lines.append("    layers:")
            lines += [f"      - {_entry(e)}" for e in block["layers"]]
    lines.append("layers:")
    lines += [f"  - {_entry(e)}" for e in plan.entries]
    if outputs:
        lines.append(f"outputs: {_flow(outputs)}")
    return "\n".join(lines) + "\n"


def _input_names(graph: ImportedGraph) -> dict[str, str]:
    """Model inputs keep their names, except a single float input with Keras's generated name,
    which becomes the `input_shape:` shorthand's `input`."""
    if len(graph.inputs) == 1:
        only = graph.inputs[0]
        if (re.fullmatch(r"input(_layer)?(_\d+)?", only.name) and only.dtype == "float32"
                and all(d is not None for d in only.shape)):
            return {only.name: "input"}
    return {i.name: i.name for i in graph.inputs}


def _verify(spec, plan: _Plan, layers: dict[str, _Layer], input_names: dict[str, str]) -> dict[str, str] | str:
    """imported name -> resolved name when the loaded spec is the graph, layer by layer; else
    what differs."""
    if len(spec.nodes) != len(plan.order):
        return f"{len(spec.nodes)} layers, the model has {len(plan.order)}"
    names = dict(input_names)
    names.update({original: node.name for original, node in zip(plan.order, spec.nodes)})
    for original, node in zip(plan.order, spec.nodes):
        layer = layers[original]
        if node.type != layer.type or _dump(node.layer) != layer.full:
            return f"layer {node.name} is not {original}'s configuration"
        if node.inputs != [names[r] for r in layer.source.inputs]:
            return f"layer {node.name} takes {node.inputs}, {original} takes {layer.source.inputs}"
        if node.trainable != layer.source.trainable:
            return f"layer {node.name} is not as trainable as {original}"
    return {original: names[original] for original in plan.order}


def emit(graph: ImportedGraph, fold: bool = True, description: str | None = None) -> Emitted:
    """The spec text for `graph`, loaded back and proved equal to it, and the weights re-keyed."""
    from archspec.spec import loads

    if not graph.layers:
        raise ArchspecError(f"model {graph.name} has no layers to import")
    layers = [_prepare(layer) for layer in graph.layers]
    by_name = {layer.name: layer for layer in layers}
    input_names = _input_names(graph)
    first_input = input_names[graph.inputs[0].name]
    outputs_written = graph.outputs != [layers[-1].name]
    notes: list[str] = []
    plans = []
    if fold:
        folded = _fold(graph, layers, first_input, input_names)
        if folded is not None:
            plans.append(folded)
    plans.append(_flat_plan(graph, layers, first_input, input_names))
    for plan in plans:
        outputs = [plan.refs.get(o) or o for o in graph.outputs] if outputs_written else []
        text = _text(graph, plan, input_names, description, outputs)
        try:
            spec = loads(text, f"{graph.name}.yaml")
        except ArchspecError as exc:
            if plan is plans[-1]:
                raise ArchspecError(f"the spec written for {graph.name} does not load: {exc.problems[0].message}") from None
            notes.append(f"blocks not folded: the folded spec does not load ({exc.problems[0].message})")
            continue
        result = _verify(spec, plan, by_name, input_names)
        if isinstance(result, str):
            if plan is plans[-1]:
                raise ArchspecError(f"the spec written for {graph.name} is not the model: {result}")
            notes.append(f"blocks not folded: the folded spec differs from the model ({result})")
            continue
        weights = _rekey(graph.weights, result)
        from archspec.weights import check_weights

        check_weights(spec, weights, f"{graph.name}'s weights")
        return Emitted(text, spec, weights, result, bool(plan.blocks), notes)
    raise AssertionError("unreachable: the flat plan either returns or raises")


def graph_spec(graph: ImportedGraph):
    """(the spec of `graph` as it is, every layer under its imported name, no weights; imported
    name -> resolved name): what an importer needs to lay its weights out."""
    from archspec.spec import loads

    layers = [_prepare(layer) for layer in graph.layers]
    input_names = _input_names(graph)
    plan = _flat_plan(graph, layers, input_names[graph.inputs[0].name], input_names, every_name=True)
    outputs = list(graph.outputs) if graph.outputs != [layers[-1].name] else []
    spec = loads(_text(graph, plan, input_names, None, outputs), f"{graph.name}.yaml")
    result = _verify(spec, plan, {layer.name: layer for layer in layers}, input_names)
    if isinstance(result, str):
        raise ArchspecError(f"model {graph.name} cannot be written as a spec: {result}")
    return spec, result


def _rekey(weights: dict[str, np.ndarray], names: dict[str, str]) -> dict[str, np.ndarray]:
    """`<imported layer>/<variable>` -> `<resolved layer>/<variable>`."""
    result = {}
    # longest layer names first: a layer named `a/b` must win over a layer `a`
    for key in sorted(weights, key=len, reverse=True):
        layer = next((n for n in _prefixes(key) if n in names), None)
        if layer is None:
            raise ArchspecError(f"weight '{key}' belongs to no imported layer")
        result[names[layer] + key[len(layer):]] = weights[key]
    return result


def _prefixes(key: str):
    parts = key.split("/")
    for n in range(len(parts) - 1, 0, -1):
        yield "/".join(parts[:n])


def write(emitted: Emitted, spec_path: str | Path, weights_path: str | Path | None = None,
          extra: dict[str, str] | None = None) -> None:
    """Write the spec (atomically) and, when asked, the neutral weights file."""
    from archspec.fileio import atomic_write_text
    from archspec.weights import write_weights

    if weights_path is not None:
        write_weights(emitted.weights, weights_path, emitted.spec, extra)
    atomic_write_text(spec_path, emitted.text)


def prove(emitted: Emitted, original: Callable[[list[np.ndarray]], list[np.ndarray]], backend: str,
          seed: int = 0, batch: int = 2) -> float:
    """The largest |difference| between the original model and the imported spec built in
    `backend` with the imported weights, on the same random inputs (check.sample_inputs: the
    range a user feeds, 7 on a free axis)."""
    import archspec
    from archspec.check import sample_inputs

    inputs = sample_inputs(emitted.spec, batch, seed)
    model = archspec.build(emitted.spec, backend, weights=emitted.weights)
    if backend == "keras":
        from archspec.backends.keras import predict
    else:
        from archspec.backends.torch import predict
    ours = predict(model, inputs)
    theirs = original(inputs)
    if len(ours) != len(theirs):
        raise ArchspecError(f"the original model has {len(theirs)} outputs, the imported spec {len(ours)}")
    diff = 0.0
    for a, b in zip(ours, theirs):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            raise ArchspecError(f"the original model gives an output of shape {list(b.shape)}, the imported spec "
                                f"{list(a.shape)}")
        diff = max(diff, float(np.max(np.abs(a - b), initial=0.0)))
    return diff
