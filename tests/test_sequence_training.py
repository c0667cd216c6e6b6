"""Sequences end to end: windows of a series or a text split in time order, the four sequence specs
training the same in both backends, `archspec generate`, and `archspec predict` on token lines,
ids, series and multi-input models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import archspec
from archspec.cli import app
from archspec.data import load_data
from archspec.data.sequences import ASCII, python_docs, sunspots
from archspec.errors import ArchspecError
from archspec.train.config import Training
from conftest import SPECS, TWO_IN_TWO_OUT, needs_both, needs_torch

runner = CliRunner()

SUNSPOTS = SPECS / "sunspots_forecast.yaml"
CHAR = SPECS / "char_transformer.yaml"
SEQUENCE_SPECS = ["sunspots_forecast", "mnist_rows_lstm", "vit_mnist", "char_transformer"]

# a small forecaster of 2 values from 5, on a CSV series written by the test
FORECAST = """
name: forecast
input_shape: [5]
layers:
  - {type: Dense, units: 4, activation: tanh}
  - {type: Dense, units: 2, name: out}
training:
  targets: {out: next_value}
  windows: {column: load}
  loss: mse
  metrics: [mae]
"""

TEXT = ("Assert statements are a convenient way to insert debugging assertions into a program.\n"
        "The simple form, assert expression, is equivalent to if not expression: raise AssertionError.\n") * 6


def sequence_data(spec, source, **options):
    training = Training.model_validate(spec.training.model_dump())
    options = {"test_split": training.test_split, "validation_split": training.validation_split, **options}
    return load_data(source, spec, targets=training.targets, windows=training.windows, **options)


# ------------------------------------------------------------------ data


def test_sunspot_windows_follow_time_and_are_scaled_by_the_training_years():
    spec = archspec.load(SUNSPOTS)
    data = sequence_data(spec, "sunspots")
    info, raw = data.sequence, sunspots()
    years = [split.extras["time"] for split in (data.train, data.val, data.test)]
    assert all(np.all(np.diff(y) == 1) for y in years)  # consecutive years, in order, never shuffled
    assert years[0][0] == 1700 + 24 and years[0][-1] < years[1][0] and years[1][-1] < years[2][0]
    assert years[2][-1] == 2008 and len(data.test) == round(len(raw.values[24:]) * 0.15)
    assert data.train.x[0].shape[1:] == (24, 1) and data.train.labels.shape[1:] == (1,)
    # the scale is the training years' (inputs and targets), stated in the run's `sequence`
    seen = raw.values[: int(years[0][-1]) - 1700 + 1]
    assert (info["mean"], info["std"]) == pytest.approx((seen.mean(), seen.std()))
    first = int(years[2][0]) - 1700  # the first test window: the 24 years before its target year
    np.testing.assert_allclose(data.test.x[0][0, :, 0] * info["std"] + info["mean"], raw.values[first - 24: first],
                               rtol=1e-5)
    assert data.test.labels[0, 0] * info["std"] + info["mean"] == pytest.approx(raw.values[first], rel=1e-5)
    limited = sequence_data(spec, "sunspots", limit=16)
    assert (len(limited.train), len(limited.test)) == (16, 4) and limited.sequence["mean"] == info["mean"]


def test_a_csv_series_keeps_each_split_s_targets_apart(tmp_path):
    values = np.round(np.sin(np.arange(60) / 3) * 10 + 20, 3)
    path = tmp_path / "load.csv"
    path.write_text("day,load\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    spec = archspec.loads(FORECAST)
    data = sequence_data(spec, path, test_split=0.2, validation_split=0.25)
    info = data.sequence
    assert info["unit"] == "load" and info["horizon"] == 2 and info["window"] == 5
    restore = lambda a: a * info["std"] + info["mean"]  # noqa: E731
    start = lambda split, k: int(split.extras["time"][k]) - 5  # noqa: E731  (time: the first target's step)
    for split in (data.train, data.val, data.test):
        for k in (0, -1):
            np.testing.assert_allclose(restore(split.x[0][k]), values[start(split, k): start(split, k) + 5], rtol=1e-5)
            np.testing.assert_allclose(restore(split.labels[k]), values[start(split, k) + 5: start(split, k) + 7],
                                       rtol=1e-5)
    # horizon 2: a window whose second target is the next split's first is dropped at each boundary
    assert data.train.extras["time"][-1] + 1 < data.val.extras["time"][0]
    assert data.val.extras["time"][-1] + 1 < data.test.extras["time"][0]
    assert data.test.extras["time"][-1] == 58

    (tmp_path / "two.csv").write_text("day,load\n1,2\n")
    (tmp_path / "bad.csv").write_text("load\n1\n2\nx\n")
    plain = archspec.loads(FORECAST.replace("  windows: {column: load}\n", ""))
    for source, check, message in [(tmp_path / "two.csv", plain, "choose the series with training.windows.column"),
                                   (tmp_path / "bad.csv", plain, "bad.csv:4: 'x' is not a number"),
                                   (tmp_path / "two.csv", spec, "1 values make 0 windows of 5 steps")]:
        with pytest.raises(ArchspecError, match=message):
            sequence_data(check, source)


def test_python_docs_windows_predict_the_next_character():
    spec = archspec.load(CHAR)
    data = sequence_data(spec, "python_docs")
    vocabulary = data.sequence["vocabulary"]
    assert vocabulary == list(ASCII) and len(vocabulary) == 96  # fixed, whatever Python's help topics hold
    x, y = data.train.x[0], data.train.labels
    assert x.shape[1:] == (64,) and x.dtype == np.int32 and y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])  # the target is the input, one character on
    text = python_docs()
    assert "".join(vocabulary[i] for i in x[0]) == text[:64] and vocabulary[y[0, -1]] == text[64]
    starts = [split.extras["time"] for split in (data.train, data.val, data.test)]
    # a window at s predicts characters s+1..s+64: each split's targets end before the next split's begin
    assert starts[0][-1] + 64 < starts[1][0] + 1 and starts[1][-1] + 64 < starts[2][0] + 1


def test_a_text_file_brings_its_own_vocabulary_and_a_run_keeps_it(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(TEXT)
    spec = archspec.load(CHAR)
    data = sequence_data(spec, path)
    assert data.sequence["vocabulary"] == sorted(set(TEXT)) and data.name == "notes"
    fitted = {"vocabulary": [c for c in data.sequence["vocabulary"] if c != "A"]}
    with pytest.raises(ArchspecError, match="1 character not in the vocabulary of .*'A'"):
        sequence_data(spec, path, fitted=fitted)


def test_mnist_rows_are_28_steps_of_28_pixels():
    data = load_data("mnist5k", archspec.load(SPECS / "mnist_rows_lstm.yaml"), limit=8)
    assert data.train.x[0].shape == (8, 28, 28) and data.train.x[0].dtype == np.float32
    assert data.train.x[0].max() <= 1.0 and data.sequence is None


@pytest.mark.parametrize("old, new, message", [
    ("targets: {forecast: next_value}", "targets: {forecast: next_values}", "'input', 'next_token' or 'next_value'"),
    ("targets: {forecast: next_value}", "targets: {}", "windows applies to the targets next_token and next_value"),
    ("windows: {horizon: 1, normalize: standard}", "windows: {horizon: 0}", "greater than or equal to 1"),
    ("windows: {horizon: 1, normalize: standard}", "windows: {normalise: standard}", "normalise"),
])
def test_bad_sequence_config_is_located_at_validation(tmp_path, old, new, message):
    text = SUNSPOTS.read_text()
    assert old in text
    (tmp_path / "bad.yaml").write_text(text.replace(old, new))
    result = runner.invoke(app, ["validate", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2, result.output
    assert "bad.yaml:" in result.output and message in " ".join(result.output.split())
    assert "Traceback" not in result.output


@needs_torch
@pytest.mark.parametrize("spec, old, new, message", [
    (SUNSPOTS, "targets: {forecast: next_value}\n  windows: {horizon: 1, normalize: standard}", "",
     "data 'sunspots' is a series"),
    (SUNSPOTS, "loss: mae", "loss: binary_crossentropy", "forecasts numbers: use mse or mae"),
    (SUNSPOTS, "windows: {horizon: 1,", "windows: {horizon: 3,", "horizon is 3, but output 'forecast' gives 1"),
    (SUNSPOTS, "data: sunspots", "data: python_docs", "is a text: its target is next_token"),
    (CHAR, "windows: {length: 64}", "windows: {stride: 64}", "set training.windows.length"),
    (CHAR, "dtype: int32", "dtype: float32", "integer input"),
    (CHAR, "units: 96, activation: softmax", "units: 90, activation: softmax", "vocabulary of 96 characters, but"),
    (CHAR, "input_dim: 96", "input_dim: 80", "takes ids below 80"),
])
def test_bad_sequence_setups_stop_training_with_exit_2(tmp_path, spec, old, new, message):
    text = spec.read_text()
    assert old in text
    (tmp_path / "bad.yaml").write_text(text.replace(old, new))
    result = runner.invoke(app, ["train", str(tmp_path / "bad.yaml"), "--epochs", "1", "--limit", "8",
                                 "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output


# ------------------------------------------------------------------ training in both backends


def train_both(tmp_path, spec, **options):
    from archspec.train.evaluate import read_history
    from archspec.train.run import train

    runs = {}
    for backend in ("torch", "keras"):
        run, metrics = train(spec, backend, epochs=1, run_dir=tmp_path / backend, **options)
        runs[backend] = (run, metrics, read_history(run))
    return runs


@needs_both
@pytest.mark.slow
@pytest.mark.parametrize("name", SEQUENCE_SPECS)
def test_sequence_specs_train_the_same_in_both_backends(tmp_path, name):
    runs = train_both(tmp_path, SPECS / f"{name}.yaml", limit=32, batch_size=16)
    (torch_run, torch_metrics, torch_history), (_, keras_metrics, keras_history) = runs["torch"], runs["keras"]
    metric = "mae" if name == "sunspots_forecast" else "accuracy"
    for key in ("loss", metric, "val_loss", f"val_{metric}"):
        assert keras_history[0][key] == pytest.approx(torch_history[0][key], rel=1e-4, abs=1e-6), key
    assert keras_metrics["test_loss"] == pytest.approx(torch_metrics["test_loss"], rel=1e-4)
    for run, metrics, _ in runs.values():
        assert np.isfinite(metrics["test_loss"]) and (run / "curves.png").is_file()
    if name == "sunspots_forecast":  # the forecast against the truth, and the test mae in sunspot numbers
        info = json.loads((torch_run / "run.json").read_text())["sequence"]
        assert torch_metrics["test_mae_in_units"] == pytest.approx(torch_metrics["test_mae"] * info["std"])
        assert (torch_run / "predictions.png").read_bytes().startswith(b"\x89PNG")
    if name == "char_transformer":
        assert json.loads((torch_run / "vocab.json").read_text()) == list(ASCII)


# ------------------------------------------------------------------ generate and predict from a run


@pytest.fixture(scope="module")
def char_run(tmp_path_factory):
    """The char_transformer trained a few steps on a small text (its own vocabulary), in PyTorch."""
    from archspec.train.run import train

    folder = tmp_path_factory.mktemp("char")
    (folder / "notes.txt").write_text(TEXT)
    run, _ = train(CHAR, "torch", data=str(folder / "notes.txt"), epochs=2, batch_size=4, run_dir=folder / "run")
    return run


@needs_torch
def test_generate_samples_from_the_run_s_vocabulary(char_run):
    vocabulary = json.loads((char_run / "vocab.json").read_text())
    first = runner.invoke(app, ["generate", str(char_run), "--prompt", "Assert ", "--length", "40", "--seed", "3",
                                "--temperature", "0.8"])
    assert first.exit_code == 0, first.output
    text = first.stdout.rstrip("\n")
    assert text.startswith("Assert ") and len(text) == 47 and set(text) <= set(vocabulary)
    again = runner.invoke(app, ["generate", str(char_run), "-p", "Assert ", "-n", "40", "--seed", "3", "-t", "0.8"])
    other = runner.invoke(app, ["generate", str(char_run), "-p", "Assert ", "-n", "40", "--seed", "4", "-t", "0.8"])
    assert again.stdout == first.stdout and other.stdout != first.stdout

    # temperature 0: each character is the model's most likely one after the text so far
    from archspec.backends.torch import build_model, predict
    from archspec.weights import read_weights

    spec = archspec.load(char_run / "spec.yaml")
    model = build_model(spec, read_weights(char_run / "weights.safetensors", spec))
    greedy = runner.invoke(app, ["generate", str(char_run), "-p", "The ", "-n", "6", "-t", "0"]).stdout.rstrip("\n")
    for k in range(4, len(greedy)):
        ids = np.array([[vocabulary.index(c) for c in greedy[:k]]], np.int32)
        assert vocabulary[int(np.argmax(predict(model, [ids])[0][0, -1]))] == greedy[k]


@needs_both
@pytest.mark.slow
def test_generate_gives_the_same_text_in_keras(char_run):
    args = ["generate", str(char_run), "-p", "The simple", "-n", "30", "--seed", "1", "-t", "0.7"]
    assert runner.invoke(app, [*args, "-b", "keras"]).stdout == runner.invoke(app, [*args, "-b", "torch"]).stdout


@needs_torch
@pytest.mark.parametrize("args, message", [
    (["-p", "Assert ~"], "--prompt: 1 character not in the vocabulary"),
    (["-p", ""], "--prompt is empty"),
    (["-p", "A", "-t", "-1"], "temperature"),
    (["-p", "A", "-n", "0"], "length"),
])
def test_generate_errors(char_run, args, message):
    result = runner.invoke(app, ["generate", str(char_run), *args])
    assert result.exit_code == 2 and message in " ".join(result.output.split()) and "Traceback" not in result.output


def test_generate_refuses_a_run_that_is_not_a_character_model(tmp_path):
    (tmp_path / "spec.yaml").write_text(FORECAST)
    (tmp_path / "run.json").write_text(json.dumps({"backend": "torch", "training": {}}))
    result = runner.invoke(app, ["generate", str(tmp_path), "-p", "abc"])
    assert result.exit_code == 2 and "not a character model's run" in result.output


@needs_torch
@pytest.mark.slow
def test_predict_reads_text_lines_and_ids_with_the_run_s_vocabulary(char_run, tmp_path):
    exported = tmp_path / "char.onnx"
    result = runner.invoke(app, ["export", "onnx", str(char_run), "-o", str(exported)])
    assert result.exit_code == 0, result.output
    vocabulary = json.loads((char_run / "vocab.json").read_text())
    lines = tmp_path / "lines.txt"
    lines.write_text("Assert statements\n\nThe simple form\n")
    out = runner.invoke(app, ["predict", str(exported), str(lines), "--json", "-k", "2"])
    assert out.exit_code == 0, out.output
    predictions = json.loads(out.stdout)["predictions"]
    assert [p["input"] for p in predictions] == [f"{lines}:1", f"{lines}:3"]  # empty lines are skipped
    # the same sequence as ids (.npy): the next-character distribution at its last step
    ids = np.array([vocabulary.index(c) for c in "The simple form"], np.int64)
    np.save(tmp_path / "ids.npy", ids)
    out = runner.invoke(app, ["predict", str(exported), str(tmp_path / "ids.npy"), "--json"])
    assert out.exit_code == 0, out.output
    values = json.loads(out.stdout)["predictions"][0]["outputs"][0]["values"]
    per_step = np.asarray(values).reshape(len(ids), -1)
    top = predictions[1]["outputs"][0]["top"]
    assert top[0]["label"] == repr(vocabulary[int(np.argmax(per_step[-1]))])
    assert top[0]["probability"] == pytest.approx(per_step[-1].max(), rel=1e-5)
    lines.write_text("Assert ~\n")
    bad = runner.invoke(app, ["predict", str(exported), str(lines)])
    assert bad.exit_code == 2 and "lines.txt:1: 1 character not in the vocabulary" in bad.output


@needs_torch
@pytest.mark.slow
def test_predict_forecasts_a_csv_series_in_its_units(tmp_path):
    from archspec.onnx import Session
    from archspec.train.run import train

    values = np.round(np.sin(np.arange(80) / 3) * 10 + 20, 3)
    series = tmp_path / "load.csv"
    series.write_text("day,load\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    spec = tmp_path / "forecast.yaml"
    spec.write_text(FORECAST)
    run, _ = train(spec, "torch", data=str(series), epochs=1, run_dir=tmp_path / "run")
    exported = tmp_path / "forecast.onnx"
    assert runner.invoke(app, ["export", "onnx", str(run), "-o", str(exported)]).exit_code == 0
    out = runner.invoke(app, ["predict", str(exported), str(series), "--json"])
    assert out.exit_code == 0, out.output
    forecast = json.loads(out.stdout)["predictions"][0]["outputs"][0]
    info = json.loads((run / "run.json").read_text())["sequence"]
    scaled = ((values[-5:] - info["mean"]) / info["std"]).astype(np.float32)
    expected = Session(exported).predict(scaled[None])[0][0] * info["std"] + info["mean"]
    assert forecast["unit"] == "load" and forecast["forecast"] == pytest.approx(expected.tolist(), rel=1e-5)
    (tmp_path / "short.csv").write_text("load\n1\n2\n")
    short = runner.invoke(app, ["predict", str(exported), str(tmp_path / "short.csv")])
    assert short.exit_code == 2 and "the model reads the last 5" in short.output


@needs_torch
def test_predict_feeds_each_input_of_a_multi_input_model(tmp_path):
    from archspec.export.onnx import export_onnx
    from archspec.onnx import Session
    from archspec.weights import init_weights

    spec = archspec.loads(TWO_IN_TWO_OUT)
    exported = export_onnx(spec, init_weights(spec, 0), tmp_path / "two.onnx", backend="torch")
    rng = np.random.default_rng(0)
    image, meta = rng.uniform(size=(3, 15, 15, 2)).astype(np.float32), rng.uniform(size=(3, 5)).astype(np.float32)
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "meta.npy", meta)
    out = runner.invoke(app, ["predict", str(exported), "--input", f"meta={tmp_path / 'meta.npy'}",
                              "--input", f"image={tmp_path / 'image.npy'}", "--json"])
    assert out.exit_code == 0, out.output
    predictions = json.loads(out.stdout)["predictions"]
    label, score = Session(exported).predict(image, meta)
    assert len(predictions) == 3
    assert predictions[2]["outputs"][0]["values"] == pytest.approx(label[2].tolist(), rel=1e-6)
    assert predictions[2]["outputs"][1]["values"] == pytest.approx(score[2].tolist(), rel=1e-6)
    np.save(tmp_path / "meta2.npy", meta[:2])
    for args, message in [
        ([str(tmp_path / "image.npy")], "takes 2 inputs (image, meta); feed each one with --input NAME=FILE"),
        (["--input", f"image={tmp_path / 'image.npy'}"], "no file for input meta"),
        (["--input", f"imag={tmp_path / 'image.npy'}"], "has no input 'imag'"),
        (["--input", "image"], "expected NAME=FILE"),
        (["--input", f"image={tmp_path / 'image.npy'}", "--input", f"meta={tmp_path / 'meta2.npy'}"],
         "different numbers of samples"),
        ([], "no input files"),
    ]:
        result = runner.invoke(app, ["predict", str(exported), *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output, (args, result.output)
