"""`archspec import keras` and `archspec weights import`: Keras models in, readable specs and
neutral weights out, proved to compute what the original computes.

Fast tier: a keras.io-style functional model (a nested Sequential, tensor arithmetic, a
regularizer, two inputs), a legacy .h5, the seed specs built and saved by Keras, hostile files,
weights onto a hand-written spec. Slow tier: every keras.applications constructor against the
spec archspec ships for it, numeric round trips at unusual sizes and class counts, ResNet50's
length and its weights onto specs/keras_applications/resnet50.yaml.
"""

from __future__ import annotations

import pickle
import zipfile
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

import archspec
from archspec.cli import app
from archspec.errors import ArchspecError
from archspec.summary import summarize
from conftest import ROOT, SEED_SPECS, needs_both, needs_keras

runner = CliRunner()
APPS_DIR = ROOT / "specs" / "keras_applications"


def run(*args):
    result = runner.invoke(app, list(map(str, args)))
    assert "Traceback" not in result.output, result.output
    return result


def _keras_io_model():
    """The kind of model keras.io's examples write: two inputs, a nested Sequential, a residual
    written as `x + y`, a scale written as `x * 0.5`, Dropout, an L2 regularizer, Concatenate."""
    import keras
    from keras import layers

    image = keras.Input((12, 10, 3), name="image")
    meta = keras.Input((4,), name="meta")
    stem = keras.Sequential([layers.Conv2D(8, 3, padding="same", activation="relu"),
                             layers.BatchNormalization()], name="stem")
    x = stem(image)
    y = layers.Conv2D(8, 3, padding="same", name="branch")(x)
    x = layers.Activation("relu")(x + y) * 0.5
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.3)(layers.GlobalAveragePooling2D()(x))
    m = layers.Dense(6, activation="tanh", kernel_regularizer="l2", name="meta_dense")(meta)
    joined = layers.Concatenate()([x, m])
    label = layers.Dense(5, activation="softmax", name="label")(joined)
    score = layers.Dense(1, activation="sigmoid", name="score")(joined)
    return keras.Model([image, meta], [label, score], name="keras_io")


def _randomize(model) -> None:
    import keras

    rng = np.random.default_rng(0)
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if i in (0, 3) else rng.normal(0, 0.2, w.shape)
                               for i, w in enumerate(layer.get_weights())])


@needs_both
def test_keras_io_functional_model_imports_and_loads(tmp_path):
    model = _keras_io_model()
    _randomize(model)
    model.save(tmp_path / "m.keras")
    spec_path, weights_path = tmp_path / "m.yaml", tmp_path / "m.safetensors"
    result = run("import", "keras", tmp_path / "m.keras", "-o", spec_path, "--weights", weights_path)
    assert result.exit_code == 0, result.output
    assert "max |diff|" in result.output and "kernel_regularizer is dropped" in result.output
    spec = archspec.load(spec_path)
    assert spec.total_params == model.count_params()
    assert [i.name for i in spec.inputs] == ["image", "meta"] and spec.outputs == ["label", "score"]
    assert {n.type for n in spec.nodes} >= {"Add", "Rescaling", "Concatenate"}  # x + y, x * 0.5
    text = spec_path.read_text()
    assert "stem/" not in text and "glorot_uniform" not in text  # flattened; defaults left out

    rng = np.random.default_rng(1)
    x = [rng.uniform(0, 1, (3, 12, 10, 3)).astype("float32"), rng.normal(0, 1, (3, 4)).astype("float32")]
    expected = [np.asarray(o) for o in model(x, training=False)]
    keras_model = archspec.build(spec, "keras")
    archspec.set_weights(keras_model, archspec.api.read_weights(weights_path, spec))
    for got, want in zip(keras_model(x, training=False), expected):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-5, rtol=0)
    import torch

    with torch.no_grad():
        torch_out = archspec.build(spec, "torch", weights=weights_path)(*map(torch.from_numpy, x))
    for got, want in zip(torch_out, expected):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-5, rtol=0)


@needs_keras
def test_legacy_h5_imports(tmp_path):
    """Keras cannot load back its own legacy .h5 of a model with tensor arithmetic (`x + y`), so
    the proof could not run on `_keras_io_model`: this one writes its merges as layers."""
    import keras
    from keras import layers

    inputs = keras.Input((9, 3), name="series")
    stem = keras.Sequential([layers.Conv1D(6, 3, padding="causal", activation="relu"), layers.BatchNormalization()],
                            name="stem")
    x = stem(inputs)
    x = layers.Add()([x, layers.Conv1D(6, 1, name="skip")(inputs)])
    outputs = layers.Dense(2)(layers.GlobalMaxPooling1D()(x))
    model = keras.Model(inputs, outputs)
    _randomize(model)
    model.save(tmp_path / "m.h5")
    result = run("import", "keras", tmp_path / "m.h5", "-o", tmp_path / "m.yaml", "-w", tmp_path / "m.safetensors")
    assert result.exit_code == 0, result.output
    assert archspec.load(tmp_path / "m.yaml").total_params == model.count_params()


SEEDS_FAST = {"mnist_digit_odd", "resnet_cifar"}  # two outputs; blocks with repeat


@needs_keras
@pytest.mark.parametrize("path", [pytest.param(p, marks=() if p.stem in SEEDS_FAST else pytest.mark.slow, id=p.stem)
                                  for p in SEED_SPECS])
def test_seed_specs_round_trip_through_a_keras_file(path, tmp_path):
    """A seed spec built by archspec in Keras and saved as .keras imports back to the same
    summary and the same function."""
    from archspec.importers.keras import import_keras

    original = archspec.load(path)
    if original.base is not None:
        pytest.skip("a transfer-learning spec's Keras model is its base plus a head; covered by its base")
    archspec.build(original, "keras", seed=0).save(tmp_path / "m.keras")
    result = import_keras(str(tmp_path / "m.keras"), tmp_path / "m.yaml", tmp_path / "m.safetensors")
    assert result.passed, result.max_abs_diff
    imported = archspec.load(tmp_path / "m.yaml")
    ours, theirs = summarize(imported), summarize(original)
    for key in ("total_params", "trainable_params", "non_trainable_params", "macs"):
        assert ours[key] == theirs[key], key
    assert _layer_facts(imported) == _layer_facts(original)  # as multisets: Keras orders branches its own way


# ---------------------------------------------------------------- hostile and broken inputs


@needs_keras
def test_a_lambda_layer_is_refused_without_running_it(tmp_path):
    import keras

    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda t: t * 2, name="double")(keras.layers.Dense(3)(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    result = run("import", "keras", tmp_path / "lambda.keras", "-o", tmp_path / "out.yaml")
    assert result.exit_code == 2
    assert "double" in result.output and "Lambda" in result.output and "does not run code" in result.output
    assert not (tmp_path / "out.yaml").exists()


@needs_keras
def test_an_unknown_custom_class_is_refused(tmp_path):
    import keras

    @keras.saving.register_keras_serializable(package="mine")
    class Twice(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    inputs = keras.Input((4,))
    keras.Model(inputs, Twice(name="twice")(inputs)).save(tmp_path / "custom.keras")
    result = run("import", "keras", tmp_path / "custom.keras", "-o", tmp_path / "out.yaml")
    assert result.exit_code == 2 and "twice" in result.output and "Twice" in result.output


def test_broken_and_foreign_files_are_refused(tmp_path):
    archive = tmp_path / "good.keras"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("config.json", '{"class_name": "Sequential", "config": {"layers": []}}')
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 4000)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(archive.read_bytes()[:300])
    not_zip = tmp_path / "notes.keras"
    not_zip.write_text("just text\n")
    pickled = tmp_path / "model.keras"
    pickled.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    pickled_h5 = tmp_path / "model.h5"
    pickled_h5.write_bytes(pickle.dumps([1.0]))
    cases = {truncated: "truncated", not_zip: "not a Keras model file", pickled: "pickle", pickled_h5: "pickle",
             archive: "", tmp_path / "missing.keras": "no such file"}
    for path, words in cases.items():
        result = run("import", "keras", path, "-o", tmp_path / "out.yaml")
        assert result.exit_code == 2, (path.name, result.output)
        assert words in result.output, (path.name, result.output)
    assert not (tmp_path / "out.yaml").exists()


def test_unknown_application_is_refused_with_a_suggestion(tmp_path):
    pytest.importorskip("keras")
    result = run("import", "keras", "keras.applications.ResNet51", "-o", tmp_path / "x.yaml")
    assert result.exit_code == 2 and "ResNet50" in result.output


# ---------------------------------------------------------------- the emitter on its own


def test_folding_keeps_the_graph_and_rekeys_the_weights():
    """Three identical residual blocks (names as keras.applications writes them) fold into one
    block used with repeat; the weights follow the layers to their new names."""
    from archspec.importers.emit import emit
    from archspec.importers.graph import ImportedGraph, ImportedInput, ImportedLayer

    layers, previous, weights = [], "pixels", {}
    rng = np.random.default_rng(0)
    for b in range(1, 4):
        p = f"stage_block{b}_"
        layers += [
            ImportedLayer(p + "conv", "Conv2D", {"filters": 4, "kernel_size": [3, 3], "padding": "same"}, [previous]),
            ImportedLayer(p + "bn", "BatchNormalization", {"epsilon": 1e-3}, [p + "conv"]),
            ImportedLayer(p + "add", "Add", {}, [previous, p + "bn"]),
            ImportedLayer(p + "out", "Activation", {"activation": "relu"}, [p + "add"]),
        ]
        weights[p + "conv/kernel"] = rng.normal(size=(3, 3, 4, 4)).astype("float32")
        weights[p + "conv/bias"] = rng.normal(size=4).astype("float32")
        for v in ("gamma", "beta", "moving_mean", "moving_variance"):
            weights[f"{p}bn/{v}"] = rng.uniform(0.5, 1, 4).astype("float32")
        previous = p + "out"
    graph = ImportedGraph("tiny", "channels_last", [ImportedInput("pixels", (6, 6, 4))], layers, [previous], weights)
    folded, flat = emit(graph), emit(graph, fold=False)
    assert folded.folded and "repeat: 3" in folded.text and folded.lines < flat.lines
    x = rng.uniform(0, 1, (2, 6, 6, 4)).astype("float32")
    from archspec.backends.torch import build_model, predict

    got = predict(build_model(folded.spec, folded.weights), [x])[0]
    want = predict(build_model(flat.spec, flat.weights), [x])[0]
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert set(folded.names) == {layer.name for layer in layers}
    assert all(folded.names[layer.name].startswith("stage_block_") for layer in layers)


# ---------------------------------------------------------------- weights import


SMALL_SPEC = """
name: small
inputs: [{name: image, shape: [12, 10, 3]}, {name: meta, shape: [4]}]
layers:
  - {type: Conv2D, filters: 8, kernel_size: 3, padding: same, activation: relu, name: c1, inputs: image}
  - {type: BatchNormalization, name: n1}
  - {type: Conv2D, filters: 8, kernel_size: 3, padding: same, name: branch}
  - {type: Add, inputs: [n1, branch]}
  - {type: Activation, activation: relu}
  - {type: Rescaling, scale: 0.5}
  - {type: MaxPooling2D, pool_size: 2}
  - {type: GlobalAveragePooling2D}
  - {type: Dropout, rate: 0.3, name: pooled}
  - {type: Dense, units: 6, activation: tanh, inputs: meta, name: meta_dense}
  - {type: Concatenate, inputs: [pooled, meta_dense], name: joined}
  - {type: Dense, units: 5, activation: softmax, name: head}
  - {type: Dense, units: 1, activation: sigmoid, name: score, inputs: joined}
outputs: [head, score]
"""


@needs_keras
def test_weights_import_by_name_then_position(tmp_path):
    model = _keras_io_model()
    _randomize(model)
    model.save(tmp_path / "m.keras")
    spec_path = tmp_path / "small.yaml"
    spec_path.write_text(SMALL_SPEC)
    result = run("weights", "import", tmp_path / "m.keras", "--spec", spec_path, "-o", tmp_path / "w.safetensors")
    assert result.exit_code == 0, result.output
    assert "3 layers matched by name, 3 by position" in result.output  # branch meta_dense score; c1 n1 head
    spec = archspec.load(spec_path)
    x = [np.random.default_rng(2).uniform(0, 1, (2, 12, 10, 3)).astype("float32"),
         np.random.default_rng(3).normal(0, 1, (2, 4)).astype("float32")]
    got = archspec.build(spec, "keras", weights=tmp_path / "w.safetensors")(x, training=False)
    for a, b in zip(got, model(x, training=False)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=0)

    spec_path.write_text(SMALL_SPEC.replace("units: 5, activation: softmax", "units: 7, activation: softmax"))
    result = run("weights", "import", tmp_path / "m.keras", "--spec", spec_path, "-o", tmp_path / "w2.safetensors")
    assert result.exit_code == 2 and "head/kernel [14, 7]" in result.output and "label/kernel [14, 5]" in result.output
    assert not (tmp_path / "w2.safetensors").exists()


# ---------------------------------------------------------------- keras.applications (slow)


def _layer_facts(spec) -> tuple[Counter, dict]:
    summary = summarize(spec)
    facts = Counter((layer["type"], int(layer["params"]), tuple(layer["output_shape"])) for layer in summary["layers"])
    totals = {k: summary[k] for k in ("total_params", "trainable_params", "non_trainable_params", "macs")}
    return facts, totals


@pytest.mark.slow
@needs_both
@pytest.mark.parametrize("name, args", [
    ("MobileNetV3Small", ["input_shape=[96,96,3]", "classes=7"]),
    ("EfficientNetB0", ["input_shape=[64,80,3]", "classes=3"]),
    ("DenseNet121", ["input_shape=[64,64,3]", "classes=11", "pooling=max"]),
    ("ConvNeXtTiny", ["input_shape=[64,64,3]", "classes=5"]),
], ids=["mobilenet_v3_small", "efficientnet_b0", "densenet121", "convnext_tiny"])
def test_applications_at_unusual_sizes_give_the_same_outputs(name, args, tmp_path):
    argv = [x for a in args for x in ("--arg", a)]
    if name == "MobileNetV3Small":  # the four paths too, on the smallest
        argv.append("--check")
    result = run("import", "keras", f"keras.applications.{name}", "-o", tmp_path / "m.yaml",
                 "-w", tmp_path / "m.safetensors", *argv)
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and ("--check" not in argv or "passed: max |diff|" in result.output)
    spec = archspec.load(tmp_path / "m.yaml")
    assert spec.outputs and summarize(spec)["layers"][-1]["output_shape"][-1] == int(args[1].split("=")[1])


@pytest.mark.slow
@needs_both
def test_resnet50_reads_like_the_hand_written_spec(tmp_path):
    import keras

    # one set of weights for both commands (each build with weights=None draws its own)
    keras.applications.ResNet50(weights=None).save_weights(tmp_path / "mine.weights.h5")
    mine = ["--weights-from", tmp_path / "mine.weights.h5"]
    result = run("import", "keras", "keras.applications.ResNet50", "-o", tmp_path / "r.yaml",
                 "-w", tmp_path / "r.safetensors", *mine)  # --check: tf2onnx needs 9 GB for ResNet50
    assert result.exit_code == 0, result.output
    text = (tmp_path / "r.yaml").read_text()
    assert text.count("\n") < 120 and "repeat: 5" in text
    flat = run("import", "keras", "keras.applications.ResNet50", "-o", tmp_path / "flat.yaml", "--flat")
    assert flat.exit_code == 0 and (tmp_path / "flat.yaml").read_text().count("\n") > 170

    # the same weights onto the hand-written spec, whose names differ
    result = run("weights", "import", "keras.applications.ResNet50", "--spec", APPS_DIR / "resnet50.yaml",
                 "-o", tmp_path / "hand.safetensors", *mine)
    assert result.exit_code == 0, result.output
    hand = archspec.load(APPS_DIR / "resnet50.yaml")
    imported = archspec.load(tmp_path / "r.yaml")
    x = np.random.default_rng(0).uniform(0, 1, (1, 224, 224, 3)).astype("float32")
    a = archspec.build(hand, "keras", weights=tmp_path / "hand.safetensors")(x)
    b = archspec.build(imported, "keras", weights=tmp_path / "r.safetensors")(x)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6, rtol=0)


def test_import_errors_are_archspec_errors():
    from archspec.importers.keras import read_keras

    with pytest.raises(ArchspecError, match="--arg is for keras.applications"):
        read_keras("model.keras", args={"classes": 3})


@needs_keras
def test_recurrent_and_wrapped_layers_import(tmp_path):
    """Variables kept in sub-layers (an LSTM's cell, Bidirectional's two layers) reach the right keys."""
    from archspec.layers import list_layers

    if not {"LSTM", "Bidirectional"} <= set(list_layers()):
        pytest.skip("LSTM / Bidirectional are not archspec layer types yet")
    import keras
    from keras import layers

    inputs = keras.Input((7, 3))
    x = layers.Bidirectional(layers.LSTM(4, return_sequences=True), name="bi")(inputs)
    outputs = layers.Dense(2)(layers.LSTM(5, name="enc")(x))
    keras.Model(inputs, outputs).save(tmp_path / "rnn.keras")
    result = run("import", "keras", tmp_path / "rnn.keras", "-o", tmp_path / "rnn.yaml", "-w", tmp_path / "rnn.safetensors")
    assert result.exit_code == 0, result.output
    keys = set(archspec.api.read_weights(tmp_path / "rnn.safetensors"))
    assert "enc/lstm_cell/recurrent_kernel" in keys and any(k.startswith("bi/backward_") for k in keys)
