"""Read a Keras model into an `ImportedGraph`: a `.keras` archive, a legacy `.h5` file, or a
`keras.applications` constructor.

A model file is read as data: its JSON configuration (zipfile/h5py) and its weight arrays
(h5py), never by deserialising it with Keras. Every layer must be a type archspec registers,
known by its Keras class name; a Lambda layer, a subclassed model or a class archspec does not
know is refused, naming the layer, because its computation is Python code that the file does
not hold and archspec does not run. Nested models (a Sequential used as a layer, the
sub-models keras.applications builds) are opened up into their layers. Tensor arithmetic that
Keras records as operations (`x + 3.0`, `inputs + x`) becomes the layers that compute it
(Rescaling, Add, ...); keras.applications' hard-sigmoid `relu6(x + 3) / 6` becomes
`Activation(hard_sigmoid)`.

What archspec does not model is handled so that the imported spec computes the same function:
a key that is off (None, False: no regularizer, no constraint, no LoRA) is dropped; a
regularizer, a constraint or an initializer archspec cannot name only matter for training, so
they are dropped with a note the command prints; anything else that changes what a layer
computes is refused.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from archspec.errors import ArchspecError, shorten
from archspec.importers.graph import ImportedGraph, ImportedInput, ImportedLayer
from archspec.layers import canonical_type, layer_class, snake_case

APPLICATIONS = "keras.applications."
MAX_CONFIG_BYTES = 64 << 20
MAX_WEIGHTS_BYTES = 8 << 30
MAX_COMPRESSION_RATIO = 1000  # a zip member that inflates more than this is a zip bomb, not a model

# classes archspec knows by their name wherever they come from (SPEC-FORMAT section 8)
APPLICATION_CLASSES = {"LayerScale", "CustomScaleLayer", "PositionEmbedding"}
CONTAINERS = {"Functional", "Sequential", "Model"}
# Keras's tensor arithmetic, recorded as operations of keras.src.ops
MERGE_OPS = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply", "Maximum": "Maximum",
             "Minimum": "Minimum"}
DROPPED = {"name", "trainable", "dtype", "autocast", "input_shape", "batch_input_shape", "batch_size"}
TRAINING_ONLY = re.compile(r".*(_regularizer|_constraint)$")


@dataclass
class KerasModel:
    """What an import reads: the graph (weights under the imported layer names), notes for the
    user, and a way to run the original model for the proof."""

    graph: ImportedGraph
    notes: list[str] = field(default_factory=list)
    original: Callable[[], Any] | None = None  # -> a keras.Model computing the source
    source: str = ""


# ---------------------------------------------------------------- sources


def read_keras(source: str, weights_from: str | None = None, args: dict[str, Any] | None = None) -> KerasModel:
    """A `.keras` archive, a legacy `.h5` model, or `keras.applications.NAME` (with `args` for the
    constructor, `weights=None` unless `weights_from` names a `.h5`/`.keras` file of weights)."""
    if source.startswith(APPLICATIONS):
        return _application(source[len(APPLICATIONS):], weights_from, args or {})
    if args:
        raise ArchspecError("--arg is for keras.applications constructors only")
    path = Path(source)
    if not path.is_file():
        raise ArchspecError(f"{source}: no such file (a .keras archive, a .h5 model, or keras.applications.NAME)")
    if weights_from is not None:
        raise ArchspecError("--weights-from is for keras.applications sources; a model file holds its own weights")
    config, arrays = _read_file(path)
    model = _from_config(config, arrays, str(path))
    model.original = lambda: _load_original(path)
    return model


def _read_file(path: Path) -> tuple[dict, "_Arrays"]:
    head = path.open("rb").read(8)
    if head.startswith(b"PK"):
        return _read_archive(path)
    if head.startswith(b"\x89HDF"):
        return _read_legacy_h5(path)
    what = "a pickle" if head[:1] == b"\x80" else "neither a zip archive nor an HDF5 file"
    raise ArchspecError(f"{path}: not a Keras model file: it is {what}. archspec reads .keras archives and "
                        "legacy .h5 models (it never unpickles a file)")


def _read_archive(path: Path) -> tuple[dict, "_Arrays"]:
    try:
        archive = zipfile.ZipFile(path)
        names = set(archive.namelist())
        if "config.json" not in names:
            raise ArchspecError(f"{path}: not a .keras archive: it holds no config.json")
        config = json.loads(_member(archive, "config.json", MAX_CONFIG_BYTES, path))
        weights = _member(archive, "model.weights.h5", MAX_WEIGHTS_BYTES, path) if "model.weights.h5" in names else None
    except zipfile.BadZipFile as exc:
        raise ArchspecError(f"{path}: a damaged or truncated .keras archive ({exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArchspecError(f"{path}: config.json is not valid JSON ({exc})") from None
    except (OSError, EOFError, zipfile.LargeZipFile) as exc:
        raise ArchspecError(f"{path}: cannot read the archive ({exc})") from None
    if weights is None:
        raise ArchspecError(f"{path}: the archive holds no model.weights.h5 (a .keras file saved without weights?)")
    return config, _ArchiveArrays(_h5(weights, path), path, weights)


def _member(archive: zipfile.ZipFile, name: str, limit: int, path: Path) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > limit or info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1) + (1 << 20):
        raise ArchspecError(f"{path}: {name} would inflate to {info.file_size:,} bytes; refused")
    return archive.read(name)


def _h5(data: bytes | Path, path: Path):
    import h5py

    try:
        return h5py.File(io.BytesIO(data) if isinstance(data, bytes) else data, "r")
    except OSError as exc:
        raise ArchspecError(f"{path}: the weights are not a readable HDF5 file ({exc})") from None


def _read_legacy_h5(path: Path) -> tuple[dict, "_Arrays"]:
    file = _h5(path, path)
    text = file.attrs.get("model_config")
    if text is None:
        raise ArchspecError(f"{path}: an HDF5 file without a model_config (a weights-only file?): "
                            "archspec needs the model's architecture")
    try:
        config = json.loads(text.decode() if isinstance(text, bytes) else text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArchspecError(f"{path}: model_config is not valid JSON ({exc})") from None
    if "model_weights" not in file:
        raise ArchspecError(f"{path}: the file holds no model_weights group")
    return config, _LegacyArrays(file["model_weights"], path)


def _application(name: str, weights_from: str | None, args: dict[str, Any]) -> KerasModel:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    constructor = getattr(keras.applications, name, None) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else None
    if not callable(constructor) or name.startswith("_") or name[0].islower():
        from archspec.errors import suggest

        known = [n for n in dir(keras.applications) if n[:1].isupper()]
        raise ArchspecError(f"keras.applications has no constructor '{name}'{suggest(name, known)}")
    if "weights" in args:
        raise ArchspecError("--arg weights=... is not taken: archspec builds with weights=None; "
                            "give your weights file with --weights-from")
    try:
        model = constructor(weights=None, **args)
    except (TypeError, ValueError) as exc:
        raise ArchspecError(f"keras.applications.{name}({_args_text(args)}): {exc}") from None
    if weights_from is not None:
        _load_weights_into(model, Path(weights_from))
    return read_keras_model(model, f"keras.applications.{name}")


def read_keras_model(model, source: str) -> KerasModel:
    """A keras.Model in memory, read from its configuration as a `.keras` archive's would be."""
    config = json.loads(model.to_json())  # what a .keras archive's config.json holds
    result = _from_config(config, _LiveArrays(model), source)
    result.original = lambda: model
    return result


def _args_text(args: dict[str, Any]) -> str:
    return ", ".join(["weights=None", *(f"{k}={v!r}" for k, v in args.items())])


def _load_weights_into(model, path: Path) -> None:
    """A user's weights for a keras.applications model: Keras reads its own weight formats
    (`.weights.h5`, legacy `.h5`); of a `.keras` archive only the weights are used."""
    if not path.is_file():
        raise ArchspecError(f"--weights-from {path}: no such file")
    try:
        if path.suffix == ".keras":
            _read_archive(path)  # a damaged archive or a zip bomb is refused before Keras opens it
            with zipfile.ZipFile(path) as archive:
                data = archive.read("model.weights.h5")
            import tempfile

            with tempfile.NamedTemporaryFile(suffix=".weights.h5") as tmp:
                tmp.write(data)
                tmp.flush()
                model.load_weights(tmp.name)
        else:
            model.load_weights(str(path))
    except ArchspecError:
        raise
    except Exception as exc:  # noqa: BLE001 - Keras's own message says which layer does not fit
        raise ArchspecError(f"--weights-from {path}: the weights do not fit the model: "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _load_original(path: Path):
    """The user's model in Keras, for the proof only, once its whole configuration has been read
    as data and found to hold nothing but Keras's own layers (so safe mode has nothing to refuse).
    No class of archspec's stands in for one of the file's: the proof runs Keras's own."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras.models.load_model(path, compile=False, safe_mode=True)


# ---------------------------------------------------------------- weight arrays


class _Arrays:
    """A layer's arrays, in Keras's order for that layer, from where the model keeps them."""

    def arrays(self, layer: "_Found", node, data_format: str) -> list[tuple[str | None, np.ndarray]]:
        """(variable path inside the layer, or None where the source keeps no names; array), in
        Keras's order; `node` is the layer in archspec's spec."""
        raise NotImplementedError


class _ArchiveArrays(_Arrays):
    """model.weights.h5 of a .keras archive: `layers/<snake_case class>[_n]/vars/<i>`, Keras
    numbering each container's layers by class (not by layer name)."""

    def __init__(self, file, path: Path, data: bytes):
        self.file, self.path, self.data = file, path, data

    def arrays(self, layer, node, data_format):
        group = self.file.get(layer.h5_path)
        if group is None:
            raise ArchspecError(f"{self.path}: no weights for layer '{layer.name}' (expected at {layer.h5_path})")
        if any(key != "vars" for key in group.keys()):
            return self.nested(layer, node, data_format)
        variables = group.get("vars")
        return [(None, np.asarray(variables[str(i)])) for i in range(len(variables))] if variables is not None else []

    def nested(self, layer, node, data_format):
        """A layer whose variables live in sub-layers (an RNN's cell, a wrapper's layers): the
        file numbers them by Keras's walk over the layer's attributes, which only Keras knows, so
        archspec's own Keras layer for the node (built from the validated configuration, nothing
        from the file) loads them, and gives them back under their variable paths."""
        from keras.src.saving.saving_lib import H5IOStore, _load_state

        from archspec.backends.keras import keras_name

        import keras

        built = node.layer.keras_layer(data_format, keras_name(node.name))
        try:
            args = [keras.Input(shape=shape) for shape in node.input_shapes]  # built as archspec's backend calls it
            built(args if node.layer.max_inputs != 1 else args[0])
            store = H5IOStore(io.BytesIO(self.data), mode="r")
            _load_state(built, store, None, layer.h5_path, visited_saveables=set())
        except Exception as exc:  # noqa: BLE001 - Keras's message names what does not fit
            raise ArchspecError(f"{self.path}: the weights of layer '{layer.name}' do not load into archspec's "
                                f"{node.type}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        prefix = built.name + "/"
        by_path = {v.path.removeprefix(prefix): np.asarray(v.numpy()) for v in built.weights}
        return [(w.name, by_path[w.name]) if w.name in by_path else (None, None) for w in node.weights]


class _LegacyArrays(_Arrays):
    """The legacy format: `model_weights/<top-level layer>/` with the variables' names."""

    def __init__(self, group, path: Path):
        self.group, self.path = group, path

    def arrays(self, layer, node, data_format):
        top = layer.path[0]
        if top not in self.group:  # tensor arithmetic has no group; a layer with weights is caught by their count
            return []
        holder = self.group[top]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in holder.attrs.get("weight_names", [])]
        prefix = "/".join(layer.path) + "/"
        if len(layer.path) > 1:  # inside a nested model: its variables are named <model>/<layer>/...
            names = [n for n in names if n.startswith(prefix) or n.startswith("/".join(layer.path[1:]) + "/")]
        result = []
        for name in names:
            array = np.asarray(holder[name]) if name in holder else None
            if array is None:
                raise ArchspecError(f"{self.path}: weight {name} of layer '{layer.name}' is missing")
            short = re.sub(r":\d+$", "", name)
            for start in (prefix, "/".join(layer.path[1:]) + "/", layer.path[-1] + "/"):
                if short.startswith(start):
                    short = short[len(start):]
                    break
            result.append((short, array))
        return result


class _LiveArrays(_Arrays):
    def __init__(self, model):
        self.model = model

    def arrays(self, layer, node, data_format):
        current = self.model
        for name in layer.path:
            current = current.get_layer(name)
        return [(None, np.asarray(v.numpy())) for v in current.weights]


# ---------------------------------------------------------------- the configuration


@dataclass
class _Found:
    """A layer of the (flattened) Keras model."""

    name: str  # the imported layer's name (unique, valid in a spec)
    path: tuple[str, ...]  # Keras names from the top model down to the layer
    h5_path: str  # where a .keras archive keeps its variables


class _Reader:
    def __init__(self, source: str):
        self.source = source
        self.layers: list[ImportedLayer] = []
        self.found: list[_Found] = []
        self.inputs: list[ImportedInput] = []
        self.notes: dict[str, list[str]] = {}
        self.data_formats: set[str] = set()
        self.taken: set[str] = set()
        self.raw: set[str] = set()  # layers written for Keras tensor arithmetic

    # -- names

    def unique(self, name: str) -> str:
        clean = re.sub(r"[^A-Za-z0-9_\-]", "_", name) or "layer"
        if not re.match(r"[A-Za-z0-9_]", clean):
            clean = "l" + clean
        candidate, n = clean[:180], 1
        while candidate in self.taken:
            n += 1
            candidate = f"{clean[:180]}_{n}"
        self.taken.add(candidate)
        return candidate

    def note(self, what: str, layer: str) -> None:
        self.notes.setdefault(what, []).append(layer)

    # -- models

    def model(self, config: dict, path: tuple[str, ...], h5_path: str, bound: list[str] | None) -> list[str]:
        """Read one model's layers; `bound`: the outer tensors a nested model is called on.
        Returns the names its outputs resolve to."""
        class_name = config.get("class_name")
        body = config.get("config")
        if not isinstance(body, dict):
            raise ArchspecError(f"{self.source}: model {shorten(path or class_name)}: no configuration")
        if class_name == "Sequential":
            return self.sequential(body, path, h5_path, bound)
        if class_name in ("Functional", "Model") and "layers" in body:
            return self.functional(body, path, h5_path, bound)
        raise ArchspecError(f"{self.source}: {'/'.join(path) or 'the model'} is a subclassed model "
                            f"({class_name}): its computation is Python code the file does not hold")

    def sequential(self, body, path, h5_path, bound) -> list[str]:
        layers = body.get("layers") or []
        counters: dict[str, int] = {}
        current: str | None = bound[0] if bound else None
        for entry in layers:
            if entry.get("class_name") == "InputLayer":
                if current is None:
                    current = self.model_input(entry, path)
                continue
            if current is None:
                shape = body.get("build_input_shape")
                if not shape:
                    raise ArchspecError(f"{self.source}: Sequential model {'/'.join(path) or body.get('name')} has "
                                        "no input shape (it was never built): give it an Input")
                current = self.model_input({"config": {"batch_shape": shape, "name": "input"}}, path)
            h5 = f"{h5_path}layers/{_h5_name(entry, counters)}"
            (current,) = self.layer(entry, [current], path, h5)
        if current is None:
            raise ArchspecError(f"{self.source}: an empty Sequential model")
        return [current]

    def functional(self, body, path, h5_path, bound) -> list[str]:
        counters: dict[str, int] = {}
        tensors: dict[tuple[str, int, int], str] = {}
        input_refs = _refs(body.get("input_layers"))
        if bound is not None and len(bound) != len(input_refs):
            raise ArchspecError(f"{self.source}: nested model {'/'.join(path)} takes {len(input_refs)} inputs, "
                                f"is called on {len(bound)}")
        pending = []
        for entry in body.get("layers") or []:
            name = entry.get("name") or (entry.get("config") or {}).get("name")
            is_op = str(entry.get("module", "")).startswith("keras.src.ops")
            h5 = None if is_op else f"{h5_path}layers/{_h5_name(entry, counters)}"
            if entry.get("class_name") == "InputLayer":
                index = next((i for i, ref in enumerate(input_refs) if ref[0] == name), None)
                if index is None:
                    raise ArchspecError(f"{self.source}: input {name} is not an input of the model")
                tensors[(name, 0, 0)] = bound[index] if bound is not None else self.model_input(entry, path)
                continue
            pending.append((entry, name, h5))
        while pending:  # in the listed order, each node once its inputs are known
            progress = False
            rest = []
            for entry, name, h5 in pending:
                nodes = entry.get("inbound_nodes") or []
                if len(nodes) != 1:
                    raise ArchspecError(f"{self.source}: layer {name} is called {len(nodes)} times; a spec layer is "
                                        "called once (shared layers cannot be imported)")
                refs, constants, kwargs = _call(nodes[0])
                if any(ref not in tensors for ref in refs):
                    rest.append((entry, name, h5))
                    continue
                outputs = self.call(entry, name, [tensors[r] for r in refs], constants, kwargs, path, h5)
                for index, out in enumerate(outputs):
                    tensors[(name, 0, index)] = out
                progress = True
            if not progress:
                raise ArchspecError(f"{self.source}: layers {[name for _, name, _ in rest][:5]} take tensors that "
                                    "no layer produces")
            pending = rest
        outputs = []
        for ref in _refs(body.get("output_layers")):
            if ref not in tensors:
                raise ArchspecError(f"{self.source}: output {ref[0]} is not a layer of the model")
            outputs.append(tensors[ref])
        return outputs

    def model_input(self, entry, path) -> str:
        config = entry.get("config") or {}
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        if not isinstance(shape, list) or len(shape) < 2:
            raise ArchspecError(f"{self.source}: input {config.get('name')} has no per-sample shape")
        dtype = config.get("dtype") or "float32"
        if isinstance(dtype, dict):
            dtype = (dtype.get("config") or {}).get("name", "float32")
        if dtype not in ("float32", "int32", "int64"):
            raise ArchspecError(f"{self.source}: input {config.get('name')} has dtype {dtype}; a spec's inputs are "
                                "float32, int32 or int64")
        name = self.unique(config.get("name") or "input")
        self.inputs.append(ImportedInput(name, tuple(shape[1:]), dtype))
        return name

    # -- layers

    def call(self, entry, name, inputs, constants, kwargs, path, h5) -> list[str]:
        module = str(entry.get("module", ""))
        class_name = entry.get("class_name")
        where = "/".join((*path, str(name)))
        # Keras records training=False on the layers it called symbolically; training=True would
        # keep dropout on at inference (Monte Carlo dropout), which a spec does not express
        flags = {k: v for k, v in kwargs.items()
                 if v is not None and k != "mask" and not (k == "training" and v is False)}
        if class_name in CONTAINERS:
            inner_h5 = f"{h5}/"
            return self.model(entry, (*path, str(name)), inner_h5, inputs)
        if module.startswith("keras.src.ops") or (not module and constants):  # legacy files name no module
            return [self.operation(class_name, name, inputs, constants, where)]
        if constants:
            raise ArchspecError(f"{self.source}: layer {where} is called with constant arguments {shorten(constants)}")
        return self.layer(entry, inputs, path, h5, flags)

    def layer(self, entry, inputs, path, h5, flags: dict[str, Any] | None = None) -> list[str]:
        class_name = entry.get("class_name")
        config = entry.get("config") or {}
        keras_name = str(config.get("name") or entry.get("name") or snake_case(str(class_name)))
        where = "/".join((*path, keras_name))
        if class_name in CONTAINERS:
            return self.model(entry, (*path, keras_name), f"{h5}/", inputs)
        if class_name in ("Lambda", "TFOpLambda", "SlicingOpLambda"):
            raise ArchspecError(f"{self.source}: layer {where} is a {class_name} layer: its function is Python code "
                                "(stored in the file as bytecode or a name), and archspec does not run code from "
                                "a model file; write it as layers archspec knows")
        type_name = canonical_type(class_name) if isinstance(class_name, str) else None
        module = str(entry.get("module") or "")
        # legacy files name no module: the class name alone says it is Keras's own
        # (and archspec's own Keras classes, in models archspec wrote: their code is archspec's)
        known_module = not module or module.startswith(("keras", "archspec")) or class_name in APPLICATION_CLASSES
        if type_name is None or not known_module:
            origin = entry.get("registered_name") or module or "unknown module"
            raise ArchspecError(f"{self.source}: layer {where} is of class {class_name} ({origin}), which archspec "
                                "does not know: a custom class's code is not in the file, and archspec runs none")
        _check_serialized(config, where, self.source)
        translated = self.translate(type_name, config, where)
        for key, value in (flags or {}).items():  # call-time flags a spec writes as parameters (use_causal_mask)
            if key not in layer_class(type_name).model_fields or isinstance(value, dict):
                raise ArchspecError(f"{self.source}: layer {where} is called with {key}={shorten(value)}; "
                                    f"archspec's {type_name} has no such parameter")
            translated[key] = value
        name = self.unique(keras_name)
        imported = ImportedLayer(name, type_name, translated, list(inputs), bool(config.get("trainable", True)))
        self.layers.append(imported)
        self.found.append(_Found(name, (*path, keras_name), h5 or ""))
        return [name]

    def operation(self, class_name, name, inputs, constants, where) -> str:
        """Keras tensor arithmetic as the layer computing it."""
        layer_name = self.unique(str(name))
        if len(inputs) >= 2 and not constants and class_name in MERGE_OPS:
            layer = ImportedLayer(layer_name, MERGE_OPS[class_name], {}, list(inputs))
        elif len(inputs) == 1 and len(constants) == 1 and isinstance(constants[0][1], (int, float)) \
                and not isinstance(constants[0][1], bool):
            position, value = constants[0]
            value = float(value)
            affine = {  # (scale, offset) of x op c, and of c op x
                ("Add", 1): (1.0, value), ("Add", 0): (1.0, value),
                ("Multiply", 1): (value, 0.0), ("Multiply", 0): (value, 0.0),
                ("Subtract", 1): (1.0, -value), ("Subtract", 0): (-1.0, value),
                ("Divide", 1): (1.0 / value if value else None, 0.0), ("TrueDivide", 1): (1.0 / value if value else None, 0.0),
            }.get((class_name, position))
            if affine is None or affine[0] is None:
                raise ArchspecError(f"{self.source}: operation {where} ({class_name} with the constant {value}) has no "
                                    "archspec layer")
            layer = ImportedLayer(layer_name, "Rescaling", {"scale": affine[0], "offset": affine[1]}, list(inputs))
            self.raw.add(layer_name)
        else:
            raise ArchspecError(f"{self.source}: operation {where} ({class_name}, tensor arithmetic in the model's "
                                "code) has no archspec layer; write it as a layer")
        self.layers.append(layer)
        return layer_name

    def sublayer(self, value: dict, where: str) -> dict[str, Any] | None:
        """A wrapper's layer (Bidirectional's, TimeDistributed's) as the spec writes it: a mapping
        with its type, name and parameters."""
        class_name = value.get("class_name")
        type_name = canonical_type(class_name) if isinstance(class_name, str) else None
        if type_name is None or not str(value.get("module") or "keras").startswith("keras"):
            return None
        config = value.get("config") or {}
        inner = f"{where}/{config.get('name', snake_case(type_name))}"
        return {"type": type_name, "name": str(config.get("name")), **self.translate(type_name, config, inner)} \
            if config.get("name") else {"type": type_name, **self.translate(type_name, config, inner)}

    def translate(self, type_name: str, config: dict, where: str) -> dict[str, Any]:
        cls = layer_class(type_name)
        fields = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
        result: dict[str, Any] = {}
        for key, value in config.items():
            if key in DROPPED or key in ("inputs",):
                continue
            if key == "data_format":
                self.data_formats.add(value)
                continue
            if key in fields:
                if key.endswith("initializer"):
                    name = _initializer(value)
                    if name is None:
                        self.note(f"{key} {_describe(value)} is not an initializer archspec names: left at the "
                                  "type's default (it only matters when training from scratch)", where)
                        continue
                    value = name
                elif isinstance(value, dict):
                    mapped = self.sublayer(value, where) if key in ("layer", "backward_layer") else None
                    if mapped is None:
                        raise ArchspecError(f"{self.source}: layer {where}: {key}={shorten(_describe(value), 100)} "
                                            "is a serialized object archspec cannot represent")
                    value = mapped
                result[key] = value
            elif value is None or value is False or value == {} or value == []:
                continue  # a feature archspec does not model, switched off
            elif TRAINING_ONLY.match(key) or key == "activity_regularizer":
                self.note(f"{key} is dropped: archspec does not model regularizers and constraints "
                          "(the function is the same; training from these weights will differ)", where)
            elif key in ("renorm_clipping", "renorm_momentum", "build_config"):
                continue  # meaningful only with renorm, which is off (checked above) / Keras's own bookkeeping
            else:
                raise ArchspecError(f"{self.source}: layer {where} ({type_name}): {key}={shorten(value)} is not "
                                    f"something archspec's {type_name} models")
        return result


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        inner = value.get("config") or {}
        args = ", ".join(f"{k}={v}" for k, v in inner.items() if v is not None and k != "seed")
        return f"{value.get('class_name')}({args})"
    return shorten(value)


def _initializer(value: Any) -> str | None:
    """archspec's name for a Keras initializer, or None when it has none."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return None
    class_name = str(value.get("class_name"))
    config = value.get("config") or {}
    if class_name == "RandomUniform" and config.get("minval") == -0.05 and config.get("maxval") == 0.05:
        return "uniform"
    if class_name == "RandomNormal" and config.get("mean", 0.0) == 0.0 and config.get("stddev") == 0.05:
        return "normal"
    if class_name == "VarianceScaling":
        kind = {(1.0, "fan_avg"): "glorot", (2.0, "fan_in"): "he", (1.0, "fan_in"): "lecun"}.get(
            (float(config.get("scale", 1.0)), config.get("mode")))
        distribution = {"uniform": "uniform", "truncated_normal": "normal"}.get(config.get("distribution"))
        return f"{kind}_{distribution}" if kind and distribution else None
    from typing import get_args

    from archspec.initializers import InitializerName

    name = snake_case(class_name)
    settings = {k: v for k, v in config.items() if v is not None and k != "seed" and not (k == "gain" and v == 1.0)}
    return name if name in get_args(InitializerName) and not settings else None


def _check_serialized(value: Any, where: str, source: str) -> None:
    """Every object serialized inside a layer's configuration comes from Keras itself."""
    if isinstance(value, dict):
        module = value.get("module")
        if "class_name" in value and module is not None and not str(module).startswith(("keras", "archspec")):
            raise ArchspecError(f"{source}: layer {where} holds an object of module {shorten(module)}; "
                                "archspec reads only Keras's own objects")
        if value.get("class_name") in ("__lambda__", "function"):
            raise ArchspecError(f"{source}: layer {where} holds a Python function; archspec runs no code from a file")
        for item in value.values():
            _check_serialized(item, where, source)
    elif isinstance(value, list):
        for item in value:
            _check_serialized(item, where, source)


def _h5_name(entry: dict, counters: dict[str, int]) -> str:
    """Keras's name for a layer's group in model.weights.h5: its class in snake_case, numbered
    within the container (saving_lib's `_get_unique_name`)."""
    base = _keras_snake(str(entry.get("class_name")))
    if base in counters:
        counters[base] += 1
        return f"{base}_{counters[base]}"
    counters[base] = 0
    return base


def _keras_snake(name: str) -> str:
    """keras.src.utils.naming.to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def _refs(value: Any) -> list[tuple[str, int, int]]:
    if not value:
        return []
    if isinstance(value[0], str):
        value = [value]
    return [(str(v[0]), int(v[1]), int(v[2])) for v in value]


def _call(node: Any) -> tuple[list[tuple[str, int, int]], list[tuple[int, Any]], dict]:
    """(tensors in call order, (argument position, constant) pairs, keyword arguments) of one
    inbound node, in Keras 3's format or Keras 2's (a list of [layer, node, tensor, kwargs])."""
    refs: list[tuple[str, int, int]] = []
    constants: list[tuple[int, Any]] = []
    if isinstance(node, list):  # Keras 2
        kwargs = {}
        for item in node:
            refs.append((str(item[0]), int(item[1]), int(item[2])))
            if len(item) > 3 and isinstance(item[3], dict):
                kwargs.update(item[3])
        return refs, constants, kwargs

    def walk(value, position):
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            history = value["config"]["keras_history"]
            refs.append((str(history[0]), int(history[1]), int(history[2])))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item, position)
        else:
            constants.append((position, value))

    for position, arg in enumerate(node.get("args") or []):
        walk(arg, position)
    kwargs = dict(node.get("kwargs") or {})
    for key in list(kwargs):
        if isinstance(kwargs[key], dict) and kwargs[key].get("class_name") == "__keras_tensor__":
            raise ArchspecError(f"a layer is called with the tensor argument {key}=; archspec cannot import it")
    return refs, constants, kwargs


def _hard_sigmoid(reader: _Reader, outputs: list[str]) -> None:
    """keras.applications' `ReLU(6.0)(x + 3.0) * (1.0 / 6.0)` as one Activation(hard_sigmoid)."""
    users: dict[str, list[ImportedLayer]] = {}
    for layer in reader.layers:
        for ref in layer.inputs:
            users.setdefault(ref, []).append(layer)
    drop: set[str] = set()
    for add in reader.layers:
        if add.name not in reader.raw or add.config != {"scale": 1.0, "offset": 3.0}:
            continue
        after = users.get(add.name, [])
        if len(after) != 1 or after[0].type != "ReLU" or add.name in outputs:
            continue
        relu = after[0]
        if relu.config.get("max_value") != 6.0 or relu.config.get("negative_slope", 0.0) != 0.0 \
                or relu.config.get("threshold", 0.0) != 0.0:
            continue
        after = users.get(relu.name, [])
        if len(after) != 1 or after[0].name not in reader.raw or relu.name in outputs:
            continue
        scale = after[0]
        if scale.config.get("offset") != 0.0 or abs(scale.config.get("scale", 0) - 1.0 / 6.0) > 1e-12:
            continue
        relu.type, relu.config, relu.inputs = "Activation", {"activation": "hard_sigmoid"}, list(add.inputs)
        for user in users.get(scale.name, []):
            user.inputs = [relu.name if r == scale.name else r for r in user.inputs]
        outputs[:] = [relu.name if o == scale.name else o for o in outputs]
        drop.update((add.name, scale.name))
    reader.layers = [layer for layer in reader.layers if layer.name not in drop]


def _from_config(config: Any, arrays: _Arrays, source: str) -> KerasModel:
    if not isinstance(config, dict) or "class_name" not in config:
        raise ArchspecError(f"{source}: the configuration is not a Keras model's")
    if config.get("class_name") not in CONTAINERS:
        raise ArchspecError(f"{source}: the file holds a {shorten(config.get('class_name'))}, not a Sequential or "
                            "Functional model")
    reader = _Reader(source)
    outputs = reader.model(config, (), "", None)
    if not reader.inputs:
        raise ArchspecError(f"{source}: the model has no inputs")
    _hard_sigmoid(reader, outputs)
    if len(reader.data_formats) > 1:
        raise ArchspecError(f"{source}: the model mixes data formats {sorted(reader.data_formats)}; a spec has one")
    data_format = next(iter(reader.data_formats), "channels_last")
    body = config.get("config") or {}
    name = re.sub(r"\W", "_", str(body.get("name") or "model"))
    if not re.match(r"[A-Za-z_]", name):
        name = f"model_{name}"
    graph = ImportedGraph(name, data_format, reader.inputs, reader.layers, list(dict.fromkeys(outputs)))
    graph.weights = _weights(graph, reader.found, arrays, source)
    notes = [f"{what}: {', '.join(layers[:4])}{' ...' if len(layers) > 4 else ''} ({len(layers)} layer"
             f"{'s' if len(layers) > 1 else ''})" for what, layers in reader.notes.items()]
    return KerasModel(graph, notes, None, source)


def _weights(graph: ImportedGraph, found: list[_Found], arrays: _Arrays, source: str) -> dict[str, np.ndarray]:
    """Each layer's arrays under `<layer>/<variable path>`: names and shapes from the layer type
    (Keras's order), the values from the model, every count and shape checked."""
    from archspec.importers.emit import graph_spec

    spec, names = graph_spec(graph)
    weights: dict[str, np.ndarray] = {}
    for item in found:
        node = spec.node(names[item.name])
        expected = node.weights
        got = arrays.arrays(item, node, graph.data_format)
        if len(got) != len(expected):
            raise ArchspecError(f"{source}: layer {'/'.join(item.path)} has {len(got)} weight arrays, its "
                                f"{node.type} configuration has {len(expected)} ({', '.join(w.name for w in expected)})")
        for weight, (name, array) in zip(expected, got):
            if array is None:
                raise ArchspecError(f"{source}: layer {'/'.join(item.path)}: Keras's {node.type} has no variable "
                                    f"{weight.name}")
            if tuple(array.shape) != tuple(weight.shape):
                raise ArchspecError(f"{source}: layer {'/'.join(item.path)}: weight {name or weight.name} has shape "
                                    f"{list(array.shape)}, archspec's {node.type} expects {weight.name} "
                                    f"{list(weight.shape)}")
            if name is not None and name != weight.name and name.rsplit("/", 1)[-1] != weight.name.rsplit("/", 1)[-1]:
                raise ArchspecError(f"{source}: layer {'/'.join(item.path)}: weight {name} is where archspec expects "
                                    f"{weight.name}")
            weights[f"{item.name}/{weight.name}"] = np.asarray(array, dtype=np.float32)
    return weights


# ---------------------------------------------------------------- the command


@dataclass
class ImportResult:
    emitted: Any  # archspec.importers.emit.Emitted
    notes: list[str]
    max_abs_diff: float
    atol: float
    check: Any = None  # archspec.check.CheckReport with --check

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.atol and (self.check is None or self.check.passed)


def keras_outputs(model) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """A Keras model as `inputs -> outputs` (inference mode, a list in the model's output order)."""

    def run(inputs: list[np.ndarray]) -> list[np.ndarray]:
        outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [np.asarray(o) for o in outputs]

    return run


def import_keras(source: str, output: str | Path, weights: str | Path | None = None, *,
                 weights_from: str | None = None, args: dict[str, Any] | None = None, fold: bool = True,
                 atol: float = 1e-5, check: bool = False) -> ImportResult:
    """`archspec import keras`: read, write the spec (and the weights), prove the spec computes
    what the original computes."""
    from archspec.importers.emit import emit, prove, write

    model = read_keras(source, weights_from, args)
    description = f"Imported from {source} by archspec import keras."
    emitted = emit(model.graph, fold=fold, description=description)
    write(emitted, output, weights, {"imported_from": str(source)})

    def original(inputs):
        # loaded after the spec's Keras build, which registers the classes of archspec's own
        # layers that a model archspec wrote may name (archspec>MultiHeadAttention)
        try:
            keras_model = model.original()
        except Exception as exc:  # noqa: BLE001 - Keras's own loader refused: the proof cannot run
            from archspec.errors import CheckFailed

            raise CheckFailed(f"wrote {output}, but Keras cannot load the original to prove it: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        return keras_outputs(keras_model)(inputs)

    diff = prove(emitted, original, "keras")
    report = None
    if check:
        from archspec.check import run_check

        report = run_check(emitted.spec, emitted.weights, atol=atol, rtol=0.0)
    return ImportResult(emitted, emitted.notes + model.notes, diff, atol, report)
