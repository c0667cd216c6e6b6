"""Standalone Keras source from a resolved spec, in Keras's functional style: blocks as Python
functions with parameters, `keras.layers.X(...)` with the arguments that differ from Keras's defaults,
`build()`, `load_weights()` for the neutral safetensors file, and a `__main__` printing the summary.

Layer names are the spec's, with '/' written '.' (Keras forbids '/'), as archspec's own Keras build
names them; keras.applications' own layers (LayerScale, CustomScaleLayer) are defined in the file
and registered, so a saved `.keras` file loads wherever the generated module is importable.
"""

from __future__ import annotations

import inspect
import re
from functools import lru_cache
from typing import Any

from archspec.codegen.structure import (
    CodegenError, Definition, Repeat, Use, definitions, item_inputs, item_output, local_name, scope_inputs,
    scope_outputs, scope_variables, structure,
)
from archspec.codegen.writer import (
    INDENT, Code, Raw, call, docstring, identifier, literal, module_docstring, split_call,
)
from archspec.spec.graph import Node, Spec

CUSTOM = {
    "LayerScale": '''@keras.saving.register_keras_serializable(package="archspec")
class LayerScale(keras.layers.Layer):
    """ConvNeXt's LayerScale (keras.applications): the last axis times a learned `gamma`."""

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, input_shape):
        self.gamma = self.add_weight(
            shape=(self.projection_dim,),
            name="gamma",
            initializer=keras.initializers.Constant(self.init_values),
        )

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        config = {
            "init_values": self.init_values,
            "projection_dim": self.projection_dim,
        }
        return {**super().get_config(), **config}
''',
    "CustomScaleLayer": '''@keras.saving.register_keras_serializable(package="archspec")
class CustomScaleLayer(keras.layers.Layer):
    """Inception-ResNet's CustomScaleLayer (keras.applications): x + residual * scale."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, inputs):
        return inputs[0] + inputs[1] * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}
''',
    "PositionEmbedding": '''@keras.saving.register_keras_serializable(package="archspec")
class PositionEmbedding(keras.layers.Layer):
    """keras_hub's PositionEmbedding: a learned (sequence_length, features) table whose first
    `steps` rows are broadcast to the input's shape (the input's values are not used)."""

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            shape=(self.sequence_length, input_shape[-1]),
            name="embeddings",
            initializer=self.initializer,
        )

    def call(self, inputs):
        shape = keras.ops.shape(inputs)
        start = (0, 0)
        table = keras.ops.slice(self.position_embeddings, start, (shape[-2], shape[-1]))
        return keras.ops.broadcast_to(table, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {
            "sequence_length": self.sequence_length,
            "initializer": keras.initializers.serialize(self.initializer),
        }
        return {**super().get_config(), **config}
''',
    "TimeDistributed": '''@keras.saving.register_keras_serializable(package="archspec")
class TimeDistributed(keras.layers.TimeDistributed):
    """keras.layers.TimeDistributed with the steps folded into the batch: Keras 3.15 maps a
    free time axis over the batch size once traced (fit, export). Batch normalization in
    training still runs per step, as Keras runs it."""

    def call(self, inputs, training=None, mask=None):
        if training and isinstance(self.layer, keras.layers.BatchNormalization):
            return super().call(inputs, training=training, mask=mask)
        shape = keras.ops.shape(inputs)
        folded = keras.ops.reshape(inputs, (-1, *shape[2:]))
        takes_training = self.layer._call_has_training_arg
        kwargs = {"training": bool(training)} if takes_training else {}
        outputs = self.layer(folded, **kwargs)
        steps = (shape[0], shape[1], *keras.ops.shape(outputs)[1:])
        return keras.ops.reshape(outputs, steps)
''',
    "MultiHeadAttention": '''@keras.saving.register_keras_serializable(package="archspec")
class MultiHeadAttention(keras.layers.MultiHeadAttention):
    """keras.layers.MultiHeadAttention whose inputs keep their masks: Keras 3.15 takes them off
    while it runs, so a later layer reading the same tensor (a residual Add) lost its mask."""

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):  # fmt: skip
        from keras.src.backend import get_keras_mask, set_keras_mask

        kept = [(t, get_keras_mask(t)) for t in (query, value, key) if t is not None]
        try:
            return super().call(
                query,
                value,
                key,
                query_mask=query_mask,
                value_mask=value_mask,
                key_mask=key_mask,
                attention_mask=attention_mask,
                return_attention_scores=return_attention_scores,
                training=training,
                use_causal_mask=use_causal_mask,
            )
        finally:
            for tensor, mask in kept:
                if mask is not None:
                    set_keras_mask(tensor, mask)
''',
}
# keras.layers classes the file subclasses (a Keras bug worked around): written with keras.layers' arguments
PATCHED = {"MultiHeadAttention"}
# Keras's attention layers take use_causal_mask (a spec's layer parameter) when called
CALLED = {"MultiHeadAttention", "GroupQueryAttention", "Attention", "AdditiveAttention"}
# where a layer type builds its own Keras layer, these build keras.layers.<Type>(**config) all the same
# (their own versions differ for ONNX export only, or are written out here); others are refused
GENERIC_KERAS_LAYER = {"Layer", "BaseConv", "BaseRandomImageLayer", "BaseRNN", "Normalization", "LayerScale",
                       "CustomScaleLayer", "EinsumDense"}
WRAPPERS = {"Bidirectional", "TimeDistributed"}  # their wrapped layers are written as expressions
COMPACT = {"kernel_size", "strides", "dilation_rate", "pool_size", "size", "output_size"}


@lru_cache(maxsize=None)
def _signature(type_name: str) -> dict[str, Any]:
    import keras

    cls = getattr(keras.layers, type_name, None)
    if cls is None:
        return {}
    return {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()}


def _initializer(value: Any) -> Any:
    if value == "uniform":
        return Raw("keras.initializers.RandomUniform(-0.05, 0.05)")
    if value == "normal":
        return Raw("keras.initializers.RandomNormal(0.0, 0.05)")
    if isinstance(value, str) and value.startswith("constant:"):
        return Raw(f"keras.initializers.Constant({float(value.split(':', 1)[1])!r})")
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (list, tuple)) and isinstance(b, int) and not isinstance(b, bool):
        return all(_same(x, b) for x in a)
    return type(a) is type(b) and a == b or (isinstance(a, float) and isinstance(b, (int, float))
                                             and not isinstance(b, bool) and float(b) == a)


def _value(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_value(v) for v in value)
    if isinstance(value, tuple):
        return tuple(_value(v) for v in value)
    return value


class KerasWriter:
    def __init__(self, spec: Spec):
        self.spec = spec
        refused = {}
        for node in spec.nodes:
            nested = node.type not in WRAPPERS and any(
                isinstance(v, dict) for v in node.layer.keras_config(spec.data_format).values())
            own = type(node.layer).keras_layer.__qualname__.split(".")[0] not in GENERIC_KERAS_LAYER and \
                node.type not in CALLED | set(CUSTOM) | WRAPPERS
            if own or nested or (node.type not in CUSTOM and not _signature(node.type)):
                refused.setdefault(node.type, f"{node.type} has no generated Keras form yet (layer '{node.name}')")
        if refused:
            raise CodegenError("cannot write Keras source for this spec: " + "; ".join(refused.values()))
        self.model = structure(spec)
        self.defs: dict[str, Definition] = {}

    def _arguments(self, node: Node) -> list[tuple[str, Any]]:
        cfg = node.layer
        if node.type == "TimeDistributed":
            return [("layer", Raw(self._inner(cfg.layer)))]
        if node.type == "Bidirectional":  # the wrapped layers as expressions
            args = [("layer", Raw(self._inner(cfg.layer)))]
            if cfg.backward_layer is not None:
                args.append(("backward_layer", Raw(self._inner(cfg.backward_layer))))
            return args + ([("merge_mode", cfg.merge_mode)] if cfg.merge_mode != "concat" else [])
        if node.type in CUSTOM and node.type not in PATCHED:
            return [(k, _value(v)) for k, v in cfg.keras_config(self.spec.data_format).items()]
        config = cfg.keras_config(self.spec.data_format)
        config.pop("use_causal_mask", None)  # a call argument (body())
        defaults = _signature(node.type)
        if "data_format" in defaults and "data_format" not in config:
            config["data_format"] = self.spec.data_format
        out = []
        for key, value in config.items():
            default = defaults.get(key, inspect.Parameter.empty)
            if key == "data_format" and value == "channels_last" and default is None:
                continue
            if key == "activation" and value == "linear" and default is None:
                continue
            if default is not inspect.Parameter.empty and value is not None and _same(value, default):
                continue
            if default is None and value is None:
                continue
            if key.endswith("_initializer"):
                value = _initializer(value)
            value = _value(value)
            if key in COMPACT and isinstance(value, tuple) and value and all(v == value[0] for v in value) \
                    and isinstance(value[0], int):
                value = value[0]
            out.append((key, value))
        return out

    def _inner(self, layer) -> str:
        """`layers.LSTM(...)` for a layer config that another layer wraps."""
        from types import SimpleNamespace

        args = self._arguments(SimpleNamespace(layer=layer, type=layer.type_name))
        parts = [f"{k}={literal(v)}" for k, v in args] + [f"name={literal(layer.name)}"]
        cls = layer.type_name if layer.type_name in CUSTOM else f"layers.{layer.type_name}"
        return f"{cls}({', '.join(parts)})"

    def _in_channels(self, use: Use):
        shape = self.spec.shape_of(use.input)
        if len(shape) >= 2 and self.spec.data_format == "channels_first":
            return shape[0]
        return shape[-1]

    def _name(self, use: Use, local: str) -> str:
        if use.block is None:
            return literal(local)
        return f'f"{{name}}.{local}"'

    def body(self, use: Use) -> list[Code]:
        spec = self.spec
        names = scope_variables(spec, use, keep_inputs=use.block is None)
        lines: list[Code] = []
        for item in use.items:
            out = names[item_output(item)]
            ins = [names[r] for r in item_inputs(item)]
            if isinstance(item, Node):
                args = self._arguments(item)
                cls = item.type if item.type in CUSTOM else f"layers.{item.type}"
                slots = [f"{k}={{{i}}}" for i, (k, _) in enumerate(args)]
                slots.append(f"name={self._name(use, local_name(item.name))}")
                arg = f"[{', '.join(ins)}]" if item.layer.max_inputs != 1 else ins[0]
                if item.type in ("MultiHeadAttention", "GroupQueryAttention"):
                    arg = ", ".join(ins)  # query, value(, key): separate arguments
                if item.type in CALLED and getattr(item.layer, "use_causal_mask", False):
                    arg += ", use_causal_mask=True"
                lines.append(Code(f"{out} = {cls}({', '.join(slots)})({arg})", tuple(v for _, v in args),
                                  tuple(f"{identifier(local_name(item.name))}_{k}" for k, _ in args)))
                if not item.trainable:
                    lines.append(Code(f"# '{local_name(item.name)}' is frozen: see build()"))
                continue
            if isinstance(item, Use):
                definition = self.defs[item.name]
                values = definition.args[item.name]
                slots = ", ".join("{" + str(i) + "}" for i in range(len(values)))
                lead = ", ".join(ins) + (", " if values else "")
                lines.append(Code(f"{out} = {identifier(definition.name)}({lead}{slots}, name="
                                  f"{self._name(use, item.local)})", values,
                                  tuple(f"{identifier(item.local)}_{p}" for p in definition.params)))
                continue
            defs = [self.defs[u.name] for u in item.uses]
            args = [d.args[u.name] for d, u in zip(defs, item.uses)]
            if len({d.name for d in defs}) != 1 or len(set(map(repr, args))) != 1 or item.uses[0].extra_inputs:
                raise CodegenError(f"the uses of repeated block '{item.name}' differ; not written as a loop yet")
            n = len(args[0])
            slots = "".join(", {" + str(i) + "}" for i in range(n))
            inner = f'f"{{name}}.{item.local}_{{i}}"' if use.block is not None else f'f"{item.local}_{{i}}"'
            lines.append(Code(f"for i in range(1, {{{n}}} + 1):\n{INDENT}{out} = {identifier(defs[0].name)}("
                              f"{ins[0]}{slots}, name={inner})", (*args[0], len(item.uses)),
                              (*(f"{identifier(item.local)}_{p}" for p in defs[0].params),
                               f"{identifier(item.local)}_repeat")))
        lines.append(Code("return " + ", ".join(names[o] for o in scope_outputs(spec, use))))
        return lines

    def source(self) -> str:
        spec = self.spec
        self.defs = {}
        definitions(self.model, self.body, lambda b: identifier(b.lower()), self._in_channels, self.defs)
        blocks: list[Definition] = []
        for definition in self.defs.values():
            if definition not in blocks:
                blocks.append(definition)
        types = {n.type for n in spec.nodes} | {getattr(n.layer, "layer", n.layer).type_name for n in spec.nodes}
        out = module_docstring([
            spec.description.strip() or f"The {spec.name} model.",
            f"Generated by `archspec codegen --backend keras` from the spec '{spec.name}'; it needs only "
            "Keras, NumPy and safetensors. `build()` makes the model, `load_weights()` reads an archspec "
            "weights file (keys `<layer>/<variable>`, layer names with '.' for '/').",
        ])
        body: list[str] = []
        for name in CUSTOM:
            if name in types:
                body += ["", ""] + CUSTOM[name].rstrip("\n").split("\n")
        for definition in blocks:
            body += ["", ""] + self._function(definition)
        body += ["", ""] + self._build()
        body += ["", ""] + self._loader()
        body += ["", "", 'if __name__ == "__main__":', f"{INDENT}build().summary()"]
        out += ["", "import keras"]
        if any(re.search(r"(?<![.\w])layers\.[A-Z]", line) for line in body):
            out.append("from keras import layers")
        out.append("from safetensors.numpy import load_file")
        return "\n".join(out + body) + "\n"

    def _function(self, definition: Definition) -> list[str]:
        name = identifier(definition.name)
        first = next(u for u, d in self.defs.items() if d is definition)
        use = self._find(self.model, first)
        names = scope_variables(self.spec, use)
        use_inputs = [names[i] for i in scope_inputs(self.spec, use)]
        out = call(f"def {name}", [*use_inputs, *definition.params, "name"], ":")
        doc = self.model.descriptions.get(definition.block, "")
        if doc:
            out += docstring(doc, INDENT)
        out += self._render(definition.lines, INDENT)
        return out

    def _find(self, use: Use, name: str) -> Use:
        for item in use.items:
            for member in (item.uses if isinstance(item, Repeat) else [item] if isinstance(item, Use) else []):
                if member.name == name:
                    return member
                found = self._find(member, name)
                if found is not None:
                    return found
        return None

    def _render(self, lines: list[Code], indent: str) -> list[str]:
        out = []
        for code in lines:
            for part in code.render().split("\n"):
                extra = part[:len(part) - len(part.lstrip())]
                out += split_call(part.lstrip(), indent + extra)
        return out

    def _build(self) -> list[str]:
        spec = self.spec
        out = ["def build() -> keras.Model:", f'{INDENT}"""The model, with Keras\'s initial weights '
               '(load_weights() gives it trained ones)."""']
        names = scope_variables(spec, self.model, keep_inputs=True)
        for i in spec.inputs:
            shape = tuple(i.shape)
            dtype = f", dtype={literal(i.dtype)}" if i.dtype != "float32" else ""
            out += split_call(f"{names[i.name]} = keras.Input(shape={literal(shape)}{dtype}, "
                              f"name={literal(i.name)})", INDENT)
        lines = self.body(self.model)
        out += self._render(lines[:-1], INDENT)
        ins = [names[i.name] for i in spec.inputs]
        outs = lines[-1].render().removeprefix("return ").split(", ")
        arg_in = ins[0] if len(ins) == 1 else f"[{', '.join(ins)}]"
        arg_out = outs[0] if len(outs) == 1 else f"[{', '.join(outs)}]"
        out += split_call(f"model = keras.Model({arg_in}, {arg_out}, name={literal(spec.name)})", INDENT)
        for node in spec.nodes:
            if not node.trainable:
                out.append(f"{INDENT}model.get_layer({literal(node.name.replace('/', '.'))}).trainable = False")
        out.append(f"{INDENT}return model")
        return out

    def _loader(self) -> list[str]:
        return [
            "def load_weights(model: keras.Model, path: str) -> None:",
            f'{INDENT}"""Load an archspec weights file: keys `<layer>/<variable>`, Keras\'s layout."""',
            f"{INDENT}arrays = load_file(path)",
            f"{INDENT}for layer in model.layers:",
            f'{INDENT * 2}prefix = layer.name.replace(".", "/")',
            f"{INDENT * 2}for variable in layer.weights:",
            f"{INDENT * 3}key = prefix + variable.path[len(layer.name) :]",
            f"{INDENT * 3}variable.assign(arrays.pop(key))",
            f'{INDENT * 2}if hasattr(layer, "finalize_state"):  # Normalization: reread its statistics',
            f"{INDENT * 3}layer.finalize_state()",
            f"{INDENT}if arrays:",
            f'{INDENT * 2}raise ValueError(f"{{path}} has weights the model lacks: {{sorted(arrays)}}")',
        ]


def generate(spec: Spec) -> str:
    return KerasWriter(spec).source()
