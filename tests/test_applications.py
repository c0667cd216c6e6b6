"""specs/keras_applications/*.yaml against the keras.applications models they copy.

Each spec must describe exactly `keras.applications.<Constructor>(weights=None)` (include_top=True,
default input size, 1000 classes): the same layers (canonical Keras class, parameter count, output
shape), as many of them, and the same total / trainable / non-trainable parameter counts.
keras.applications builds some branches in another order than a topological sort of the spec
gives, so layers are compared as a multiset, not as a sequence. Nested models (ConvNeXt's
Sequential stem and downsampling layers) are opened into their layers; Keras's InputLayer is not a
layer in archspec. Where the Keras default input leaves spatial axes free (MobileNetV3:
(None, None, 3)), Keras is built again at the spec's fixed input size.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import archspec
from archspec.summary import summarize
from conftest import ROOT, needs_keras

APPS_DIR = ROOT / "specs" / "keras_applications"

# file stem of specs/keras_applications/<stem>.yaml -> keras.applications constructor
CONSTRUCTORS: dict[str, str] = {
    "vgg16": "VGG16",
    "vgg19": "VGG19",
    "resnet50": "ResNet50",
    "resnet101": "ResNet101",
    "resnet152": "ResNet152",
    "resnet50_v2": "ResNet50V2",
    "resnet101_v2": "ResNet101V2",
    "resnet152_v2": "ResNet152V2",
    "inception_v3": "InceptionV3",
    "inception_resnet_v2": "InceptionResNetV2",
    "xception": "Xception",
    "mobilenet": "MobileNet",
    "mobilenet_v2": "MobileNetV2",
    "mobilenet_v3_small": "MobileNetV3Small",
    "mobilenet_v3_large": "MobileNetV3Large",
    "densenet121": "DenseNet121",
    "densenet169": "DenseNet169",
    "densenet201": "DenseNet201",
    "nasnet_mobile": "NASNetMobile",
    "nasnet_large": "NASNetLarge",
    **{f"efficientnet_b{i}": f"EfficientNetB{i}" for i in range(8)},
    **{f"efficientnet_v2_b{i}": f"EfficientNetV2B{i}" for i in range(4)},
    "efficientnet_v2_s": "EfficientNetV2S",
    "efficientnet_v2_m": "EfficientNetV2M",
    "efficientnet_v2_l": "EfficientNetV2L",
    "convnext_tiny": "ConvNeXtTiny",
    "convnext_small": "ConvNeXtSmall",
    "convnext_base": "ConvNeXtBase",
    "convnext_large": "ConvNeXtLarge",
    "convnext_xlarge": "ConvNeXtXLarge",
}

SPEC_FILES = sorted(APPS_DIR.glob("*.yaml"))


def test_table_has_all_forty_models():
    assert len(CONSTRUCTORS) == 40
    assert len(set(CONSTRUCTORS.values())) == 40


@pytest.mark.parametrize("path", SPEC_FILES, ids=[p.stem for p in SPEC_FILES])
def test_spec_file_is_in_table_and_loads(path: Path):
    assert path.stem in CONSTRUCTORS, (
        f"{path.name} is not in tests/test_applications.py's CONSTRUCTORS table")
    spec = archspec.load(path)
    summary = summarize(spec)
    assert summary["layers"], f"{path.name} has no layers"


@pytest.mark.slow  # importing Keras alone takes seconds
@needs_keras
def test_constructors_exist_in_keras():
    import keras

    missing = [name for name in CONSTRUCTORS.values() if not hasattr(keras.applications, name)]
    assert not missing, f"not in keras.applications: {missing}"


# ---------------------------------------------------------------- the slow, layer-by-layer check

def _flat_layers(model):
    """(class name, params, output shape) of the model's layers, nested models (Sequential or Functional
    used as a layer) opened up, no InputLayer; and of its residual merges written as tensor
    arithmetic (ConvNeXt's `inputs + x`), which a spec writes as a merge layer. Arithmetic with a
    constant (MobileNetV3's `x + 3.0`) is part of a function a spec writes otherwise (see below)."""
    import keras

    # a Functional model lists its tensor arithmetic among its operations; a Sequential has none
    for operation in getattr(model, "_operations", model.layers):
        if isinstance(operation, keras.Model):
            yield from _flat_layers(operation)
        elif isinstance(operation, keras.layers.InputLayer):
            continue
        elif isinstance(operation, keras.layers.Layer):
            yield type(operation).__name__, int(operation.count_params()), _shape(operation.output.shape)
        else:
            node = operation._inbound_nodes[0]
            if type(operation).__name__ in MERGE_OPERATIONS and len(node.input_tensors) >= 2:
                yield type(operation).__name__, 0, _shape(node.output_tensors[0].shape)


MERGE_OPERATIONS = {"Add", "Multiply", "Subtract", "Maximum", "Minimum"}


def _shape(shape) -> tuple:
    return tuple(None if d is None else int(d) for d in shape)


def _count(weights) -> int:
    import math

    return sum(math.prod(w.shape) for w in weights)


def _keras_model(constructor: str, spec_input: tuple):
    """`constructor(weights=None)`; where its default input leaves axes free (MobileNetV3's
    (None, None, 3)) and the spec fixes them, built again for the spec's input size."""
    import keras

    build = getattr(keras.applications, constructor)
    model = build(weights=None)
    default = _shape(model.input_shape)
    assert len(default) == len(spec_input) and all(
        k is None or k == s for k, s in zip(default, spec_input)), (
        f"spec input {list(spec_input)}, keras.applications.{constructor} default input {list(default)}")
    if default != spec_input:
        model = build(weights=None, input_shape=spec_input[1:])
    return model


def _keras_facts(model):
    layers = list(_flat_layers(model))
    totals = {
        "total_params": int(model.count_params()),
        "trainable_params": _count(model.trainable_weights),
        "non_trainable_params": _count(model.non_trainable_weights),
    }
    return layers, totals


def _spec_facts(spec) -> tuple[Counter, dict]:
    """(type, params, output shape) of every layer, as a multiset, and the totals."""
    summary = summarize(spec)
    facts = Counter((layer["type"], int(layer["params"]), tuple(layer["output_shape"])) for layer in summary["layers"])
    return facts, {k: summary[k] for k in ("total_params", "trainable_params", "non_trainable_params", "macs")}


def _multiset_diff(ours: Counter, theirs: Counter, limit: int = 15) -> str:
    lines = []
    for label, a, b in (("only in spec", ours, theirs), ("only in Keras", theirs, ours)):
        extra = a - b
        if extra:
            lines.append(f"{label} ({sum(extra.values())}):")
            for (kind, params, shape), n in sorted(extra.items(), key=str)[:limit]:
                lines.append(f"  {n} x {kind} params={params} output={list(shape)}")
            if len(extra) > limit:
                lines.append(f"  ... {len(extra) - limit} more kinds")
    return "\n".join(lines)


# keras.applications' MobileNetV3 computes hard_sigmoid as `ReLU(6.0)(x + 3.0) * (1.0 / 6.0)`: one
# layer and two raw ops that `model.layers` does not list. The spec's Activation(hard_sigmoid) is
# that same function, and stands for the ReLU in the layer-by-layer comparison.
HARD_SIGMOID_AS_RELU = {"mobilenet_v3_small", "mobilenet_v3_large"}


def _keras_type(stem: str, node) -> str:
    if stem in HARD_SIGMOID_AS_RELU and node.type == "Activation" and node.layer.activation == "hard_sigmoid":
        return "ReLU"
    return node.type


@pytest.mark.slow
@needs_keras
@pytest.mark.parametrize("stem", sorted(CONSTRUCTORS))
def test_spec_equals_keras_application(stem: str):
    path = APPS_DIR / f"{stem}.yaml"
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not written yet")
    spec = archspec.load(path)
    summary = summarize(spec)
    spec_layers = [(_keras_type(stem, node), int(layer["params"]), _shape(layer["output_shape"]))
                   for node, layer in zip(spec.nodes, summary["layers"])]

    assert len(summary["inputs"]) == 1, "keras.applications models have one input"
    spec_input = _shape(summary["input_shapes"][summary["inputs"][0]])
    model = _keras_model(CONSTRUCTORS[stem], spec_input)
    keras_layers, keras_totals = _keras_facts(model)

    ours, theirs = Counter(spec_layers), Counter(keras_layers)
    same_layers = ours == theirs  # a bool, so that pytest prints our diff, not two huge Counters
    assert same_layers, (
        f"{path.name} vs keras.applications.{CONSTRUCTORS[stem]}: layers differ\n"
        + _multiset_diff(ours, theirs))
    assert len(spec_layers) == len(keras_layers)
    for key, expected in keras_totals.items():
        assert summary[key] == expected, f"{key}: spec {summary[key]:,}, Keras {expected:,}"

    # `archspec import keras` reads the same constructor back into the spec archspec ships (the
    # layers as a multiset: Keras orders some branches differently)
    from archspec.importers.emit import emit
    from archspec.importers.keras import read_keras_model

    imported = emit(read_keras_model(model, f"keras.applications.{CONSTRUCTORS[stem]}").graph).spec
    (imported_layers, imported_totals), (shipped_layers, shipped_totals) = _spec_facts(imported), _spec_facts(spec)
    assert imported_totals == shipped_totals
    assert imported_layers == shipped_layers, (imported_layers - shipped_layers, shipped_layers - imported_layers)
    import keras

    keras.backend.clear_session()
