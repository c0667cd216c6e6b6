"""What each layer type becomes in generated PyTorch source, one module per family.

An emitter takes a `Context` (the node, its layout, what archspec's own PyTorch setup computed for
it) and returns a `TorchLayer`: the submodule to construct (a torch.nn module wherever one computes
what Keras computes), the forward steps, and how the neutral (Keras-layout) weights map onto the
submodule. Types without an emitter are refused by name; nothing is guessed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from archspec.spec.graph import Node

EMITTERS: dict[str, Callable[["Context"], "TorchLayer"]] = {}
FAMILIES = ("activations", "applications", "attention", "convolutional", "core", "merging", "normalization", "pooling",
            "preprocessing", "recurrent", "regularization", "reshaping", "wrappers")


def emits(*type_names: str):
    def register(fn):
        for name in type_names:
            EMITTERS[name] = fn
        return fn

    return register


def emitter(type_name: str) -> Callable[["Context"], "TorchLayer"] | None:
    for family in FAMILIES:  # each imported once; a family may already be (activations is)
        importlib.import_module(f"archspec.codegen.torch_layers.{family}")
    return EMITTERS.get(type_name)


class _Stub:
    """Stands for archspec's LayerModule while a layer's torch_setup computes its geometry."""

    def __init__(self, layout: str, inside: bool):
        self.layout, self.internal_channels_first, self.training = layout, inside, False

    def register_buffer(self, name, tensor, persistent=True):
        setattr(self, name, tensor)


@dataclass
class Context:
    node: Node
    data_format: str
    layout: str  # "channels_first" or "spec": how the forward holds image-like inputs
    inside: bool  # a channels_last spec's tensors run channels-first here
    n_inputs: int = 1
    masks: tuple = ()  # per input: whether a Keras mask comes with it

    @property
    def masked(self) -> bool:
        return any(self.masks)

    @property
    def cfg(self) -> Any:
        return self.node.layer

    @property
    def shape(self):
        """The first input's per-sample shape as the forward holds it (channels first inside)."""
        shape = self.node.input_shapes[0]
        if self.inside and len(shape) >= 2:
            return (shape[-1], *shape[:-1])
        return shape

    def setup(self) -> _Stub:
        stub = _Stub(self.layout, self.inside)
        self.cfg.torch_setup(stub, self.node.input_shapes, self.data_format)
        return stub


@dataclass
class Step:
    """One forward statement: `{x}` (or `{x0}`, `{x1}`...) the inputs, `{m}` the submodule, `{0}`... literals."""

    template: str
    values: tuple = ()
    hints: tuple = ()
    comment: str | None = None


@dataclass
class TorchLayer:
    module: tuple[str, tuple, tuple] | None = None  # (constructor template, values, hints)
    steps: list[Step] = field(default_factory=list)
    module_class: str | None = None  # type(module).__name__, the key of the weight table
    weights: dict[str, tuple[str, tuple | None]] = field(default_factory=dict)  # keras var -> (attr, permute)
    helpers: tuple[str, ...] = ()  # definitions the file needs (archspec.codegen.torch_layers.helpers)


def ctor(func: str, args: list[tuple[str, Any, bool]]) -> tuple[str, tuple, tuple]:
    """A constructor call template: args are (name, value, positional)."""
    parts, values, hints = [], [], []
    for name, value, positional in args:
        slot = "{" + str(len(values)) + "}"
        parts.append(slot if positional else f"{name}={slot}")
        values.append(value)
        hints.append(name)
    return f"{func}({', '.join(parts)})", tuple(values), tuple(hints)


def unwrap(values: tuple) -> Any:
    """One int for a tuple of equal ints, as torch.nn accepts (kernel_size=3 for (3, 3))."""
    if isinstance(values, tuple) and values and all(v == values[0] for v in values) and isinstance(values[0], int):
        return values[0]
    return values


class Refused(Exception):
    """This configuration of a type has no generated PyTorch form (yet); the message says why."""
