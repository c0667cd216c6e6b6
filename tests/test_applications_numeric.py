"""keras.applications models, with Keras's own weights, computed again by every archspec path.

For one model per family, `keras.applications.<Constructor>(weights=None)` (Keras's own
initialisation, batch-norm statistics moved off their neutral values) is the reference: its
weights are copied into the spec's neutral weights and archspec's Keras build, its PyTorch
build and both ONNX exports (run by onnxruntime; two small families only, for time and memory)
must give its outputs within 1e-5, and its likely classes within 1e-3 relative.

The copy cannot go by name: keras.applications names `conv2_block1_0_conv` what a spec's
blocks name `conv2/block1/0_conv`, and leaves some layers unnamed. `match_layers` pairs the
layers by graph structure instead (see its docstring).
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import archspec
from archspec.errors import ArchspecError
from archspec.weights import Weights, check_weights
from conftest import ROOT, needs_both

APPS_DIR = ROOT / "specs" / "keras_applications"
ATOL = 1e-5

# one model per family: file stem of specs/keras_applications/<stem>.yaml -> keras.applications constructor
FAMILIES: dict[str, str] = {
    "vgg16": "VGG16",
    "resnet50": "ResNet50",
    "resnet50_v2": "ResNet50V2",
    "inception_v3": "InceptionV3",
    "inception_resnet_v2": "InceptionResNetV2",
    "xception": "Xception",
    "mobilenet": "MobileNet",
    "mobilenet_v2": "MobileNetV2",
    "mobilenet_v3_small": "MobileNetV3Small",
    "densenet121": "DenseNet121",
    "nasnet_mobile": "NASNetMobile",
    "efficientnet_b0": "EfficientNetB0",
    "efficientnet_v2_b0": "EfficientNetV2B0",
    "convnext_tiny": "ConvNeXtTiny",
}

# inputs in the range each model's preprocess_input gives (the models that include their own
# preprocessing take raw pixels), so that the logits spread and 1e-5 on the probabilities means something
INPUT_RANGE: dict[str, tuple[float, float]] = {
    **dict.fromkeys(["vgg16", "resnet50"], (-128.0, 128.0)),  # "caffe": BGR, mean subtracted
    **dict.fromkeys(["resnet50_v2", "inception_v3", "inception_resnet_v2", "xception", "mobilenet",
                     "mobilenet_v2", "nasnet_mobile"], (-1.0, 1.0)),  # "tf"
    "densenet121": (-2.0, 2.5),  # "torch": standardised with ImageNet's mean and deviation
    **dict.fromkeys(["mobilenet_v3_small", "efficientnet_b0", "efficientnet_v2_b0", "convnext_tiny"], (0.0, 255.0)),
}

# families whose two ONNX exports are also run: two small ones (2.5M and 5.3M parameters) with
# hard-sigmoid/hard-swish, swish, squeeze-and-excite, Rescaling and Normalization between them.
# Exporting takes 15 to 60 s a model and tf2onnx needs 9 GB for ResNet50 (more for VGG16), so the
# others are checked in Keras and PyTorch only.
ONNX_FAMILIES = {"mobilenet_v3_small", "efficientnet_b0"}
RTOL_LIKELY = 1e-3  # relative, on the probabilities of at least 1e-4 (see the test)

COMMUTATIVE = {"Add", "Multiply", "Average", "Maximum", "Minimum"}


# ---------------------------------------------------------------- structural matching


class MatchError(AssertionError):
    """Keras's model and the spec are not the same graph (or not the same weights)."""


@dataclass(eq=False)
class _Vertex:
    """A layer with weights, a merge of several tensors, or a model input, in a reduced graph.

    Weightless one-input layers (activations, padding, pooling, reshapes, Keras's raw ops
    `x + 3.0`, ...) are not vertices: they are folded into the edge that crosses them, which
    keeps only the shapes they produce (the edge's `trail`), so that one spec layer may stand
    for several Keras operations (hard_sigmoid = relu6(x + 3) / 6) and vice versa.
    """

    kind: str  # Keras class name / spec type; "Input" for a model input
    shape: tuple  # output shape, batch axis excluded
    weight_shapes: tuple  # sorted
    inputs: list  # [(source vertex, trail)] in call order
    item: Any  # the keras layer / spec Node / input index
    label: str
    signature: str = field(default="")

    def __post_init__(self):
        refs = [(src.signature, trail) for src, trail in self.inputs]
        if self.kind in COMMUTATIVE:
            refs.sort()
        text = repr((self.kind, self.shape, self.weight_shapes, refs, self.item if self.kind == "Input" else None))
        self.signature = hashlib.sha1(text.encode()).hexdigest()


def _shape(shape) -> tuple:
    return tuple(int(d) for d in shape)


def _follow(ref, shape: tuple):
    """The edge `ref` extended through one weightless one-input layer producing `shape`."""
    src, trail = ref
    last = trail[-1] if trail else src.shape
    return (src, trail + (shape,)) if shape != last else ref


def _keras_graph(model) -> list:
    """The model's outputs as edges [(vertex, trail)] of its reduced graph, nested models opened up."""
    import keras

    bound: dict[int, Any] = {}  # id(an inner model's input tensor) -> the outer tensor it was called on

    def resolve(tensor):
        while True:
            if id(tensor) in bound:
                tensor = bound[id(tensor)]
                continue
            op, node_index, tensor_index = tensor._keras_history
            if isinstance(op, keras.Model) and op is not model:  # a nested Sequential / Functional
                node = op._inbound_nodes[node_index]
                for inner, outer in zip(op.inputs, node.input_tensors, strict=True):
                    bound[id(inner)] = outer  # (the inner model keeps `inner` alive)
                tensor = op.outputs[tensor_index]
                continue
            return tensor

    model_inputs = {id(t): i for i, t in enumerate(model.inputs)}
    memo: dict[int, tuple] = {}
    seen_layers: set[int] = set()

    def visit(root):
        stack = [(root, False)]
        while stack:
            tensor, ready = stack.pop()
            tensor = resolve(tensor)
            if id(tensor) in memo:
                continue
            op, node_index, _ = tensor._keras_history
            if isinstance(op, keras.layers.InputLayer):
                if id(tensor) not in model_inputs:
                    raise MatchError(f"Keras input {op.name} is not an input of {model.name}")
                index = model_inputs[id(tensor)]
                memo[id(tensor)] = (_Vertex("Input", _shape(tensor.shape[1:]), (), [], index, f"input {index}"), ())
                continue
            sources = [resolve(t) for t in op._inbound_nodes[node_index].input_tensors]
            if not ready:
                stack.append((tensor, True))
                stack.extend((t, False) for t in sources if id(t) not in memo)
                continue
            refs = [memo[id(t)] for t in sources]
            weights = list(op.weights) if isinstance(op, keras.layers.Layer) else []
            shape = _shape(tensor.shape[1:])
            if not weights and len(refs) == 1:
                memo[id(tensor)] = _follow(refs[0], shape)
                continue
            if weights:
                if id(op) in seen_layers:
                    raise MatchError(f"Keras layer {op.name} is called more than once; a spec layer is called once")
                seen_layers.add(id(op))
            vertex = _Vertex(type(op).__name__, shape, tuple(sorted(_shape(w.shape) for w in weights)), refs, op,
                             f"Keras layer {op.name} ({type(op).__name__})")
            memo[id(tensor)] = (vertex, ())

    outputs = []
    for tensor in model.outputs:
        visit(tensor)
        outputs.append(memo[id(resolve(tensor))])
    return outputs


def _spec_graph(spec) -> list:
    """The spec's outputs as edges [(vertex, trail)] of its reduced graph."""
    memo: dict[str, tuple] = {}
    for index, spec_input in enumerate(spec.inputs):
        memo[spec_input.name] = (_Vertex("Input", _shape(spec_input.shape), (), [], index, f"input {index}"), ())
    for node in spec.nodes:  # topological order
        refs = [memo[name] for name in node.inputs]
        shape = _shape(node.output_shape)
        if not node.weights and len(refs) == 1:
            memo[node.name] = _follow(refs[0], shape)
        else:
            memo[node.name] = (_Vertex(node.type, shape, tuple(sorted(_shape(w.shape) for w in node.weights)), refs,
                                       node, f"spec layer {node.name} ({node.type})"), ())
    return [memo[name] for name in spec.outputs]


def flat_layers(model):
    """The model's layers, nested models (Sequential/Functional used as a layer) opened up, no InputLayer."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from flat_layers(layer)
        elif not isinstance(layer, keras.layers.InputLayer):
            yield layer


def match_layers(keras_model, spec) -> list[tuple[Any, Any]]:
    """[(keras layer, spec node)] for every Keras layer with weights, found by graph structure, not names.

    Both graphs are reduced to their layers with weights, their merges and their inputs (see
    `_Vertex`; nested Keras models are opened up), then walked from the outputs back: a
    matched pair matches its inputs in call order, except for commutative merges (Add,
    Multiply, Average, Maximum, Minimum), whose inputs are paired by a structural signature
    (a Merkle hash of type, output shape, weight shapes and the signatures of the inputs). Every
    pair must agree in type, output shape and weight shapes, and the shapes between two vertices
    must agree; the mapping must be one-to-one and cover every layer with weights on both sides.
    Raises MatchError otherwise.
    """
    keras_outputs, spec_outputs = _keras_graph(keras_model), _spec_graph(spec)
    if len(keras_outputs) != len(spec_outputs):
        raise MatchError(f"Keras has {len(keras_outputs)} outputs, the spec {len(spec_outputs)}")
    forward: dict[int, _Vertex] = {}  # id(keras vertex) -> spec vertex
    backward: dict[int, _Vertex] = {}
    pairs: list[tuple[_Vertex, _Vertex]] = []
    stack = list(zip(keras_outputs, spec_outputs))
    while stack:
        (k, k_trail), (s, s_trail) = stack.pop()
        where = f"{k.label} vs {s.label}"
        if k_trail != s_trail:
            raise MatchError(f"{where}: the weightless layers after them produce shapes {list(k_trail)} in Keras, "
                             f"{list(s_trail)} in the spec")
        if id(k) in forward:
            if forward[id(k)] is not s:
                raise MatchError(f"{k.label} is reached as both {forward[id(k)].label} and {s.label}")
            continue
        if id(s) in backward:
            raise MatchError(f"{s.label} is reached as both {backward[id(s)].label} and {k.label}")
        if k.kind != s.kind:
            raise MatchError(f"{where}: different types")
        if k.kind == "Input" and k.item != s.item:
            raise MatchError(f"{where}: different inputs")
        if k.shape != s.shape:
            raise MatchError(f"{where}: output shapes {list(k.shape)} and {list(s.shape)}")
        if k.weight_shapes != s.weight_shapes:
            raise MatchError(f"{where}: weight shapes {k.weight_shapes} and {s.weight_shapes}")
        if len(k.inputs) != len(s.inputs):
            raise MatchError(f"{where}: {len(k.inputs)} and {len(s.inputs)} inputs")
        forward[id(k)], backward[id(s)] = s, k
        pairs.append((k, s))
        if k.kind in COMMUTATIVE:
            left = list(s.inputs)
            for k_ref in k.inputs:
                key = (k_ref[0].signature, k_ref[1])
                j = next((j for j, (src, trail) in enumerate(left) if (src.signature, trail) == key), None)
                if j is None:
                    raise MatchError(f"{where}: the spec has no input with the structure of Keras's input "
                                     f"{k_ref[0].label}; the spec's: {[src.label for src, _ in left]}")
                stack.append((k_ref, left.pop(j)))
        else:
            stack.extend(zip(k.inputs, s.inputs))

    result = [(k.item, s.item) for k, s in pairs if k.weight_shapes]
    matched_layers = {id(layer) for layer, _ in result}
    missing = [layer.name for layer in flat_layers(keras_model) if layer.weights and id(layer) not in matched_layers]
    if missing:
        raise MatchError(f"Keras layers with weights that no spec layer matches: {missing[:10]}")
    matched_nodes = {id(node) for _, node in result}
    missing = [node.name for node in spec.nodes if node.weights and id(node) not in matched_nodes]
    if missing:
        raise MatchError(f"spec layers with weights that no Keras layer matches: {missing[:10]}")
    order = {id(node): i for i, node in enumerate(spec.nodes)}
    return sorted(result, key=lambda pair: order[id(pair[1])])


def _variable_name(layer, variable) -> str:
    """A variable's path inside its layer: `conv2_block1_0_conv/kernel` -> `kernel` (also when the
    layer sits in a nested model, `stem/stem_conv/kernel`)."""
    path = "/" + variable.path
    start = path.rfind(f"/{layer.name}/")
    if start < 0:
        raise MatchError(f"variable {variable.path} of Keras layer {layer.name} is not under the layer's name")
    name = path[start + len(layer.name) + 2:]
    if type(layer).__name__ == "LayerScale" and re.fullmatch(r"variable(_\d+)?", name):
        return "gamma"  # keras.applications' LayerScale leaves its one variable unnamed
    return name


def neutral_weights(pairs) -> Weights:
    """The Keras layers' variables under the neutral keys `<spec layer name>/<variable path inside the layer>`."""
    weights: Weights = {}
    for layer, node in pairs:
        for variable in layer.weights:
            key = f"{node.name}/{_variable_name(layer, variable)}"
            if key in weights:
                raise MatchError(f"two Keras variables give neutral key {key}")
            weights[key] = np.asarray(variable.numpy(), dtype=np.float32)
    return weights


# ---------------------------------------------------------------- a small model, for the fast tier


def _small_keras_model():
    """A residual Add whose inputs Keras takes as (branch, shortcut), a nested Sequential, two
    same-shaped convolutions summed, ConvNeXt's LayerScale (an unnamed variable) and a Concatenate."""
    import keras
    from keras import layers
    from keras.src.applications.convnext import LayerScale

    inputs = keras.Input((8, 8, 3), name="pixels")
    stem = keras.Sequential([layers.Conv2D(4, 3, padding="same", name="s_conv"),
                             layers.BatchNormalization(name="s_bn")], name="stem")
    x = layers.Activation("relu")(stem(inputs))
    branch = layers.Conv2D(4, 3, padding="same", use_bias=False)(x)
    branch = layers.BatchNormalization()(branch)
    x = layers.Add()([branch, x])  # the spec writes [shortcut, branch]
    a = layers.Conv2D(6, 1, name="a")(x)
    b = layers.Conv2D(6, 3, padding="same", name="b")(x)
    both = layers.Add()([layers.MaxPooling2D(2)(a), b[:, ::2, ::2, :] * 1.0])  # b: a raw op, then a slice
    both = LayerScale(1e-6, 6)(both)
    cat = layers.Concatenate()([both, layers.Conv2D(2, 1, strides=2)(x)])
    outputs = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(cat))
    return keras.Model(inputs, outputs)


SMALL_SPEC = """
name: small
input_shape: [8, 8, 3]
layers:
  - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, name: stem_conv}
  - {type: BatchNormalization, name: stem_bn}
  - {type: Activation, activation: relu, name: stem_relu}
  - {type: Conv2D, filters: 4, kernel_size: 3, padding: same, use_bias: false, name: branch_conv}
  - {type: BatchNormalization, name: branch_bn}
  - {type: Add, inputs: [stem_relu, branch_bn], name: residual}
  - {type: Conv2D, filters: 6, kernel_size: 3, padding: same, name: wide, inputs: residual}
  - {type: Conv2D, filters: 6, kernel_size: 1, name: narrow, inputs: residual}
  - {type: MaxPooling2D, pool_size: 2, name: pooled, inputs: narrow}
  - {type: MaxPooling2D, pool_size: 1, strides: 2, name: strided, inputs: wide}
  - {type: Add, inputs: [strided, pooled], name: both}
  - {type: LayerScale, init_values: 1.0e-6, projection_dim: 6, name: scaled}
  - {type: Conv2D, filters: 2, kernel_size: 1, strides: 2, name: side, inputs: residual}
  - {type: Concatenate, inputs: [scaled, side], name: cat}
  - {type: GlobalAveragePooling2D, name: gap}
  - {type: Dense, units: 3, activation: softmax, name: head}
"""


@needs_both
def test_match_layers_pairs_a_small_model_by_structure():
    model = _small_keras_model()
    spec = archspec.loads(SMALL_SPEC)
    pairs = match_layers(model, spec)
    names = {node.name: layer.name for layer, node in pairs}
    assert names["stem_conv"] == "s_conv" and names["stem_bn"] == "s_bn"
    assert names["wide"] == "b" and names["narrow"] == "a"  # same output shape: told apart by their kernels
    assert model.get_layer(names["branch_conv"]).use_bias is False
    assert len(pairs) == len([layer for layer in flat_layers(model) if layer.weights]) == 9

    randomize_statistics(model)
    weights = neutral_weights(pairs)
    check_weights(spec, weights)
    assert "scaled/gamma" in weights  # Keras: <layer_scale name>/variable
    x = np.random.default_rng(0).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    got = np.asarray(archspec.build(spec, "keras", weights=weights)(x, training=False))
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    import torch

    with torch.no_grad():
        got = archspec.build(spec, "torch", weights=weights)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)


@needs_both
def test_match_layers_rejects_a_different_graph():
    model = _small_keras_model()
    swapped = SMALL_SPEC.replace("inputs: [scaled, side]", "inputs: [side, scaled]")  # Concatenate is ordered
    with pytest.raises(MatchError, match="different types"):
        match_layers(model, archspec.loads(swapped))
    wider = SMALL_SPEC.replace("filters: 2, kernel_size: 1, strides: 2", "filters: 3, kernel_size: 1, strides: 2")
    with pytest.raises(MatchError):
        match_layers(model, archspec.loads(wider))


# ---------------------------------------------------------------- keras.applications, numerically


def randomize_statistics(model, seed: int = 0, spread: float = 0.1) -> None:
    """conftest.randomize_batch_norm for keras.applications: nested models opened up, and batch
    norms without gamma or beta (InceptionV3's scale=False) handled. Also moves ConvNeXt's
    LayerScale (Keras initialises it to 1e-6, which would hide every residual branch from the
    comparison) and an un-adapted Normalization's mean and variance off their neutral values."""
    import keras

    rng = np.random.default_rng(seed)
    for layer in flat_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            values = []
            for variable in layer.weights:
                shape = tuple(variable.shape)
                if _variable_name(layer, variable) in ("gamma", "moving_variance"):
                    values.append(rng.uniform(0.5, 1.5, shape))
                else:  # beta, moving_mean
                    values.append(rng.normal(0, spread, shape))
            layer.set_weights(values)
        elif type(layer).__name__ == "LayerScale":
            (gamma,) = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape)])
        elif isinstance(layer, keras.layers.Normalization) and layer.weights:
            mean, variance, count = layer.get_weights()
            layer.set_weights([rng.normal(0, spread, mean.shape), rng.uniform(0.5, 1.5, variance.shape), count])
            layer.finalize_state()  # Normalization computes with copies of its variables, made here


SEED = 0


def _keras_application(constructor: str, spec):
    """`constructor(weights=None)`, seeded (Keras's initializers draw from its global seed, and an
    unseeded draw made the test a different one every run); built again at the spec's input size
    where its default leaves axes free."""
    import keras

    keras.utils.set_random_seed(SEED)
    build = getattr(keras.applications, constructor)
    model = build(weights=None)
    spec_input = _shape(spec.inputs[0].shape)
    if any(d is None for d in model.input_shape[1:]):
        model = build(weights=None, input_shape=spec_input)
    return model


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _max_rel_diff(got, expected, floor: float = 1e-4) -> float:
    """The largest relative difference among the expected values of at least `floor`."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    likely = np.abs(expected) >= floor
    return float(np.max(np.abs(got - expected)[likely] / np.abs(expected[likely]), initial=0.0))


def _first_divergent_pair(reference, spec, pairs, weights, x) -> str:
    """Where archspec's Keras build first leaves Keras's own model, comparing the outputs of the
    matched layers with weights (those inside nested Keras models aside) in the spec's order."""
    import keras

    from archspec.backends import keras as kb

    top = {id(layer) for layer in reference.layers}
    pairs = [(layer, node) for layer, node in pairs if id(layer) in top]
    inputs = reference.inputs[0] if len(reference.inputs) == 1 else reference.inputs
    probe = keras.Model(inputs, [layer.output for layer, _ in pairs])
    theirs = probe(x, training=False)
    ours = kb.layer_outputs(kb.build_model(spec, weights), spec, [x])
    for (layer, node), value in zip(pairs, theirs):
        diff = _max_diff(ours[node.name], value)
        if diff > ATOL * max(1.0, float(np.max(np.abs(value)))):
            return f"first divergent layer: spec {node.name} / Keras {layer.name}, max |diff| {diff:.3g}"
    return "no matched layer diverges"


def _first_divergent_between_backends(spec, weights, x) -> str:
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb

    ours = kb.layer_outputs(kb.build_model(spec, weights), spec, [x])
    theirs = tb.layer_outputs(tb.build_model(spec, weights), spec, [x])
    for node in spec.nodes:
        diff = _max_diff(ours[node.name], theirs[node.name])
        if diff > ATOL * max(1.0, float(np.max(np.abs(ours[node.name])))):
            return f"first divergent layer keras vs torch: {node.name} ({node.type}), max |diff| {diff:.3g}"
    return "no layer diverges between keras and torch"


@pytest.mark.slow
@needs_both
@pytest.mark.parametrize("stem", list(FAMILIES))
def test_keras_application_weights_give_keras_outputs_on_every_path(stem, tmp_path):
    import torch

    path = APPS_DIR / f"{stem}.yaml"
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not written yet")
    try:
        spec = archspec.load(path)
    except ArchspecError as exc:
        pytest.skip(f"{path.relative_to(ROOT)} does not load: {str(exc).splitlines()[0]}")
    start = time.perf_counter()
    times = {}

    reference = _keras_application(FAMILIES[stem], spec)  # Keras's own model and initialisation
    randomize_statistics(reference)
    pairs = match_layers(reference, spec)
    weights = neutral_weights(pairs)
    check_weights(spec, weights, f"{stem}: Keras's weights")
    x = np.random.default_rng(1).uniform(*INPUT_RANGE[stem], (2, *spec.inputs[0].shape)).astype(np.float32)
    expected = np.asarray(reference(x, training=False))
    times["reference"] = time.perf_counter() - start

    got = {}
    mark = time.perf_counter()
    got["keras"] = np.asarray(archspec.build(spec, "keras", weights=weights)(x, training=False))
    times["keras"] = time.perf_counter() - mark
    mark = time.perf_counter()
    with torch.no_grad():
        got["torch"] = archspec.build(spec, "torch", weights=weights)(torch.from_numpy(x)).numpy()
    times["torch"] = time.perf_counter() - mark
    if stem in ONNX_FAMILIES:
        from archspec.export.onnx import export_onnx
        from archspec.onnx import Session

        for backend in ("keras", "torch"):
            mark = time.perf_counter()
            file = export_onnx(spec, weights, tmp_path / f"{backend}.onnx", backend=backend)
            (got[f"onnx:{backend}"],) = Session(file).predict(x)
            times[f"onnx:{backend}"] = time.perf_counter() - mark

    diffs = {name: _max_diff(value, expected) for name, value in got.items()}
    rel = {name: _max_rel_diff(value, expected) for name, value in got.items()}
    total = time.perf_counter() - start
    print(f"\n{stem}: max |diff| " + ", ".join(f"{name} {diff:.3g}" for name, diff in diffs.items())
          + "; max rel diff " + ", ".join(f"{name} {r:.3g}" for name, r in rel.items())
          + f"; {total:.1f}s (" + ", ".join(f"{name} {t:.1f}s" for name, t in times.items()) + ")")
    # 1e-5 on probabilities near 1/1000 alone would let a wrong weight through: the likely
    # classes must also agree to 1e-3 relative (about 1e-3 on the logits)
    failed = {name: diff for name, diff in diffs.items() if not diff <= ATOL}
    failed |= {f"{name} (relative)": r for name, r in rel.items() if not r <= RTOL_LIKELY}
    if failed:
        where = _first_divergent_pair(reference, spec, pairs, weights, x)
        if not any(name.startswith("keras") for name in failed) and any(name.startswith("torch") for name in failed):
            where += "; " + _first_divergent_between_backends(spec, weights, x)
        pytest.fail(f"{stem}: outputs differ from Keras's own model (atol {ATOL}, rtol {RTOL_LIKELY}): {failed} ({where})")


@pytest.fixture(autouse=True)
def _release_keras_models():
    """Each test builds models of up to 138M parameters: let them go before the next one."""
    yield
    import gc
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session()
    gc.collect()
