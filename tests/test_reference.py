"""The seed specs' numbers against SPEC-FORMAT section 7 and against Keras itself."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import archspec
from archspec.cli import app
from archspec.summary import summarize
from conftest import SPECS, TWO_IN_TWO_OUT, needs_keras

# (total params, non-trainable, output shapes) from SPEC-FORMAT section 7
REFERENCE = {
    "fashion_cnn": (333_526, 0, [[None, 10]]),
    "mnist_cnn": (54_410, 0, [[None, 10]]),
    "mnist_concat": (62_250, 0, [[None, 10]]),
    "mnist_digit_odd": (63_035, 0, [[None, 10], [None, 1]]),
    "pima_mlp": (221, 0, [[None, 1]]),
    "lego_8x8": (178, 0, [[None, 3]]),
    "shapes_cnn": (839_107, 0, [[None, 3]]),
    "fashion_conv_only": (3_989_642, 0, [[None, 10]]),
    "fashion_conv_pool_dropout": (241_546, 0, [[None, 10]]),
    "vgg7": (5_240_842, 0, [[None, 10]]),
    "vgg16": (138_357_544, 0, [[None, 1000]]),
    "resnet50": (25_636_712, 53_120, [[None, 1000]]),
}


def spec_path(name: str):
    path = SPECS / f"{name}.yaml"
    return path if path.exists() else SPECS / "keras_applications" / f"{name}.yaml"


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_summary_json_matches_reference_table(name):
    result = CliRunner().invoke(app, ["summary", str(spec_path(name)), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    total, frozen, outputs = REFERENCE[name]
    assert data["name"] == name
    assert data["total_params"] == total
    assert data["non_trainable_params"] == frozen
    assert data["trainable_params"] == total - frozen
    assert [data["output_shapes"][o] for o in data["outputs"]] == outputs
    assert sum(layer["params"] for layer in data["layers"]) == total
    for layer in data["layers"]:
        assert set(layer) >= {"name", "type", "inputs", "output_shape", "params"}
        assert layer["output_shape"][0] is None


def test_seed_layer_table_matches_keras_printout_of_seed_003():
    # the seed's own model.summary() rows: conv2d 320, conv2d_1 18496, dense 313700, dense_1 1010
    layers = {layer["name"]: layer for layer in summarize(archspec.load(SPECS / "fashion_cnn.yaml"))["layers"]}
    assert layers["conv2d"]["output_shape"] == [None, 28, 28, 32] and layers["conv2d"]["params"] == 320
    assert layers["conv2d_1"]["output_shape"] == [None, 14, 14, 64] and layers["conv2d_1"]["params"] == 18_496
    assert layers["dense"]["params"] == 313_700 and layers["dense_1"]["params"] == 1_010
    assert layers["flatten"]["output_shape"] == [None, 3136]


def test_seed_001_summary_rows():
    layers = summarize(archspec.load(SPECS / "mnist_cnn.yaml"))["layers"]
    assert [(l["name"], l["output_shape"], l["params"]) for l in layers] == [
        ("conv", [None, 26, 26, 32], 320),
        ("pool", [None, 13, 13, 32], 0),
        ("flatten", [None, 5408], 0),
        ("dense", [None, 10], 54_090),
    ]


def test_macs_of_a_conv_and_a_dense_layer():
    layers = {l["name"]: l for l in summarize(archspec.load(SPECS / "mnist_cnn.yaml"))["layers"]}
    assert layers["conv"]["macs"] == 26 * 26 * 32 * 3 * 3 * 1
    assert layers["dense"]["macs"] == 5408 * 10


def keras_layer_table(model):
    import keras

    rows = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = layer.output.shape
        rows[layer.name] = (list(shape), layer.count_params(),
                            sum(int(w.numpy().size) for w in layer.non_trainable_weights))
    return rows


def archspec_layer_table(spec):
    from archspec.backends.keras import keras_name

    return {keras_name(l["name"]): (l["output_shape"], l["params"], l["non_trainable_params"])
            for l in summarize(spec)["layers"]}


@needs_keras
@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_spec_matches_keras_layer_by_layer(path):
    spec = archspec.load(path)
    model = archspec.build(spec, "keras")
    assert model.count_params() == spec.total_params
    assert archspec_layer_table(spec) == keras_layer_table(model)


@needs_keras
@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50", "vgg16"])
def test_keras_applications_layer_by_layer(name):
    import keras

    builder = {"resnet50": keras.applications.ResNet50, "vgg16": keras.applications.VGG16}[name]
    reference = builder(weights=None)
    spec = archspec.load(spec_path(name))
    ours = summarize(spec)
    assert ours["total_params"] == reference.count_params()
    theirs = [(list(l.output.shape), l.count_params()) for l in reference.layers
              if not isinstance(l, keras.layers.InputLayer)]
    mine = [(l["output_shape"], l["params"]) for l in ours["layers"]]
    # same layers; keras.applications orders a block's shortcut branch differently, so compare as multisets
    assert sorted(map(str, mine)) == sorted(map(str, theirs))
    assert len(mine) == len(theirs)


ODD_SIZES = """
name: odd_sizes
input_shape: [13, 11, 3]
layers:
  - {type: Conv2D, filters: 8, kernel_size: 3, strides: 2, padding: same}
  - {type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}
  - {type: Conv2D, filters: 6, kernel_size: [4, 2], strides: [2, 3], padding: same}
  - {type: AveragePooling2D, pool_size: 2, padding: same}
  - {type: ZeroPadding2D, padding: [[1, 0], [2, 3]]}
  - {type: Conv2D, filters: 5, kernel_size: 2, padding: valid}
  - {type: BatchNormalization}
  - {type: Flatten}
  - {type: Dense, units: 4}
"""

@needs_keras
@pytest.mark.parametrize("text", [ODD_SIZES, TWO_IN_TWO_OUT], ids=["odd_sizes", "two_in_two_out"])
def test_specs_written_by_others_match_keras(text):
    spec = archspec.loads(text)
    model = archspec.build(spec, "keras")
    assert archspec_layer_table(spec) == keras_layer_table(model)
    assert model.count_params() == spec.total_params


BROKEN_FOR_KERAS_TOO = [
    ("input_shape: [4, 4, 1]\nlayers:\n  - {type: Conv2D, filters: 2, kernel_size: 5}\n",
     lambda k: k.Sequential([k.Input((4, 4, 1)), k.layers.Conv2D(2, 5)])),
    ("input_shape: [3, 3, 1]\nlayers:\n  - {type: MaxPooling2D, pool_size: 4}\n",
     lambda k: k.Sequential([k.Input((3, 3, 1)), k.layers.MaxPooling2D(4)])),
    ("input_shape: [8]\nlayers:\n  - {type: Conv2D, filters: 2, kernel_size: 1}\n",
     lambda k: k.Sequential([k.Input((8,)), k.layers.Conv2D(2, 1)])),
    ("input_shape: [6]\nlayers:\n  - {type: Reshape, target_shape: [4, -1]}\n",
     lambda k: k.Sequential([k.Input((6,)), k.layers.Reshape((4, -1))])),
]


@needs_keras
@pytest.mark.parametrize("text, keras_builder", BROKEN_FOR_KERAS_TOO)
def test_broken_specs_are_refused_like_keras_refuses_them(text, keras_builder):
    import keras

    with pytest.raises(archspec.ArchspecError):
        archspec.loads(text)
    with pytest.raises(Exception):
        keras_builder(keras)
