"""ONNX exports from both backends, run in onnxruntime: same numbers, names, metadata, batch sizes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import archspec
from archspec.data.sources import PIMA_CSV
from archspec.check import sample_inputs
from archspec.cli import app
from archspec.export.onnx import export_onnx, spec_sha256
from archspec.onnx import Session
from archspec.weights import init_weights, write_weights
from conftest import SPECS, needs_both, randomize_batch_norm

pytestmark = needs_both
runner = CliRunner()

ODD_TWO_IN_TWO_OUT = """
name: odd_two_in_two_out
inputs:
  - {name: image, shape: [13, 11, 3]}
  - {name: meta, shape: [5]}
layers:
  - {type: Conv2D, filters: 6, kernel_size: 3, strides: 2, padding: same, activation: relu, inputs: image}
  - {type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}
  - {type: AveragePooling2D, pool_size: 2, padding: same}
  - {type: BatchNormalization}
  - {type: Flatten, name: flat}
  - {type: Dense, units: 4, activation: gelu, inputs: meta, name: meta_dense}
  - {type: Concatenate, inputs: [flat, meta_dense], name: joined}
  - {type: Dense, units: 3, activation: softmax, name: label}
  - {type: Dense, units: 1, activation: sigmoid, inputs: joined, name: score}
outputs: [label, score]
classes: [a, b, c]
"""


def native_outputs(spec, weights, xs):
    from archspec.backends.keras import predict

    return predict(archspec.build(spec, "keras", weights=weights), xs)


# every spec in specs/ goes through both exporters once, in test_equivalence's `archspec check` test


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_boundary_names_layout_metadata_and_dynamic_batch(tmp_path, backend):
    import onnx

    spec = archspec.loads(ODD_TWO_IN_TWO_OUT)
    weights = init_weights(spec, 2, randomize_statistics=True)
    file = export_onnx(spec, weights, tmp_path / "m.onnx", backend=backend)
    model = onnx.load(str(file))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["image", "meta"]
    assert [o.name for o in model.graph.output] == ["label", "score"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]] == [13, 11, 3]  # NHWC
    session = Session(file)
    meta = session.metadata
    assert meta["spec_name"] == "odd_two_in_two_out" and meta["backend"] == backend and meta["opset"] == "18"
    assert meta["data_format"] == "channels_last" and json.loads(meta["input_layout"]) == {"image": "NHWC", "meta": "NF"}
    assert meta["spec_sha256"] == spec_sha256(spec) and meta["archspec_version"] == archspec.__version__
    assert session.classes == ["a", "b", "c"]
    for batch in (1, 7, 64):
        xs = sample_inputs(spec, batch, batch)
        got = session.predict(*xs)
        assert [g.shape for g in got] == [(batch, 3), (batch, 1)]
        for a, b in zip(got, native_outputs(spec, weights, xs)):
            np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_resnet50_with_keras_weights_through_export_onnx(tmp_path, backend):

    spec = archspec.load(SPECS / "keras_applications" / "resnet50.yaml")
    model = archspec.build(spec, "keras")
    randomize_batch_norm(model)
    archspec.save_weights(model, tmp_path / "w.safetensors")
    out = tmp_path / "resnet50.onnx"
    result = runner.invoke(app, ["export", "onnx", str(SPECS / "keras_applications" / "resnet50.yaml"), "-b", backend,
                                 "-w", str(tmp_path / "w.safetensors"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    x = np.random.default_rng(1).uniform(size=(2, 224, 224, 3)).astype(np.float32)
    np.testing.assert_allclose(Session(out).predict(x)[0], np.asarray(model(x, training=False)), atol=1e-5, rtol=0)


def test_check_includes_both_onnx_paths():
    result = runner.invoke(app, ["check", str(SPECS / "mnist_concat.yaml"), "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["passed"]
    assert {(p["a"], p["b"]) for p in data["pairs"]} >= {("keras", "onnx:keras"), ("torch", "onnx:torch"),
                                                          ("onnx:keras", "onnx:torch")}
    assert len(data["pairs"]) == 6


def test_export_after_train_defaults_to_runs_latest(tmp_path, monkeypatch):
    from archspec.train.run import train

    monkeypatch.chdir(tmp_path)
    run, metrics = train(SPECS / "lego_8x8.yaml", "torch", epochs=2)
    result = runner.invoke(app, ["export", "onnx"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "exports" / "lego_8x8.onnx").is_file()
    evaluated = runner.invoke(app, ["evaluate", "runs/latest", "--onnx", "exports/lego_8x8.onnx", "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    ort_metrics = json.loads(evaluated.stdout)
    assert ort_metrics["test_accuracy"] == metrics["test_accuracy"]
    assert abs(ort_metrics["test_loss"] - metrics["test_loss"]) < 1e-5


def test_predict_on_images_npy_and_csv(tmp_path):
    from PIL import Image

    spec = archspec.load(SPECS / "mnist_cnn.yaml")
    file = export_onnx(spec, init_weights(spec, 0), tmp_path / "mnist_cnn.onnx")
    Image.fromarray(np.zeros((40, 30, 3), np.uint8)).save(tmp_path / "rgb.png")  # resized and made grey
    np.save(tmp_path / "batch.npy", np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32))
    result = runner.invoke(app, ["predict", str(file), str(tmp_path / "rgb.png"), str(tmp_path / "batch.npy"),
                                 "--top-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["predictions"]) == 5 and data["spec"] == "mnist_cnn"
    top = data["predictions"][0]["outputs"][0]["top"]
    assert len(top) == 2 and top[0]["label"] in [str(i) for i in range(10)] and top[0]["probability"] >= top[1]["probability"]

    pima = archspec.load(SPECS / "pima_mlp.yaml")
    file = export_onnx(pima, init_weights(pima, 0), tmp_path / "pima.onnx", extra_metadata={
        "standardize": {"mean": [0.0] * 8, "std": [1.0] * 8}})
    rows = PIMA_CSV
    result = runner.invoke(app, ["predict", str(file), str(rows), "--json"])
    assert result.exit_code == 0, result.output
    predictions = json.loads(result.stdout)["predictions"]
    assert len(predictions) == 768
    assert predictions[0]["outputs"][0]["top"][0]["label"] in ("no diabetes", "diabetes")


def test_predict_bad_inputs(tmp_path):
    spec = archspec.load(SPECS / "mnist_cnn.yaml")
    file = export_onnx(spec, init_weights(spec, 0), tmp_path / "m.onnx")
    np.save(tmp_path / "wrong.npy", np.zeros((2, 27, 28, 1), np.float32))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("hello")
    for path, message in [("wrong.npy", "does not fit input shape [28, 28, 1]"), ("bad.png", "not a readable image"),
                          ("notes.txt", "unsupported input file"), ("missing.png", "input file not found")]:
        result = runner.invoke(app, ["predict", str(file), str(tmp_path / path)])
        assert result.exit_code == 2, (path, result.output)
        assert message in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["predict", str(tmp_path / "nope.onnx"), str(tmp_path / "wrong.npy")])
    assert result.exit_code == 2 and "model file not found" in result.output
    with pytest.raises(archspec.ArchspecError, match="takes samples of shape"):
        Session(file).predict(np.zeros((2, 28, 28, 3), np.float32))


def test_predict_imports_neither_framework(tmp_path):
    spec = archspec.load(SPECS / "pima_mlp.yaml")
    file = export_onnx(spec, init_weights(spec, 0), tmp_path / "pima.onnx")
    np.save(tmp_path / "x.npy", np.zeros((3, 8), np.float32))
    code = (
        "import sys; from typer.testing import CliRunner; from archspec.cli import app;"
        f"r = CliRunner().invoke(app, ['predict', {str(file)!r}, {str(tmp_path / 'x.npy')!r}]);"
        "assert r.exit_code == 0, r.output;"
        "bad = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_export_errors(tmp_path):
    result = runner.invoke(app, ["export", "onnx", str(tmp_path / "runs" / "latest")])
    assert result.exit_code == 2 and "no such spec file or run directory" in result.output
    result = runner.invoke(app, ["export", "onnx", str(SPECS / "pima_mlp.yaml"), "--opset", "9", "-o",
                                 str(tmp_path / "x.onnx")])
    assert result.exit_code == 2 and "supported opsets" in result.output
    spec = archspec.load(SPECS / "pima_mlp.yaml")
    weights = init_weights(spec, 0)
    weights["dense/kernel"] = np.zeros((8, 3), np.float32)
    write_weights(weights, tmp_path / "bad.safetensors")
    result = runner.invoke(app, ["export", "onnx", str(SPECS / "pima_mlp.yaml"), "-w", str(tmp_path / "bad.safetensors"),
                                 "-o", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2 and "dense/kernel" in result.output
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_keras_written_weights_through_export_onnx_cli(tmp_path, backend):
    """Weights written by Keras itself (its own initialisation, random BN statistics) -> export -> ORT == Keras."""

    spec_file = tmp_path / "odd.yaml"
    spec_file.write_text(ODD_TWO_IN_TWO_OUT)
    spec = archspec.load(spec_file)
    model = archspec.build(spec, "keras")
    randomize_batch_norm(model, seed=3, spread=0.2)
    archspec.save_weights(model, tmp_path / "w.safetensors")
    out = tmp_path / "odd.onnx"
    result = runner.invoke(app, ["export", "onnx", str(spec_file), "-b", backend, "-w", str(tmp_path / "w.safetensors"),
                                 "-o", str(out), "--simplify"])
    assert result.exit_code == 0, result.output
    xs = sample_inputs(spec, 5, 7)
    expected = [np.asarray(o) for o in model(xs, training=False)]
    for got, want in zip(Session(out).predict(*xs), expected):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_an_exporter_that_cannot_convert_is_reported_not_fatal(tmp_path):
    spec_file = tmp_path / "antialiased.yaml"  # tf2onnx has no op for TensorFlow's antialiased resize
    spec_file.write_text("input_shape: [8, 8, 4]\nlayers:\n"
                         "  - {type: Resizing, height: 5, width: 5, antialias: true}\n"
                         "  - {type: GlobalAveragePooling2D}\n")
    result = runner.invoke(app, ["check", str(spec_file), "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["passed"]
    assert "onnx:torch" in data["paths"] and "onnx:keras" not in data["paths"]
    assert "tf2onnx" in data["skipped"]["onnx:keras"]
    result = runner.invoke(app, ["export", "onnx", str(spec_file), "-b", "keras", "-o", str(tmp_path / "a.onnx")])
    assert result.exit_code == 2 and "try --backend torch" in result.output
    assert not (tmp_path / "g.onnx").exists()


def test_torch_exports_below_opset_18_use_the_torchscript_exporter(tmp_path):
    spec = archspec.loads(ODD_TWO_IN_TWO_OUT)
    weights = init_weights(spec, 4, randomize_statistics=True)
    session = Session(export_onnx(spec, weights, tmp_path / "m.onnx", backend="torch", opset=17))
    assert session.metadata["opset"] == "17"
    xs = sample_inputs(spec, 3, 0)
    for a, b in zip(session.predict(*xs), native_outputs(spec, weights, xs)):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


# a text CNN over sequences of any length: convolutions keep the free axis; torch.export specialises
# max_pool1d's length, so the torch exporter refuses rather than write a file that takes one length
TEXT_CNN = """
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, input_dim: 30, output_dim: 8}
  - {type: Conv1D, filters: 6, kernel_size: 3, padding: causal, activation: relu}
  - {type: SeparableConv1D, filters: 6, kernel_size: 3, padding: same}
  - {type: MaxPooling1D, pool_size: 2}
  - {type: GlobalMaxPooling1D}
  - {type: Dense, units: 2}
"""


@needs_both
def test_free_axis_convolutions_export_or_are_refused(tmp_path):
    from archspec.backends.torch import build_model, predict

    spec = archspec.loads(TEXT_CNN)
    weights = init_weights(spec, seed=2)
    with pytest.raises(archspec.ArchspecError, match="fixed the free axis 1 of input 'tokens'"):
        export_onnx(spec, weights, tmp_path / "t.onnx", backend="torch")
    assert not (tmp_path / "t.onnx").exists()
    session = Session(export_onnx(spec, weights, tmp_path / "k.onnx", backend="keras"))
    model = build_model(spec, weights)
    for length in (4, 19):
        tokens = np.random.default_rng(length).integers(1, 30, (3, length)).astype("int32")
        assert np.allclose(session.predict(tokens)[0], predict(model, [tokens])[0], atol=1e-5)
    convolutions_only = archspec.loads(TEXT_CNN.replace("  - {type: MaxPooling1D, pool_size: 2}\n", ""))
    exported = Session(export_onnx(convolutions_only, init_weights(convolutions_only, seed=2), tmp_path / "c.onnx"))
    model = build_model(convolutions_only, init_weights(convolutions_only, seed=2))
    tokens = np.random.default_rng(0).integers(1, 30, (2, 23)).astype("int32")
    assert np.allclose(exported.predict(tokens)[0], predict(model, [tokens])[0], atol=1e-5)
