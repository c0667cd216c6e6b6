"""`archspec import torch`: a PyTorch module becomes a spec and neutral weights.

The module is traced with `torch.export` in eval mode; every ATen operator of the traced graph
is mapped to the layer type that computes the same function, or refused with the operator's
name and the module path (`nn_module_stack`) that produced it; the operators of one
nn.MultiheadAttention call are taken together, as one MultiHeadAttention layer. Weights are
converted to the neutral (Keras) layout with each layer type's own `Weight.from_torch`.

Layout. A spec tensor holds a torch tensor's values with its per-sample axes in some order:
`Value.order[j]` is the torch axis that spec axis j holds. `permute`/`transpose` only change
that bookkeeping; a layer that needs a given order (a convolution wants the spec's
data_format, Dense the features last, a Reshape torch's order) gets a `Permute` in front of it
when the order differs. So a channels_first import is torch's graph, and a channels_last one
(`--channels-last`) needs a Permute only where torch itself reshapes a feature map.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import operator
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from archspec.errors import ArchspecError
from archspec.importers.graph import ImportedGraph, ImportedInput, ImportedLayer
from archspec.layers import layer_class
from archspec.layers.base import same_padding

TRACE_BATCH = 2  # a batch of 2 tells the batch axis from a per-sample axis of size 1


@dataclass
class Value:
    """A tensor of the spec: layer (or input) `name`, the torch per-sample `shape`, and `order`
    (spec axis j holds torch axis order[j]). `flat`: for a Flatten of a reordered tensor, the
    torch position of each spec element (a Dense that takes it permutes its kernel rows)."""

    name: str
    shape: tuple[int, ...]
    order: tuple[int, ...]
    nonneg: bool = False
    flat: np.ndarray | None = None

    @property
    def spec_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[o] for o in self.order)

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclass
class Const:
    """A parameter, buffer or constant tensor of the module (`key`: its state-dict name)."""

    tensor: Any
    key: str


def identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def _op_name(target: Any) -> str:
    if target is operator.getitem:
        return "getitem"
    name = str(target)
    parts = name.split(".")
    return ".".join(parts[:2]) if name.startswith("aten.") else name


def _arguments(node) -> dict[str, Any]:
    """The operator's arguments by schema name, defaults filled in."""
    schema = node.target._schema
    values = {}
    for index, argument in enumerate(schema.arguments):
        if index < len(node.args):
            values[argument.name] = node.args[index]
        elif argument.name in node.kwargs:
            values[argument.name] = node.kwargs[argument.name]
        elif argument.has_default_value():
            values[argument.name] = argument.default_value
    return values


def _sanitize(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]", "_", text).strip("_")


# operators that compute nothing once traced in eval mode
PASSTHROUGH = {"aten.contiguous", "aten.clone", "aten.detach", "aten.alias", "aten.lift_fresh_copy",
               "aten.detach_", "aten.to"}
IGNORED = {"aten._assert_tensor_metadata", "aten._assert_async", "aten._assert_scalar", "aten.sym_size",
           "aten.sym_constrain_range_for_size", "aten._functional_assert_async"}

# unary operators that are a Keras activation (torch's and Keras 3's formulas agree)
ACTIVATIONS = {
    "aten.relu": "relu", "aten.relu_": "relu", "aten.sigmoid": "sigmoid", "aten.sigmoid_": "sigmoid",
    "aten.tanh": "tanh", "aten.tanh_": "tanh", "aten.silu": "silu", "aten.silu_": "silu",
    "aten.hardswish": "hard_silu", "aten.hardswish_": "hard_silu", "aten.hardsigmoid": "hard_sigmoid",
    "aten.hardsigmoid_": "hard_sigmoid", "aten.mish": "mish", "aten.mish_": "mish", "aten.selu": "selu",
    "aten.selu_": "selu", "aten.softsign": "softsign", "aten.relu6": "relu6", "aten.relu6_": "relu6",
    "aten.log_sigmoid": "log_sigmoid",
}
NONNEGATIVE = {"relu", "relu6", "sigmoid", "hard_sigmoid", "softmax", "exponential"}
# layers whose `activation` field can take an activation that follows them
HAS_ACTIVATION = {"Conv1D", "Conv2D", "Conv3D", "DepthwiseConv1D", "DepthwiseConv2D", "Conv1DTranspose",
                  "Conv2DTranspose", "Dense"}


@dataclass
class AttentionCall:
    """One call of an nn.MultiheadAttention: its path, the module, which call of it (`index`),
    and the traced nodes it produced."""

    path: str
    module: Any
    index: int
    nodes: list[Any]


def _flat_args(node) -> list[Any]:
    found: list[Any] = []

    def walk(value):
        if isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        else:
            found.append(value)

    walk(node.args)
    walk(node.kwargs)
    return found


class Refused(ArchspecError):
    """An operator archspec cannot reproduce exactly (exit 2, naming the operator and its module)."""


@dataclass
class Converter:
    """Maps one exported program onto archspec layers (see the module docstring)."""

    program: Any  # torch.export.ExportedProgram
    data_format: str
    name: str
    module: Any = None  # the traced nn.Module: its nn.MultiheadAttention submodules become layers
    calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # attention calls, see attention_calls
    layers: list[ImportedLayer] = field(default_factory=list)
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        self.env: dict[str, Any] = {}
        self.taken: set[str] = set()
        self.producer: dict[str, ImportedLayer] = {}
        self.converted: dict[tuple[str, tuple], Value] = {}
        self.node = None
        self.inputs: list[ImportedInput] = []

    # ------------------------------------------------------------ bookkeeping

    def natural(self, rank: int) -> tuple[int, ...]:
        """The order the spec's data_format gives a tensor of `rank` per-sample axes."""
        if self.data_format == "channels_last" and rank >= 2:
            return (*range(1, rank), 0)
        return identity(rank)

    def where(self) -> str:
        stack = self.node.meta.get("nn_module_stack") or {}
        if not stack:
            return "the module's own forward"
        path, cls = list(stack.values())[-1]
        type_name = (cls if isinstance(cls, str) else getattr(cls, "__qualname__", str(cls))).rsplit(".", 1)[-1]
        return f"module '{path}' ({type_name})" if path else f"the top module ({type_name})"

    def refuse(self, why: str) -> Refused:
        return Refused(f"{_op_name(self.node.target)} in {self.where()}: {why}")

    def unsupported(self) -> Refused:
        return self.refuse("archspec has no layer type that computes this operator exactly")

    def layer_name(self, suffix: str | None = None) -> str:
        """After the module path: the module's own name for torch.nn's layers, else path + op."""
        stack = self.node.meta.get("nn_module_stack") or {}
        path, cls = list(stack.values())[-1] if stack else ("", "")
        module = cls if isinstance(cls, str) else f"{getattr(cls, '__module__', '')}.{getattr(cls, '__qualname__', '')}"
        op = _op_name(self.node.target).split(".")[-1].rstrip("_")
        base = _sanitize(path.replace(".", "_"))
        if not base:
            base = op
        elif not module.startswith("torch.nn."):
            base = f"{base}_{op}"
        if suffix:
            base = f"{base}_{suffix}"
        return self.unique(base)

    def unique(self, base: str) -> str:
        name, n = base, 1
        while name in self.taken:
            name = f"{base}_{n}"
            n += 1
        return name

    def add(self, type_name: str, config: dict[str, Any], inputs: list[Value], shape: tuple[int, ...],
            order: tuple[int, ...] | None = None, torch_weights: dict[str, Any] | None = None,
            suffix: str | None = None, nonneg: bool = False, name: str | None = None) -> Value:
        """One spec layer; checks that archspec computes the output shape torch does."""
        name = self.unique(name) if name else self.layer_name(suffix)
        order = order if order is not None else identity(len(shape))
        cls = layer_class(type_name)
        try:
            layer = cls.model_validate({**config, "name": "x"})
            in_shapes = [v.spec_shape for v in inputs]
            out_shape = layer.output_shape(in_shapes, self.data_format)
        except (ValueError, TypeError) as exc:
            raise self.refuse(f"{type_name} cannot take this configuration: {str(exc).splitlines()[0]}") from None
        expected = tuple(shape[o] for o in order)
        if tuple(out_shape) != expected:
            raise self.refuse(f"{type_name} would give shape {list(out_shape)}, torch gives {list(expected)}")
        for weight in layer.weights(in_shapes, self.data_format):
            tensor = (torch_weights or {}).get(weight.attribute)
            if tensor is None:
                raise AssertionError(f"{type_name} weight {weight.attribute} not provided")
            array = tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else np.asarray(tensor)
            if array.size != weight.size:
                raise self.refuse(f"{type_name} weight '{weight.name}' needs {weight.size} values, the module has "
                                  f"{array.size}")
            self.weights[f"{name}/{weight.name}"] = weight.from_torch(array.astype(np.float32))
        self.taken.add(name)
        imported = ImportedLayer(name, type_name, dict(config), [v.name for v in inputs])
        self.layers.append(imported)
        self.producer[name] = imported
        return Value(name, tuple(shape), order, nonneg)

    def to_order(self, value: Value, order: tuple[int, ...]) -> Value:
        """`value` with its axes in `order`, through a Permute when they are not."""
        if value.order == tuple(order):
            return value
        if value.flat is not None:
            raise self.refuse("takes a flattened tensor whose order differs from torch's (a channels_last "
                              "Flatten); only a Linear can take it (its weights are re-ordered)")
        key = (value.name, tuple(order))
        if key not in self.converted:
            dims = [value.order.index(t) + 1 for t in order]
            self.converted[key] = self.add("Permute", {"dims": dims}, [value], value.shape, tuple(order),
                                           suffix="permute", nonneg=value.nonneg)
        return self.converted[key]

    def tensor(self, arg: Any) -> Value:
        value = self.env.get(arg.name) if hasattr(arg, "name") else None
        if not isinstance(value, Value):
            raise self.refuse("an operand is a parameter or a constant where archspec needs a layer's output")
        return value

    def out_shape(self, node=None) -> tuple[int, ...]:
        val = (node or self.node).meta.get("val")
        shape = tuple(int(d) for d in val.shape)
        if not shape or shape[0] != TRACE_BATCH:
            raise self.refuse(f"its output {list(shape)} does not keep the batch axis first")
        return shape[1:]

    # ------------------------------------------------------------ the walk

    def run(self) -> ImportedGraph:
        from torch.export.graph_signature import InputKind

        signature = self.program.graph_signature
        kinds = {spec.arg.name: spec for spec in signature.input_specs}
        state = self.program.state_dict
        constants = getattr(self.program, "constants", {})
        groups = self.attention_groups()
        for node in self.program.graph.nodes:
            self.node = node
            group = groups.get(node.name)
            if group is not None:
                if node is group.nodes[0]:
                    self.env.update(self.attention(group))
                continue
            if node.op == "placeholder":
                spec = kinds[node.name]
                if spec.kind == InputKind.USER_INPUT:
                    shape = self.out_shape()
                    name = _sanitize(node.name) or "input"
                    self.taken.add(name)
                    self.inputs.append(ImportedInput(name, tuple(shape[o] for o in self.natural(len(shape)))))
                    self.env[node.name] = Value(name, shape, self.natural(len(shape)))
                else:
                    source = state if spec.target in state else constants
                    self.env[node.name] = Const(source[spec.target], spec.target)
            elif node.op == "call_function":
                self.env[node.name] = self.call(node)
            elif node.op == "output":
                outputs = []
                for arg in node.args[0]:
                    value = self.tensor(arg)
                    value = self.to_order(value, self.natural(value.rank))
                    if value.name in {i.name for i in self.inputs} or value.name in outputs:
                        raise self.refuse("an output that is a model input, or the same tensor twice")
                    outputs.append(value.name)
                self.outputs = outputs
            else:
                raise self.unsupported()
        return ImportedGraph(self.name, self.data_format, self.inputs, self.layers, self.outputs, self.weights)

    def call(self, node) -> Any:
        op = _op_name(node.target)
        if op == "getitem":
            return self.env[node.args[0].name][node.args[1]]
        if op in IGNORED:
            return None
        if op in PASSTHROUGH:
            return self.env[node.args[0].name]
        handler = HANDLERS.get(op)
        if handler is not None:
            return handler(self, _arguments(node))
        if op in ACTIVATIONS:
            return self.activation(self.tensor(node.args[0]), ACTIVATIONS[op])
        raise self.unsupported()

    # ------------------------------------------------------------ nn.MultiheadAttention

    def attention_groups(self) -> dict[str, AttentionCall]:
        """The nodes that each call of an nn.MultiheadAttention traced into, by node name. Its
        forward moves the batch axis and splits the heads in ways no layer reproduces one op at a
        time, so the whole call becomes one MultiHeadAttention layer."""
        if self.module is None:
            return {}
        from torch import nn

        groups: dict[str, AttentionCall] = {}
        by_key: dict[str, AttentionCall] = {}
        seen: dict[str, int] = {}
        for node in self.program.graph.nodes:
            if node.op != "call_function":
                continue
            for key, (path, _) in reversed(list((node.meta.get("nn_module_stack") or {}).items())):
                try:
                    sub = self.module.get_submodule(path)
                except AttributeError:
                    continue
                if isinstance(sub, nn.MultiheadAttention):
                    if key not in by_key:
                        by_key[key] = AttentionCall(path, sub, seen.get(path, 0), [])
                        seen[path] = seen.get(path, 0) + 1
                    by_key[key].nodes.append(node)
                    groups[node.name] = by_key[key]
                    break
        return groups

    def attention(self, group: AttentionCall) -> dict[str, Value]:
        """One call of an nn.MultiheadAttention as a MultiHeadAttention layer (Keras's projections
        are torch's in_proj rows for q, k and v, split into heads the same way)."""
        m = group.module
        inside = {n.name for n in group.nodes}
        external: list[Any] = []
        for node in group.nodes:
            for arg in _flat_args(node):
                if hasattr(arg, "name") and arg.name not in inside and arg.name not in [e.name for e in external]:
                    if isinstance(self.env.get(arg.name), Value):
                        external.append(arg)
        leaving = [n for n in group.nodes if any(u.name not in inside for u in n.users)]
        calls = self.calls.get(group.path, [])
        call = calls[group.index] if group.index < len(calls) else None
        if call is None:
            raise self.refuse(f"nn.MultiheadAttention '{group.path}' was not seen running on the example inputs")
        if call["masks"]:
            raise self.refuse(f"nn.MultiheadAttention '{group.path}' is called with {', '.join(call['masks'])}: "
                              "archspec's MultiHeadAttention takes its masks from Keras masking only")
        if m.bias_k is not None or m.add_zero_attn:
            raise self.refuse(f"nn.MultiheadAttention '{group.path}' has add_bias_kv or add_zero_attn, which Keras's "
                              "MultiHeadAttention has not")
        if not m.batch_first:
            raise self.refuse(f"nn.MultiheadAttention '{group.path}' has batch_first=False; archspec keeps the batch "
                              "axis first")
        if len(leaving) != 1:
            raise self.refuse(f"the attention weights of nn.MultiheadAttention '{group.path}' are used "
                              "(need_weights=True); archspec's MultiHeadAttention returns its output only")
        roles = call["roles"]  # query, key, value -> index among the distinct tensors, in call order
        if len(external) != max(roles) + 1:
            raise self.refuse(f"nn.MultiheadAttention '{group.path}' takes tensors archspec cannot tell apart "
                              "as query, key and value")
        values = [self.tensor(e) for e in external]
        values = [self.to_order(v, identity(v.rank)) for v in values]
        query, key, value = (values[i] for i in roles)
        inputs = [query, value] if roles[1] == roles[2] else [query, value, key]
        E = m.embed_dim
        if m._qkv_same_embed_dim:
            wq, wk, wv = m.in_proj_weight[:E], m.in_proj_weight[E:2 * E], m.in_proj_weight[2 * E:]
        else:
            wq, wk, wv = m.q_proj_weight, m.k_proj_weight, m.v_proj_weight
        bias = m.in_proj_bias
        tensors = {"query_kernel": wq, "key_kernel": wk, "value_kernel": wv,
                   "attention_output_kernel": m.out_proj.weight}
        if bias is not None:
            tensors.update(query_bias=bias[:E], key_bias=bias[E:2 * E], value_bias=bias[2 * E:],
                           attention_output_bias=m.out_proj.bias)
        config = {"num_heads": m.num_heads, "key_dim": m.head_dim, "use_bias": bias is not None}
        if m.dropout:
            config["dropout"] = float(m.dropout)
        self.node = leaving[0]
        shape = self.out_shape()
        self.node = group.nodes[0]
        out = self.add("MultiHeadAttention", config, inputs, shape, torch_weights=tensors)
        return {leaving[0].name: out}

    # ------------------------------------------------------------ shared pieces

    def activation(self, x: Value, name: str) -> Value:
        producer = self.producer.get(x.name)
        source = self.node.args[0]
        folds = (producer is not None and producer.type in HAS_ACTIVATION and producer is self.layers[-1]
                 and producer.config.get("activation", "linear") == "linear" and len(source.users) == 1
                 and x.flat is None)
        if folds:
            producer.config["activation"] = name
            return Value(x.name, x.shape, x.order, name in NONNEGATIVE)
        out = self.add("Activation", {"activation": name}, [x], self.out_shape(), x.order,
                       nonneg=name in NONNEGATIVE)
        out.flat = x.flat
        return out

    def spatial_input(self, x: Value, rank: int) -> Value:
        if x.rank != rank + 1:
            raise self.refuse(f"expects a {rank}-D feature map with channels, got per-sample shape {list(x.shape)}")
        return self.to_order(x, self.natural(x.rank))

    def pad_layer(self, x: Value, pads: list[tuple[int, int]]) -> Value:
        """ZeroPadding of the spatial axes of a feature map in the natural order; `pads` in torch's axis order."""
        rank = len(pads)
        shape = (x.shape[0], *(n + b + e for n, (b, e) in zip(x.shape[1:], pads)))
        padding = list(pads[0]) if rank == 1 else [list(p) for p in pads]
        return self.add(f"ZeroPadding{rank}D", {"padding": padding}, [x], shape, self.natural(len(shape)),
                        suffix="pad", nonneg=x.nonneg)

    def slice_axis(self, x: Value, axis: int, start: int, stop: int) -> Value:
        """Torch axis `axis` sliced to [start, stop): a Cropping2D on a (before, axis, after)
        view of the spec tensor (archspec has no slicing layer)."""
        spec_axis = x.order.index(axis)
        size = x.shape[axis]
        if start == 0 and stop >= size:
            return x
        if x.rank == 2 and spec_axis == 0:  # the steps of a sequence: Keras's Cropping1D crops axis 1
            shape = tuple(stop - start if a == axis else n for a, n in enumerate(x.shape))
            return self.add("Cropping1D", {"cropping": [start, size - stop]}, [x], shape, x.order, suffix="slice",
                            nonneg=x.nonneg)
        shape = x.spec_shape
        view = (math.prod(shape[:spec_axis]), size, math.prod(shape[spec_axis + 1:]))
        y = x
        if view != shape:
            y = self.add("Reshape", {"target_shape": list(view)}, [x], view, suffix="view")
        pair = [start, size - stop]
        cropping = [[0, 0], pair] if self.data_format == "channels_last" else [pair, [0, 0]]
        cropped = (view[0], stop - start, view[2])
        y = self.add("Cropping2D", {"cropping": cropping}, [y], cropped, suffix="slice", nonneg=x.nonneg)
        out_torch = tuple(stop - start if a == axis else n for a, n in enumerate(x.shape))
        out_spec = tuple(out_torch[o] for o in x.order)
        if out_spec != cropped:
            y = self.add("Reshape", {"target_shape": list(out_spec)}, [y], out_torch, x.order, suffix="unview",
                         nonneg=x.nonneg)
        else:
            y = Value(y.name, out_torch, x.order, x.nonneg)
        return y

    def reshape(self, x: Value, shape: tuple[int, ...]) -> Value:
        if tuple(shape) == x.shape and x.order == identity(x.rank):
            return x
        if len(shape) == 1:
            return self.flatten(x)
        merged = self.merge_in_place(x, shape)
        if merged is not None:
            return merged
        x = self.to_order(x, identity(x.rank))
        return self.add("Reshape", {"target_shape": list(shape)}, [x], shape, nonneg=x.nonneg)

    def merge_in_place(self, x: Value, shape: tuple[int, ...]) -> Value | None:
        """A reshape that only merges adjacent torch axes which lie adjacent and in order in the spec
        too (a channels_last (H, W, C) map into torch's (C, H*W)) is a Reshape in the spec's order,
        with no Permute; None when it is not one."""
        if x.order == identity(x.rank) or 1 in x.shape or 1 in shape:
            return None
        groups, axis = [], 0
        for size in shape:
            group, product = [], 1
            while axis < x.rank and product < size:
                product *= x.shape[axis]
                group.append(axis)
                axis += 1
            if product != size:
                return None
            groups.append(group)
        positions = [x.order.index(g[0]) for g in groups]
        if any(x.order[p:p + len(g)] != tuple(g) for p, g in zip(positions, groups)):
            return None
        order = tuple(int(i) for i in np.argsort(positions))
        return self.add("Reshape", {"target_shape": [shape[o] for o in order]}, [x], shape, order,
                        nonneg=x.nonneg)

    def flatten(self, x: Value) -> Value:
        size = math.prod(x.shape)
        if x.rank == 1 and x.flat is None and x.order == (0,):
            return x
        out = self.add("Flatten", {}, [x], (size,), nonneg=x.nonneg)
        positions = np.arange(size).reshape(x.shape).transpose(x.order).reshape(-1)
        if x.flat is not None:
            positions = x.flat[positions]
        if not np.array_equal(positions, np.arange(size)):
            out.flat = positions
        return out


# ---------------------------------------------------------------- operator handlers

HANDLERS: dict[str, Callable[[Converter, dict[str, Any]], Any]] = {}


def handles(*ops: str):
    def decorate(fn):
        for op in ops:
            HANDLERS[op] = fn
        return fn

    return decorate


def _ints(value: Any, rank: int) -> tuple[int, ...]:
    value = list(value) if isinstance(value, (list, tuple)) else [value]
    return tuple(int(v) for v in (value * rank if len(value) == 1 else value))


def _const(c: Converter, arg: Any) -> Any:
    if arg is None:
        return None
    value = c.env.get(arg.name) if hasattr(arg, "name") else arg
    if not isinstance(value, Const):
        raise c.refuse("a weight that is computed in forward (archspec needs a parameter or a buffer)")
    return value.tensor


def _explicit_padding(c: Converter, x: Value, dims, kernel, strides, dilation, pads):
    """('same' | 'valid', x, zero-padded where needed) for a convolution with torch's symmetric `pads`."""
    if not any(pads):
        return "valid", x
    if all(same_padding(n, k, s, d) == (p, p) for n, k, s, d, p in zip(dims, kernel, strides, dilation, pads)):
        return "same", x
    return "valid", c.pad_layer(x, [(p, p) for p in pads])


@handles("aten.conv1d", "aten.conv2d", "aten.conv3d", "aten.convolution", "aten._convolution")
def _conv(c: Converter, a: dict[str, Any]) -> Value:
    if a.get("transposed"):
        return _conv_transpose(c, a)
    weight, bias = _const(c, a["weight"]), _const(c, a.get("bias"))
    rank = weight.dim() - 2
    x = c.spatial_input(c.tensor(a["input"]), rank)
    dims = x.shape[1:]
    strides, dilation = _ints(a["stride"], rank), _ints(a["dilation"], rank)
    kernel = tuple(weight.shape[2:])
    groups = int(a["groups"])
    if isinstance(a["padding"], str):
        if a["padding"] == "same" and max(strides) > 1:
            raise c.refuse("padding 'same' with a stride")
        padding, pads = a["padding"], (0,) * rank
    else:
        pads = _ints(a["padding"], rank)
        padding = None
    if padding is None:
        padding, x = _explicit_padding(c, x, dims, kernel, strides, dilation, pads)
    channels, filters = x.shape[0], weight.shape[0]
    common = {"kernel_size": list(kernel), "strides": list(strides), "padding": padding,
              "dilation_rate": list(dilation), "use_bias": bias is not None}
    tensors = {"weight": weight, "bias": bias}
    out = c.out_shape()
    if groups == channels and groups > 1 and rank <= 2 and (max(strides) == 1 or max(dilation) == 1):
        return c.add(f"DepthwiseConv{rank}D", {**common, "depth_multiplier": filters // channels}, [x], out,
                     c.natural(len(out)), tensors)
    return c.add(f"Conv{rank}D", {"filters": int(filters), **common, "groups": groups}, [x], out,
                 c.natural(len(out)), tensors)


@handles("aten.conv_transpose1d", "aten.conv_transpose2d", "aten.conv_transpose3d")
def _conv_transpose(c: Converter, a: dict[str, Any]) -> Value:
    from archspec.layers.convolutional.base_conv_transpose import transpose_geometry

    weight, bias = _const(c, a["weight"]), _const(c, a.get("bias"))
    rank = weight.dim() - 2
    if int(a["groups"]) != 1:
        raise c.refuse("a grouped transposed convolution (Keras's Conv{rank}DTranspose has no groups)")
    x = c.spatial_input(c.tensor(a["input"]), rank)
    dims = x.shape[1:]
    strides, dilation = _ints(a["stride"], rank), _ints(a["dilation"], rank)
    pads, extra = _ints(a["padding"], rank), _ints(a["output_padding"], rank)
    kernel = tuple(weight.shape[2:])
    out = c.out_shape()
    common = {"filters": int(weight.shape[1]), "kernel_size": list(kernel), "strides": list(strides),
              "dilation_rate": list(dilation), "use_bias": bias is not None}
    tensors = {"weight": weight, "bias": bias}
    natural = c.natural(len(out))

    def keras_matches(padding: str, output_padding) -> bool:
        extras = output_padding or (None,) * rank
        geometry = [transpose_geometry(n, k, s, padding, e, d)
                    for n, k, s, e, d in zip(dims, kernel, strides, extras, dilation)]
        before = [p if padding == "same" else 0 for p in pads]
        return [g[0] for g in geometry] == list(out[1:]) and [g[1] for g in geometry] == before

    candidates = []
    if not any(pads):
        candidates += [("valid", None), ("valid", extra)]
    candidates += [("same", None), ("same", extra)]
    for padding, output_padding in candidates:
        if keras_matches(padding, output_padding):
            config = {**common, "padding": padding}
            if output_padding is not None:
                config["output_padding"] = list(output_padding)
            try:
                return c.add(f"Conv{rank}DTranspose", config, [x], out, natural, tensors)
            except Refused:
                continue
    # the full transposed convolution, then torch's crop: `pads` before, pads - output_padding after
    grow = tuple(max(e - p, 0) for p, e in zip(pads, extra))
    full = tuple((n - 1) * s + d * (k - 1) + 1 + g for n, k, s, d, g in zip(dims, kernel, strides, dilation, grow))
    full_shape = (out[0], *full)
    y = c.add(f"Conv{rank}DTranspose", {**common, "padding": "valid", "output_padding": list(grow)}, [x],
              full_shape, natural, tensors)
    crops = [(p, f - p - o) for p, f, o in zip(pads, full, out[1:])]
    cropping = list(crops[0]) if rank == 1 else [list(p) for p in crops]
    return c.add(f"Cropping{rank}D", {"cropping": cropping}, [y], out, natural, suffix="crop")


@handles("aten.linear")
def _linear(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["input"])
    weight, bias = _const(c, a["weight"]), _const(c, a.get("bias"))
    if x.order[-1] != x.rank - 1:
        x = c.to_order(x, identity(x.rank))
    if x.flat is not None:  # the spec's Flatten lays out features in another order: re-order the rows
        weight = weight.detach()[:, x.flat]
    out = c.out_shape()
    return c.add("Dense", {"units": int(weight.shape[0]), "use_bias": bias is not None}, [x], out, x.order,
                 {"weight": weight, "bias": bias})


@handles("aten.batch_norm", "aten._native_batch_norm_legit_no_training", "aten.instance_norm")
def _batch_norm(c: Converter, a: dict[str, Any]) -> Value:
    if c.node.target.__name__.startswith("instance_norm") or a.get("training") or a.get("use_input_stats"):
        raise c.refuse("batch statistics at inference (instance norm, or a BatchNorm without running stats)")
    x = c.tensor(a["input"])
    weight, bias = _const(c, a.get("weight")), _const(c, a.get("bias"))
    mean, var = _const(c, a["running_mean"]), _const(c, a["running_var"])
    if mean is None or var is None:
        raise c.refuse("a BatchNorm without running statistics (track_running_stats=False)")
    spec_axis = x.order.index(0) if x.rank else 0
    axis = -1 if spec_axis == x.rank - 1 else spec_axis + 1
    config = {"axis": axis, "momentum": round(1.0 - float(a["momentum"]), 10), "epsilon": float(a["eps"]),
              "center": bias is not None, "scale": weight is not None}
    tensors = {"weight": weight, "bias": bias, "running_mean": mean, "running_var": var}
    return c.add("BatchNormalization", config, [x], c.out_shape(), x.order, tensors)


@handles("aten.layer_norm")
def _layer_norm(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["input"])
    count = len(a["normalized_shape"])
    axes = list(range(x.rank - count, x.rank))
    if count > 1:
        x = c.to_order(x, identity(x.rank))
    spec_axes = [x.order.index(t) + 1 for t in axes]
    axis: Any = spec_axes[0] if count == 1 else spec_axes
    if count == 1 and spec_axes[0] == x.rank:
        axis = -1
    weight, bias = _const(c, a.get("weight")), _const(c, a.get("bias"))
    config = {"axis": axis, "epsilon": float(a["eps"]), "center": bias is not None, "scale": weight is not None}
    return c.add("LayerNormalization", config, [x], c.out_shape(), x.order, {"weight": weight, "bias": bias})


def _window(a: dict[str, Any], rank: int):
    kernel = _ints(a["kernel_size"], rank)
    strides = _ints(a.get("stride") or kernel, rank)
    pads = _ints(a.get("padding", 0), rank)
    return kernel, strides, pads


def _pool_geometry(n: int, k: int, s: int, p: int, ceil: bool) -> tuple[list[int], int]:
    """Torch's windows on one axis: the start of each (in input coordinates) and their count."""
    out = (n + 2 * p - k + ((s - 1) if ceil else 0)) // s + 1
    if ceil and (out - 1) * s >= n + p:  # torch drops a last window that starts in the padding
        out -= 1
    return [i * s - p for i in range(out)], out


@handles("aten.max_pool1d", "aten.max_pool2d", "aten.max_pool3d", "aten.max_pool2d_with_indices")
def _max_pool(c: Converter, a: dict[str, Any]) -> Value:
    rank = len(c.out_shape()) - 1
    x = c.spatial_input(c.tensor(a["self"]), rank)
    kernel, strides, pads = _window(a, rank)
    if any(d != 1 for d in _ints(a.get("dilation", 1), rank)):
        raise c.refuse("a dilated max pooling")
    out = c.out_shape()
    dims = x.shape[1:]
    geometry = [_pool_geometry(n, k, s, p, bool(a.get("ceil_mode"))) for n, k, s, p in zip(dims, kernel, strides, pads)]
    config = {"pool_size": list(kernel), "strides": list(strides)}
    natural = c.natural(len(out))
    # torch's max ignores what lies outside the input, like TensorFlow's 'same'
    if all(starts == [i * s for i in range(len(starts))] and len(starts) == (n - k) // s + 1
           for (starts, _), n, k, s in zip(geometry, dims, kernel, strides)):
        return c.add(f"MaxPooling{rank}D", {**config, "padding": "valid"}, [x], out, natural, nonneg=x.nonneg)
    if all(len(starts) == -(-n // s) and starts[0] == -same_padding(n, k, s)[0]
           for (starts, _), n, k, s in zip(geometry, dims, kernel, strides)):
        return c.add(f"MaxPooling{rank}D", {**config, "padding": "same"}, [x], out, natural, nonneg=x.nonneg)
    if not x.nonneg:
        raise c.refuse("explicit padding of a max pooling whose input may be negative: torch pads with -inf, "
                       "a ZeroPadding layer with zeros, and Keras's 'same' pads otherwise here")
    # zeros lose to every value of a non-negative input: ZeroPadding + 'valid' is torch's pooling
    pairs = [(p, max((o - 1) * s + k - n - p, 0)) for (_, o), n, k, s, p in zip(geometry, dims, kernel, strides, pads)]
    y = c.pad_layer(x, pairs)
    return c.add(f"MaxPooling{rank}D", {**config, "padding": "valid"}, [y], out, natural, nonneg=True)


@handles("aten.avg_pool1d", "aten.avg_pool2d", "aten.avg_pool3d")
def _avg_pool(c: Converter, a: dict[str, Any]) -> Value:
    rank = len(c.out_shape()) - 1
    x = c.spatial_input(c.tensor(a["self"]), rank)
    kernel, strides, pads = _window(a, rank)
    if a.get("divisor_override") is not None:
        raise c.refuse("divisor_override")
    out = c.out_shape()
    dims = x.shape[1:]
    geometry = [_pool_geometry(n, k, s, p, bool(a.get("ceil_mode"))) for n, k, s, p in zip(dims, kernel, strides, pads)]
    config = {"pool_size": list(kernel), "strides": list(strides)}
    natural = c.natural(len(out))
    if all(starts == [i * s for i in range(len(starts))] and len(starts) == (n - k) // s + 1
           for (starts, _), n, k, s in zip(geometry, dims, kernel, strides)):
        return c.add(f"AveragePooling{rank}D", {**config, "padding": "valid"}, [x], out, natural, nonneg=x.nonneg)
    include = bool(a.get("count_include_pad", True))
    # a window that reaches past the explicit padding (ceil_mode) counts only what it covers in torch
    inside = all(starts[-1] + k <= n + p for (starts, _), n, k, p in zip(geometry, dims, kernel, pads))
    if not include and all(len(starts) == -(-n // s) and starts[0] == -same_padding(n, k, s)[0]
                           for (starts, _), n, k, s in zip(geometry, dims, kernel, strides)):
        # TensorFlow's 'same' divides by the window's part inside the input, as count_include_pad=False
        return c.add(f"AveragePooling{rank}D", {**config, "padding": "same"}, [x], out, natural, nonneg=x.nonneg)
    if include and inside:  # the padded zeros count, as they do after a ZeroPadding layer
        y = c.pad_layer(x, [(p, p) for p in pads])
        return c.add(f"AveragePooling{rank}D", {**config, "padding": "valid"}, [y], out, natural, nonneg=x.nonneg)
    raise c.refuse(f"average pooling with padding {list(pads)}, count_include_pad={include}, "
                   f"ceil_mode={bool(a.get('ceil_mode'))}: no Keras padding divides as torch does here")


@handles("aten.adaptive_avg_pool1d", "aten.adaptive_avg_pool2d", "aten.adaptive_avg_pool3d",
         "aten.adaptive_max_pool1d", "aten.adaptive_max_pool2d", "aten.adaptive_max_pool3d")
def _adaptive_pool(c: Converter, a: dict[str, Any]) -> Value:
    out = c.out_shape()
    rank = len(out) - 1
    x = c.spatial_input(c.tensor(a["self"]), rank)
    kind = "Max" if "max" in _op_name(c.node.target) else "Average"
    natural = c.natural(len(out))
    if out == x.shape:
        return x
    if all(o == 1 for o in out[1:]):
        users = list(c.node.users)
        flattened = len(users) == 1 and _op_name(users[0].target) in ("aten.flatten", "aten.view", "aten.reshape")
        if flattened and tuple(int(d) for d in users[0].meta["val"].shape[1:]) == (out[0],):
            return c.add(f"Global{kind}Pooling{rank}D", {}, [x], (out[0],), nonneg=x.nonneg)
        return c.add(f"Global{kind}Pooling{rank}D", {"keepdims": True}, [x], out, natural, nonneg=x.nonneg)
    if all(o % n == 0 for o, n in zip(out[1:], x.shape[1:])):
        # every bin holds one input value, each value `o // n` bins: a repetition
        return c.add(f"UpSampling{rank}D", {"size": [o // n for o, n in zip(out[1:], x.shape[1:])]}, [x], out,
                     natural, nonneg=x.nonneg)
    return c.add(f"Adaptive{kind}Pooling{rank}D", {"output_size": list(out[1:])}, [x], out, natural,
                 nonneg=x.nonneg)


@handles("aten.mean", "aten.amax")
def _mean(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["self"])
    dims = sorted(d % (x.rank + 1) for d in (a.get("dim") or []))
    if dims != list(range(2, x.rank + 1)) or x.rank < 2:
        raise c.refuse(f"a reduction over dims {dims}: archspec reduces the spatial axes of a feature map only "
                       "(global pooling)")
    rank = x.rank - 1
    x = c.spatial_input(x, rank)
    kind = "Max" if _op_name(c.node.target) == "aten.amax" else "Average"
    out = c.out_shape()
    keep = bool(a.get("keepdim"))
    return c.add(f"Global{kind}Pooling{rank}D", {"keepdims": True} if keep else {}, [x], out,
                 c.natural(len(out)) if keep else None, nonneg=x.nonneg)


@handles("aten.flatten")
def _flatten(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["self"])
    out = c.out_shape()
    if len(out) == 1:
        producer = c.producer.get(x.name)
        if producer is not None and producer.type.startswith("Global") and x.rank == 1:
            return x
        return c.flatten(x)
    return c.reshape(x, out)


@handles("aten.view", "aten.reshape", "aten._unsafe_view", "aten.unsqueeze", "aten.squeeze", "aten.unflatten")
def _view(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["self"])
    out = c.out_shape()
    producer = c.producer.get(x.name)
    if len(out) == 1 and producer is not None and producer.type.startswith("Global") and x.rank == 1:
        return x
    return c.reshape(x, out)


@handles("aten.permute", "aten.transpose", "aten.t", "aten.swapaxes", "aten.movedim")
def _permute(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["self"])
    rank = x.rank + 1
    op = _op_name(c.node.target)
    if op == "aten.permute":
        perm = [d % rank for d in a["dims"]]
    else:
        d0, d1 = (a.get("dim0", 0) % rank, a.get("dim1", 1) % rank) if op != "aten.movedim" else (None, None)
        perm = list(range(rank))
        if op == "aten.movedim":
            source, dest = a["source"] % rank, a["destination"] % rank
            perm.remove(source)
            perm.insert(dest, source)
        else:
            perm[d0], perm[d1] = perm[d1], perm[d0]
    if perm[0] != 0:
        raise c.refuse("a permutation that moves the batch axis")
    sample = [p - 1 for p in perm[1:]]  # out torch axis i holds in torch axis sample[i]
    inverse = np.argsort(sample)
    order = tuple(int(inverse[o]) for o in x.order)
    if x.flat is not None:
        raise c.refuse("a permutation of a flattened, re-ordered tensor")
    return Value(x.name, c.out_shape(), order, x.nonneg)


def _binary_operands(c: Converter, a: dict[str, Any]):
    return a.get("self", a.get("input")), a.get("other")


def _scalar(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _merge(c: Converter, type_name: str, x: Value, y: Value) -> Value:
    if x.rank != y.rank:
        raise c.refuse(f"operands of ranks {x.rank + 1} and {y.rank + 1}: Keras's merge layers take one rank")
    if x.flat is not None or y.flat is not None:
        raise c.refuse("a flattened, re-ordered tensor")
    if x.shape != y.shape and y.shape == c.out_shape() and x.order != y.order:
        x = c.to_order(x, y.order)  # keep the big operand's layout
    y = c.to_order(y, x.order)
    return c.add(type_name, {}, [x, y], c.out_shape(), x.order,
                 nonneg=x.nonneg and y.nonneg and type_name in ("Add", "Multiply", "Maximum", "Minimum"))


def _rescale(c: Converter, x: Value, scale: float, offset: float) -> Value:
    return c.add("Rescaling", {"scale": scale, "offset": offset}, [x], c.out_shape(), x.order,
                 nonneg=x.nonneg and scale >= 0 and offset >= 0)


@handles("aten.add", "aten.add_", "aten.sub", "aten.sub_", "aten.rsub", "aten.mul", "aten.mul_", "aten.div",
         "aten.div_", "aten.maximum", "aten.minimum")
def _arithmetic(c: Converter, a: dict[str, Any]) -> Value:
    op = _op_name(c.node.target).removeprefix("aten.").rstrip("_")
    first, second = _binary_operands(c, a)
    alpha = float(a.get("alpha", 1))
    if a.get("rounding_mode") is not None:
        raise c.refuse("a rounding division")
    f, s = (c.env.get(v.name) if hasattr(v, "name") else v for v in (first, second))
    scalar_first, scalar_second = _scalar(f), _scalar(s)
    if isinstance(f, Const) and f.tensor.numel() == 1:
        scalar_first = float(f.tensor)
    if isinstance(s, Const) and s.tensor.numel() == 1:
        scalar_second = float(s.tensor)
    if isinstance(f, Value) and isinstance(s, Value):
        if alpha != 1:
            raise c.refuse(f"alpha={alpha}")
        if op == "rsub":
            return _merge(c, "Subtract", s, f)
        kind = {"add": "Add", "sub": "Subtract", "mul": "Multiply", "maximum": "Maximum",
                "minimum": "Minimum"}.get(op)
        if kind is None:
            raise c.refuse("a division of two tensors (Keras has no Divide layer)")
        return _merge(c, kind, f, s)
    if isinstance(f, Value) and scalar_second is not None:
        value = scalar_second
        if op == "add":
            return _rescale(c, f, 1.0, value * alpha)
        if op == "sub":
            return _rescale(c, f, 1.0, -value * alpha)
        if op == "rsub":
            return _rescale(c, f, -alpha, value)
        if op == "mul":
            return _rescale(c, f, value, 0.0)
        if op == "div" and value != 0:
            return _rescale(c, f, 1.0 / value, 0.0)
    if isinstance(s, Value) and scalar_first is not None and op in ("add", "mul"):
        return _rescale(c, s, scalar_first if op == "mul" else 1.0, scalar_first * alpha if op == "add" else 0.0)
    if op in ("add", "sub") and isinstance(f, Value) and isinstance(s, Const):
        return _position_embedding(c, f, s, alpha if op == "add" else -alpha)
    if op == "add" and isinstance(f, Const) and isinstance(s, Value):
        return _position_embedding(c, s, f, 1.0)
    if op == "mul" and (isinstance(f, Const) or isinstance(s, Const)):
        x, const = (s, f) if isinstance(f, Const) else (f, s)
        return _layer_scale(c, x, const)
    raise c.refuse("an operand that is a tensor constant; archspec can scale a feature axis by a learned vector "
                   "(LayerScale) but has no layer that adds or divides by a constant tensor")


def _layer_scale(c: Converter, x: Value, const: Const) -> Value:
    """x * gamma, gamma varying along one axis: ConvNeXt's LayerScale, on the spec's last axis."""
    tensor = const.tensor.detach()
    shape = list(tensor.shape)
    full = [1] * (x.rank + 1 - len(shape)) + shape
    varying = [i - 1 for i, n in enumerate(full) if n != 1]
    if len(varying) != 1 or varying[0] < 0:
        raise c.refuse(f"a product with a constant of shape {shape}: LayerScale scales one feature axis")
    axis = varying[0]
    order = x.order if x.order[-1] == axis else tuple([o for o in x.order if o != axis] + [axis])
    x = c.to_order(x, order)
    gamma = tensor.reshape(-1)
    return c.add("LayerScale", {"init_values": 1.0, "projection_dim": int(gamma.numel())}, [x], c.out_shape(),
                 x.order, {"gamma": gamma})


@handles("aten.neg")
def _neg(c: Converter, a: dict[str, Any]) -> Value:
    return _rescale(c, c.tensor(a["self"]), -1.0, 0.0)


def _learned_rows(c: Converter, const: Const, anchor: Value) -> Value:
    """A learned (rows, features) tensor, the same for every sample, as a layer output: keras_hub's
    PositionEmbedding broadcasts its table to its input's shape, so on `anchor` cropped to `rows`
    steps it outputs the tensor itself (ViT's class token)."""
    tensor = const.tensor.detach()
    shape = tuple(tensor.shape[1:])
    if len(shape) != 2 or anchor.rank != 2 or anchor.shape[1] != shape[1] or anchor.shape[0] < shape[0]:
        raise c.refuse(f"a learned tensor of shape {list(shape)} joined to a tensor of shape {list(anchor.shape)}: "
                       "archspec holds a learned (steps, features) tensor next to a (steps, features) sequence only")
    x = c.to_order(anchor, (0, 1))
    key = _sanitize(const.key.replace(".", "_")) or "learned"
    if anchor.shape[0] > shape[0]:
        x = c.add("Cropping1D", {"cropping": [0, anchor.shape[0] - shape[0]]}, [x], shape, name=f"{key}_steps")
    return c.add("PositionEmbedding", {"sequence_length": shape[0]}, [x], shape, torch_weights={
        "embeddings": tensor.reshape(shape)}, name=key)


def _position_embedding(c: Converter, x: Value, const: Const, scale: float) -> Value:
    """x + scale * table, a learned table of x's (steps, features): PositionEmbedding + Add."""
    tensor = const.tensor.detach()
    full = [1] * (x.rank + 1 - tensor.dim()) + list(tensor.shape)
    if x.rank < 2 or len(full) != x.rank + 1 or any(n != 1 for n in full[:-2]) or \
            tuple(full[-2:]) != tuple(x.shape[-2:]):
        raise c.refuse(f"a sum with a constant of shape {list(tensor.shape)}: archspec adds a learned tensor "
                       f"over the last two axes of a tensor (a position embedding) only; this one is "
                       f"{list(x.shape)} per sample")
    x = c.to_order(x, identity(x.rank))
    key = _sanitize(const.key.replace(".", "_")) or "learned"
    table = c.add("PositionEmbedding", {"sequence_length": int(full[-2])}, [x], x.shape, torch_weights={
        "embeddings": scale * tensor.reshape(full[-2:])}, name=key)
    return c.add("Add", {}, [x, table], c.out_shape())


@handles("aten.cat", "aten.concat", "aten.concatenate")
def _cat(c: Converter, a: dict[str, Any]) -> Value:
    operands = [c.env.get(t.name) if hasattr(t, "name") else None for t in a["tensors"]]
    anchor = next((v for v in operands if isinstance(v, Value)), None)
    if anchor is not None and any(isinstance(v, Const) for v in operands):
        if int(a["dim"]) % (anchor.rank + 1) != 1:
            raise c.refuse("a learned tensor joined along an axis other than the steps (axis 1)")
        operands = [_learned_rows(c, v, anchor) if isinstance(v, Const) else v for v in operands]
        values = [v if isinstance(v, Value) else c.tensor(t) for v, t in zip(operands, a["tensors"])]
    else:
        values = [c.tensor(t) for t in a["tensors"]]
    if len(values) == 1:
        return values[0]
    first = values[0]
    if any(v.flat is not None for v in values):
        raise c.refuse("a concatenation of flattened, re-ordered tensors")
    values = [first] + [c.to_order(v, first.order) for v in values[1:]]
    dim = int(a["dim"]) % (first.rank + 1)
    if dim == 0:
        raise c.refuse("a concatenation along the batch axis")
    axis = first.order.index(dim - 1) + 1
    axis = -1 if axis == first.rank else axis
    return c.add("Concatenate", {"axis": axis}, values, c.out_shape(), first.order,
                 nonneg=all(v.nonneg for v in values))


@handles("aten.chunk", "aten.split", "aten.split_with_sizes", "aten.tensor_split", "aten.unsafe_split")
def _split(c: Converter, a: dict[str, Any]) -> list[Value]:
    x = c.tensor(a["self"])
    dim = int(a.get("dim", 0)) % (x.rank + 1)
    if dim == 0:
        raise c.refuse("a split of the batch axis")
    results, start = [], 0
    for val in c.node.meta["val"]:
        size = int(val.shape[dim])
        results.append(c.slice_axis(x, dim - 1, start, start + size))
        start += size
    return results


@handles("aten.slice", "aten.narrow")
def _slice(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a.get("self", a.get("input")))
    dim = int(a.get("dim", 0)) % (x.rank + 1)
    size = x.shape[dim - 1] if dim else TRACE_BATCH
    if _op_name(c.node.target) == "aten.narrow":
        start, step = int(a["start"]), 1
        stop = start + int(a["length"])
    else:
        start, stop, step = a.get("start") or 0, a.get("end"), int(a.get("step") or 1)
        stop = size if stop is None else min(int(stop), size)
        start = int(start) + size if int(start) < 0 else int(start)
        stop = stop + size if stop < 0 else stop
    if dim == 0:
        if start == 0 and stop >= size and step == 1:
            return x
        raise c.refuse("a slice of the batch axis")
    if step != 1:
        raise c.refuse("a strided slice")
    return c.slice_axis(x, dim - 1, start, stop)


@handles("aten.select")
def _select(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["self"])
    dim = int(a["dim"]) % (x.rank + 1)
    if dim == 0:
        raise c.refuse("an index into the batch axis")
    index = int(a["index"]) % x.shape[dim - 1]
    y = c.slice_axis(x, dim - 1, index, index + 1)
    return c.reshape(y, c.out_shape())


@handles("aten.dropout", "aten.dropout_", "aten.feature_dropout", "aten.feature_dropout_", "aten.alpha_dropout")
def _dropout(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a.get("input", a.get("self")))
    if a.get("train"):
        raise c.refuse("dropout in training mode (the module was traced in eval mode, yet dropout is on)")
    if float(a["p"]) == 0:
        return x
    out = c.add("Dropout", {"rate": float(a["p"])}, [x], c.out_shape(), x.order, nonneg=x.nonneg)
    out.flat = x.flat
    return out


@handles("aten.gelu", "aten.gelu_")
def _gelu(c: Converter, a: dict[str, Any]) -> Value:
    if a.get("approximate", "none") != "none":
        raise c.refuse("GELU's tanh approximation (Keras's gelu layer activation is the exact one)")
    return c.activation(c.tensor(a["self"]), "gelu")


@handles("aten.hardtanh", "aten.hardtanh_", "aten.clamp", "aten.clamp_", "aten.clamp_min", "aten.clamp_min_")
def _clamp(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["self"])
    low = a.get("min_val", a.get("min"))
    high = a.get("max_val", a.get("max"))
    low = None if low is None else float(low)
    high = None if high is None else float(high)
    if (low, high) == (0.0, 6.0):
        return c.activation(x, "relu6")
    if (low, high) == (-1.0, 1.0):
        return c.activation(x, "hard_tanh")
    if low == 0.0:
        if high is None:
            return c.activation(x, "relu")
        return c.add("ReLU", {"max_value": high}, [x], c.out_shape(), x.order, nonneg=True)
    raise c.refuse(f"a clamp to [{low}, {high}]")


@handles("aten.leaky_relu", "aten.leaky_relu_")
def _leaky_relu(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["self"])
    return c.add("LeakyReLU", {"negative_slope": float(a.get("negative_slope", 0.01))}, [x], c.out_shape(), x.order)


@handles("aten.elu", "aten.elu_")
def _elu(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["self"])
    if float(a.get("scale", 1)) != 1 or float(a.get("input_scale", 1)) != 1:
        raise c.refuse("an ELU with scale")
    return c.add("ELU", {"alpha": float(a.get("alpha", 1.0))}, [x], c.out_shape(), x.order)


@handles("aten.softmax", "aten._softmax", "aten.log_softmax", "aten._log_softmax")
def _softmax(c: Converter, a: dict[str, Any]) -> Value:
    x = c.tensor(a["self"])
    dim = int(a["dim"]) % (x.rank + 1)
    if dim == 0:
        raise c.refuse("a softmax over the batch axis")
    if "log" in _op_name(c.node.target):
        if x.order[-1] != dim - 1:
            x = c.to_order(x, tuple([o for o in x.order if o != dim - 1] + [dim - 1]))
        return c.activation(x, "log_softmax")
    axis = x.order.index(dim - 1) + 1
    if axis == x.rank:
        return c.activation(x, "softmax")
    return c.add("Softmax", {"axis": axis}, [x], c.out_shape(), x.order, nonneg=True)


@handles("aten.upsample_nearest1d", "aten.upsample_nearest2d", "aten.upsample_nearest3d",
         "aten.upsample_bilinear2d", "aten._upsample_bilinear2d_aa", "aten.upsample_linear1d",
         "aten.upsample_bicubic2d", "aten._upsample_nearest_exact2d")
def _upsample(c: Converter, a: dict[str, Any]) -> Value:
    out = c.out_shape()
    rank = len(out) - 1
    x = c.spatial_input(c.tensor(a.get("input", a.get("self"))), rank)
    op = _op_name(c.node.target)
    natural = c.natural(len(out))
    if op.startswith("aten.upsample_nearest") and op != "aten._upsample_nearest_exact2d":
        factors = [o // n for o, n in zip(out[1:], x.shape[1:])]
        if all(o == n * f for o, n, f in zip(out[1:], x.shape[1:], factors)):
            return c.add(f"UpSampling{rank}D", {"size": factors}, [x], out, natural, nonneg=x.nonneg)
        raise c.refuse("nearest resizing by a factor that is not a whole number")
    if op == "aten.upsample_bilinear2d" and not a.get("align_corners"):
        # torch's align_corners=False is TensorFlow's half-pixel bilinear resize (no antialiasing)
        return c.add("Resizing", {"height": out[1], "width": out[2], "interpolation": "bilinear"}, [x], out,
                     natural)
    raise c.refuse("this interpolation (align_corners=True, bicubic, antialiased or nearest-exact) has no Keras "
                   "counterpart")


@handles("aten.scaled_dot_product_attention", "aten._native_multi_head_attention")
def _attention(c: Converter, a: dict[str, Any]) -> Value:
    raise c.refuse("attention outside an nn.MultiheadAttention module: archspec maps whole nn.MultiheadAttention "
                   "calls (to MultiHeadAttention), not the attention function on its own")


@handles("aten.expand")
def _expand(c: Converter, a: dict[str, Any]) -> Value | Const:
    source = c.env.get(a["self"].name)
    out = c.out_shape()
    if isinstance(source, Value) and tuple(source.shape) == out:
        return source
    if isinstance(source, Const):
        # a learned tensor repeated over the batch (ViT's class token): the same for every sample
        try:
            return Const(source.tensor.detach().expand(1, *out), source.key)
        except RuntimeError:
            pass
    raise c.refuse("a broadcast of a tensor to a larger shape: archspec broadcasts a parameter over the batch "
                   "only")


# ---------------------------------------------------------------- loading a module


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        raise ArchspecError(f"--input-shape '{text}': expected sizes separated by commas, like 3,224,224") from None
    if not dims or any(d < 1 for d in dims):
        raise ArchspecError(f"--input-shape '{text}': every size must be a positive integer")
    return dims


def _resolve(source: str) -> Any:
    target, sep, attribute = source.rpartition(":")
    if not sep or not target or not attribute:
        raise ArchspecError(f"source '{source}': expected module.path:callable or path/to/file.py:callable")
    from archspec.importers.torchvision_compat import ensure_torchvision

    ensure_torchvision()
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_file():
            raise ArchspecError(f"source '{source}': file not found: {path}")
        name = f"archspec_user_module_{_sanitize(path.stem)}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - the user's own code failed: say so, with its message
            raise ArchspecError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ArchspecError(f"source '{source}': cannot import {target}: {exc}") from None
    obj = module
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise ArchspecError(f"source '{source}': {target} has no attribute '{attribute}'")
        obj = getattr(obj, part)
    return obj


def load_module(source: str, args: dict[str, Any] | None = None, state_dict: str | Path | None = None):
    """The `nn.Module` that SOURCE names (built with `args`), in eval mode, with `state_dict`'s
    weights loaded (`torch.load(weights_only=True)`: no code from that file runs)."""
    import torch

    obj = _resolve(source)
    if isinstance(obj, torch.nn.Module):
        if args:
            raise ArchspecError(f"source '{source}' is a module object already; --arg is for a callable")
        module = obj
    elif callable(obj):
        try:
            module = obj(**(args or {}))
        except Exception as exc:  # noqa: BLE001 - the constructor refused its arguments
            raise ArchspecError(f"{source}({_fmt_args(args)}) failed: {type(exc).__name__}: {exc}") from None
    else:
        raise ArchspecError(f"source '{source}' is neither an nn.Module nor a callable")
    if not isinstance(module, torch.nn.Module):
        raise ArchspecError(f"{source}({_fmt_args(args)}) gave a {type(module).__name__}, not a torch.nn.Module")
    if state_dict is not None:
        module.load_state_dict(read_state_dict(state_dict))
    return module.eval()


def _fmt_args(args: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in (args or {}).items())


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """A state dict of tensors, read without running code from the file (weights_only=True)."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise ArchspecError(f"--state-dict: file not found: {path}")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArchspecError(f"{path}: refused: not a plain state dict of tensors; loading it would run code or it "
                            f"is damaged (torch.load(weights_only=True): {first})") from None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                               for k, v in loaded.items()):
        raise ArchspecError(f"{path}: not a state dict (a mapping of names to tensors)")
    return loaded


# ---------------------------------------------------------------- the importer


def read_torch(module, input_shapes: list[tuple[int, ...]], channels_last: bool = False,
               name: str | None = None) -> ImportedGraph:
    """The `ImportedGraph` of `module` for inputs of these per-sample shapes (torch's layout):
    its layers and its weights in the neutral layout. `archspec weights import` reads a torch
    model's weights through this too."""
    import torch

    module = module.eval()
    examples = tuple(torch.rand(TRACE_BATCH, *shape) for shape in input_shapes)
    try:
        with torch.no_grad():
            program = torch.export.export(module, examples)
    except Exception as exc:  # noqa: BLE001 - the module's own error, e.g. a wrong input shape
        shapes = ", ".join("(N, " + ", ".join(map(str, s)) + ")" for s in input_shapes)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArchspecError(f"the module cannot be traced on inputs {shapes}: {type(exc).__name__}: "
                            f"{message[:500]}") from None
    name = _sanitize(name or type(module).__name__) or "model"
    if not re.match(r"[A-Za-z_]", name):
        name = f"m_{name}"
    converter = Converter(program, "channels_last" if channels_last else "channels_first", name, module,
                          attention_calls(module, examples))
    return converter.run()


def attention_calls(module, examples: tuple) -> dict[str, list[dict[str, Any]]]:
    """How each nn.MultiheadAttention of `module` is called on `examples`, by path, one entry a
    call: `roles` (query, key, value as indices of the distinct tensors, in call order) and
    `masks` (the masks it is given). The traced graph keeps neither which argument is which
    nor whether two arguments were one tensor."""
    import inspect

    import torch

    found = [(path, m) for path, m in module.named_modules() if isinstance(m, torch.nn.MultiheadAttention)]
    if not found:
        return {}
    calls: dict[str, list[dict[str, Any]]] = {path: [] for path, _ in found}
    signature = inspect.signature(torch.nn.MultiheadAttention.forward)

    def recorder(path):
        def hook(m, args, kwargs):
            bound = signature.bind(m, *args, **kwargs)
            bound.apply_defaults()
            given = bound.arguments
            tensors = [given["query"], given["key"], given["value"]]
            roles = []
            for i, t in enumerate(tensors):
                same = next((roles[j] for j in range(i) if tensors[j] is t), None)
                roles.append(same if same is not None else max(roles, default=-1) + 1)
            masks = [k for k in ("key_padding_mask", "attn_mask") if given.get(k) is not None]
            if given.get("is_causal"):
                masks.append("is_causal=True")
            calls[path].append({"roles": tuple(roles), "masks": masks})
        return hook

    handles = [m.register_forward_pre_hook(recorder(path), with_kwargs=True) for path, m in found]
    try:
        with torch.no_grad():
            module(*examples)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def read_torch_source(source: str, input_shapes: list[tuple[int, ...]], args: dict[str, Any] | None = None,
                      state_dict: str | Path | None = None, channels_last: bool = False) -> ImportedGraph:
    """SOURCE (module.path:callable or file.py:callable) read into an `ImportedGraph`: what
    `archspec weights import` maps onto a spec (`archspec.importers.weights.source_layers`)."""
    return read_torch(load_module(source, args, state_dict), input_shapes, channels_last,
                      source.rpartition(":")[2].rsplit(".", 1)[-1])


def torch_outputs(module, data_format: str) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """The module as `inputs -> outputs` on the spec's layout (NHWC for a channels_last spec)."""
    import torch

    def to_torch(x):
        return x.permute(0, x.dim() - 1, *range(1, x.dim() - 1)) if data_format == "channels_last" and x.dim() >= 3 else x

    def to_spec(x):
        return x.permute(0, *range(2, x.dim()), 1) if data_format == "channels_last" and x.dim() >= 3 else x

    def run(inputs: list[np.ndarray]) -> list[np.ndarray]:
        with torch.no_grad():
            outputs = module.eval()(*[to_torch(torch.as_tensor(x)) for x in inputs])
        outputs = outputs if isinstance(outputs, (tuple, list)) else [outputs]
        return [to_spec(o).contiguous().numpy() for o in outputs]

    return run


def import_torch(source: str, input_shapes: list[tuple[int, ...]], output: str | Path,
                 weights: str | Path | None = None, *, args: dict[str, Any] | None = None,
                 state_dict: str | Path | None = None, channels_last: bool = False, fold: bool = True,
                 atol: float = 1e-5, check: bool = False):
    """`archspec import torch`: trace, write the spec (and the weights), prove that the spec built in
    PyTorch computes what the module computes; `check` also runs archspec check on every path."""
    from archspec.importers.emit import emit, prove, write
    from archspec.importers.keras import ImportResult

    module = load_module(source, args, state_dict)
    name = args["name"] if args and isinstance(args.get("name"), str) else source.rpartition(":")[2].rsplit(".", 1)[-1]
    graph = read_torch(module, input_shapes, channels_last, name)
    emitted = emit(graph, fold=fold, description=f"Imported from {source} by archspec import torch.")
    write(emitted, output, weights, {"imported_from": source})
    diff = prove(emitted, torch_outputs(module, graph.data_format), "torch")
    report = None
    if check:
        from archspec.check import run_check

        report = run_check(emitted.spec, emitted.weights, atol=atol, rtol=0.0)
    return ImportResult(emitted, list(emitted.notes), diff, atol, report)
