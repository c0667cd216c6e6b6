"""`archspec weights import`: another model's weights onto a spec a user wrote.

A spec layer takes the weights of the source layer with its name (also with the spec's block
scopes written Keras's way: `conv2/block1/0_conv` is `conv2_block1_0_conv`); the layers left
over are paired in graph order, each spec layer with the next source layer of the same type
whose variables have the same names and shapes. Every source tensor that no spec layer takes
is reported, and a spec weight left unfilled is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from archspec.errors import ArchspecError
from archspec.importers.graph import ImportedGraph


@dataclass
class SourceLayer:
    """A layer of the model the weights come from: its name, type and variables (Keras layout)."""

    name: str
    type: str
    variables: dict[str, np.ndarray]


@dataclass
class WeightsImport:
    weights: dict[str, np.ndarray]
    by_name: list[tuple[str, str]] = field(default_factory=list)  # (spec layer, source layer)
    by_position: list[tuple[str, str]] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)  # source tensors no spec layer took
    unfilled: list[str] = field(default_factory=list)  # spec weights no source tensor filled


def source_layers(graph: ImportedGraph) -> list[SourceLayer]:
    """An imported graph's layers with weights, in graph order (what `map_weights` takes)."""
    result = []
    for layer in graph.layers:
        prefix = layer.name + "/"
        variables = {k[len(prefix):]: v for k, v in graph.weights.items() if k.startswith(prefix)}
        if variables:
            result.append(SourceLayer(layer.name, layer.type, variables))
    return result


def _signature(variables: dict[str, tuple]) -> tuple:
    return tuple(sorted((name, tuple(shape)) for name, shape in variables.items()))


def map_weights(spec, sources: list[SourceLayer]) -> WeightsImport:
    """The spec's neutral weights taken from `sources` (see the module's docstring)."""
    nodes = [node for node in spec.nodes if node.weights]
    wanted = {node.name: _signature({w.name: w.shape for w in node.weights}) for node in nodes}
    by_source_name = {s.name: s for s in sources}
    taken: set[str] = set()
    result = WeightsImport({})

    def take(node, source, how):
        taken.add(source.name)
        how.append((node.name, source.name))
        for weight in node.weights:
            result.weights[f"{node.name}/{weight.name}"] = np.asarray(source.variables[weight.name], np.float32)

    left = []
    for node in nodes:
        source = next((by_source_name[n] for n in (node.name, node.name.replace("/", "_"))
                       if n in by_source_name and n not in taken), None)
        if source is not None and _signature({k: v.shape for k, v in source.variables.items()}) == wanted[node.name]:
            take(node, source, result.by_name)
        else:
            left.append(node)
    remaining = [s for s in sources if s.name not in taken]
    cursor = 0
    for node in left:
        for index in range(cursor, len(remaining)):
            source = remaining[index]
            if source.type == node.type and \
                    _signature({k: v.shape for k, v in source.variables.items()}) == wanted[node.name]:
                take(node, source, result.by_position)
                cursor = index + 1
                break
        else:
            result.unfilled += [f"{node.name}/{w.name} {list(w.shape)}" for w in node.weights]
    result.unused = [f"{s.name}/{k} {list(v.shape)}" for s in sources if s.name not in taken
                     for k, v in s.variables.items()]
    return result


def import_weights(spec, sources: list[SourceLayer]) -> WeightsImport:
    """`map_weights`, refusing (exit 2) when a spec weight stays unfilled."""
    result = map_weights(spec, sources)
    if result.unfilled:
        shown = result.unfilled[:20]
        more = f" ... and {len(result.unfilled) - 20} more" if len(result.unfilled) > 20 else ""
        unused = "; source tensors left: " + ", ".join(result.unused[:10]) if result.unused else ""
        raise ArchspecError(f"{len(result.unfilled)} weights of spec {spec.name} match no source tensor: "
                            + ", ".join(shown) + more + unused)
    return result
