"""Training through both backends: identical steps, callbacks, runs, resume, transfer learning."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import archspec
from archspec.data.sources import PIMA_CSV
from archspec.cli import app
from archspec.data import Data, Split
from archspec.train.config import Training
from archspec.train.loop import Trainer
from archspec.train.objectives import make_targets, plan_outputs
from archspec.weights import init_weights, read_weights
from conftest import SPECS, needs_both, needs_torch

runner = CliRunner()

STEP_SPEC = """
name: step
input_shape: [6, 6, 2]
layers:
  - {type: Conv2D, filters: 3, kernel_size: 3, padding: same, use_bias: false}
  - {type: BatchNormalization}
  - {type: Activation, activation: relu}
  - {type: MaxPooling2D}
  - {type: Flatten}
  - {type: Dense, units: 5, activation: tanh, name: hidden}
  - {type: Dense, units: 4, activation: softmax, name: probs}
  - {type: Dense, units: 1, activation: sigmoid, name: score, inputs: hidden}
  - {type: Dense, units: 2, name: value, inputs: hidden}
outputs: [probs, score, value]
"""

OPTIMIZERS = [
    {"type": "adam", "learning_rate": 0.01},
    {"type": "adamw", "learning_rate": 0.01, "weight_decay": 0.05},
    {"type": "sgd", "learning_rate": 0.1},
    {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
    {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
    {"type": "rmsprop", "learning_rate": 0.01},
]
LOSSES = [
    {"probs": "sparse_categorical_crossentropy", "score": "binary_crossentropy", "value": "mse"},
    {"probs": "categorical_crossentropy", "score": "mse", "value": "mae"},
]


@needs_both
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: "-".join(str(v) for v in o.values()))
@pytest.mark.parametrize("loss", LOSSES, ids=["ce-bce-mse", "cce-mse-mae"])
def test_optimizer_steps_give_identical_weights(optimizer, loss):
    from archspec.train.keras_backend import KerasTrainer
    from archspec.train.torch_backend import TorchTrainer

    spec = archspec.loads(STEP_SPEC)
    targets = {"probs": "one_hot"} if loss["probs"] == "categorical_crossentropy" else {}
    training = Training.model_validate({"optimizer": optimizer, "loss": loss, "targets": targets,
                                        "loss_weights": {"probs": 1.0, "score": 0.5, "value": 0.25}})
    plans = plan_outputs(spec, training)
    weights = init_weights(spec, 1, randomize_statistics=True)
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(8, 6, 6, 2)).astype(np.float32)
    ys = make_targets(plans, rng.integers(0, 4, 8))
    # (a conv bias right before batch norm would get a gradient of pure rounding noise, which Adam
    # amplifies to +-learning_rate in either framework: real models, and this one, leave it out)
    trainers = [cls(spec, training, plans, weights) for cls in (KerasTrainer, TorchTrainer)]
    logs = []
    for _ in range(3):  # three steps: moments, momentum and bias corrections all take part
        logs.append([t.train_batch([x], ys) for t in trainers])
    keras_weights, torch_weights = (t.get_weights() for t in trainers)
    for key in keras_weights:
        np.testing.assert_allclose(torch_weights[key], keras_weights[key], atol=1e-5, rtol=0, err_msg=key)
    for keras_logs, torch_logs in logs:
        assert abs(keras_logs["loss"] - torch_logs["loss"]) < 1e-5


def tiny_data(spec, n=64, seed=0, classes=10):
    rng = np.random.default_rng(seed)
    shape = spec.inputs[0].shape

    def split(m):
        return Split([rng.uniform(size=(m, *shape)).astype(np.float32)], rng.integers(0, classes, m))

    return Data("tiny", split(n), split(16), split(16))


@needs_torch
def test_early_stopping_stops_and_restores(tmp_path):
    spec = archspec.load(SPECS / "pima_mlp.yaml")
    training = Training.model_validate({
        "optimizer": {"type": "sgd", "learning_rate": 1e-9}, "epochs": 10,
        "callbacks": {"early_stopping": {"patience": 1, "min_delta": 0.01, "restore_best_weights": True}},
    })
    trainer = Trainer(spec, "torch", training, tiny_data(spec, classes=2), tmp_path)
    state = trainer.fit()
    # no improvement of 0.01 after epoch 1: Keras stops as soon as wait >= patience, after epoch 2
    assert state.stopped_early and state.epoch == 2
    assert len(state.history) == 2
    assert state.stop_best_epoch == state.restored_epoch == 1


PIMA_TRAINING = {"validation_split": 0.25, "optimizer": {"type": "adam", "learning_rate": 0.03}}


def pima_trainer(run_dir, backend, epochs, early_stopping):
    """pima_mlp with Adam 0.03 (it overfits within a few epochs) and a Trainer that keeps every epoch's weights."""
    from archspec.train.loop import prepare_data, training_config

    spec = archspec.load(SPECS / "pima_mlp.yaml")
    training = training_config(spec, {**PIMA_TRAINING, "epochs": epochs, "callbacks": {"early_stopping": early_stopping}})
    trainer = Trainer(spec, backend, training, prepare_data(spec, training, None), run_dir)
    snapshots = []  # the weights at the end of each epoch

    def keep(kind, info):
        if kind == "epoch_end":
            snapshots.append(trainer.backend.get_weights())

    trainer.on_event = keep
    return trainer, snapshots


def keras_early_stopping(values: list[float], **config) -> tuple[int | None, int]:
    """Keras's own EarlyStopping fed these val_loss values: (the epoch it stops after, or None; its best epoch), from 1."""
    import keras

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    callback = keras.callbacks.EarlyStopping(**config)
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            return epoch + 1, callback.best_epoch + 1
    return None, callback.best_epoch + 1


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@needs_both
@pytest.mark.parametrize("patience", [1, 2, 3])
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_early_stopping_stops_where_keras_does(tmp_path, backend, patience):
    from archspec.train.evaluate import read_history

    config = {"patience": patience, "restore_best_weights": True}
    trainer, snapshots = pima_trainer(tmp_path, backend, 15, config)
    state = trainer.fit()
    values = [row["val_loss"] for row in read_history(tmp_path)]
    stop_epoch, best_epoch = keras_early_stopping(values, **config)
    assert state.stopped_early and stop_epoch == state.epoch == len(values) < 15
    # restore_best_weights: the model, and last.safetensors, end with the best epoch's weights
    assert state.restored_epoch == best_epoch < state.epoch
    assert_same_weights(trainer.backend.get_weights(), snapshots[best_epoch - 1])
    assert_same_weights(read_weights(tmp_path / "last.safetensors"), snapshots[best_epoch - 1])
    # the checkpoint watches val_loss too, without min_delta: the same epoch
    assert state.best_epoch == best_epoch
    assert_same_weights(read_weights(tmp_path / "weights.safetensors"), snapshots[best_epoch - 1])


@needs_both
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_restore_best_weights_without_stopping_early(tmp_path, backend):
    from archspec.train.evaluate import read_history

    config = {"patience": 50, "restore_best_weights": True}
    trainer, snapshots = pima_trainer(tmp_path, backend, 10, config)
    state = trainer.fit()
    stop_epoch, best_epoch = keras_early_stopping([row["val_loss"] for row in read_history(tmp_path)], **config)
    assert stop_epoch is None and not state.stopped_early and state.epoch == 10
    assert state.restored_epoch == best_epoch < 10  # Keras restores at the end of training, stopped early or not
    assert_same_weights(trainer.backend.get_weights(), snapshots[best_epoch - 1])
    assert_same_weights(read_weights(tmp_path / "last.safetensors"), snapshots[best_epoch - 1])
    metrics = trainer.finish()
    assert metrics["restored_epoch"] == metrics["best_epoch"] == best_epoch
    assert_same_weights(trainer.backend.get_weights(), snapshots[best_epoch - 1])


def pima_spec_file(tmp_path, callbacks: str):
    text = (SPECS / "pima_mlp.yaml").read_text()
    text = text.replace("optimizer: adam", "optimizer: {type: adam, learning_rate: 0.03}")
    text = text.replace("validation_split: 0.0", "validation_split: 0.25") + f"  callbacks: {callbacks}\n"
    path = tmp_path / "pima.yaml"
    path.write_text(text)
    return path


@needs_both
@pytest.mark.parametrize("backend", ["torch", "keras"])
def test_resumed_early_stopping_run_ends_like_an_uninterrupted_one(tmp_path, backend):
    from archspec.train.evaluate import read_history
    from archspec.train.run import train

    spec = pima_spec_file(tmp_path, "{early_stopping: {patience: 3, restore_best_weights: true}}")
    straight, straight_metrics = train(spec, backend, epochs=15, run_dir=tmp_path / "straight")
    state = json.loads((straight / "state.json").read_text())
    assert state["stopped_early"] and state["epoch"] > state["restored_epoch"] + 1  # the interruption lands between

    def interrupt(kind, info):
        if kind == "epoch_start" and info["epoch"] == state["restored_epoch"] + 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(spec, backend, epochs=15, run_dir=tmp_path / "resumed", on_event=interrupt)
    resumed, resumed_metrics = train(spec, backend, epochs=15, resume=tmp_path / "resumed")

    def without_seconds(rows):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]

    assert without_seconds(read_history(resumed)) == without_seconds(read_history(straight))
    resumed_state = json.loads((resumed / "state.json").read_text())
    resumed_state["history"] = state["history"] = None
    assert resumed_state == state
    for name in ("last.safetensors", "weights.safetensors", "early_stopping_best.safetensors"):
        assert_same_weights(read_weights(resumed / name), read_weights(straight / name))
    assert resumed_metrics == straight_metrics


@needs_torch
@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_run_files_get_the_umask_mode(tmp_path, umask):
    import os
    import stat

    from archspec.train.run import train

    spec = pima_spec_file(tmp_path, "{early_stopping: {patience: 1, restore_best_weights: true}, "
                                    "reduce_lr_on_plateau: {patience: 1}}")
    old = os.umask(umask)
    try:
        run, _ = train(spec, "torch", epochs=3, run_dir=tmp_path / "run")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in run.iterdir()}
    assert {"weights.safetensors", "last.safetensors", "early_stopping_best.safetensors", "optimizer.pt",
            "history.csv", "state.json", "metrics.json", "curves.png", "spec.yaml", "run.json"} == set(modes)
    assert {name: 0o666 & ~umask for name in modes} == modes


@needs_torch
def test_reduce_lr_on_plateau(tmp_path):
    spec = archspec.load(SPECS / "pima_mlp.yaml")
    training = Training.model_validate({
        "optimizer": {"type": "sgd", "learning_rate": 1e-9}, "epochs": 4,
        "callbacks": {"reduce_lr_on_plateau": {"patience": 1, "factor": 0.5, "min_delta": 0.01}},
    })
    state = Trainer(spec, "torch", training, tiny_data(spec, classes=2), tmp_path).fit()
    assert [round(row["learning_rate"] / 1e-9, 6) for row in state.history] == [1, 1, 0.5, 0.25]  # logged before the callback lowers it, as Keras logs it


@needs_torch
def test_nan_loss_stops_with_a_clear_message(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text((SPECS / "pima_mlp.yaml").read_text().replace("optimizer: adam",
                                                                    "optimizer: {type: sgd, learning_rate: 1.0e+30}"))
    result = runner.invoke(app, ["train", str(path), "-b", "torch", "--epochs", "3", "--run-dir", str(tmp_path / "run"),
                                 "--data", str(PIMA_CSV)])
    assert result.exit_code == 1
    assert "the loss became" in result.output and "lower learning rate" in result.output


@needs_torch
def test_train_cli_writes_the_run_and_evaluate_agrees(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", str(SPECS / "lego_8x8.yaml"), "-b", "torch", "--epochs", "2"])
    assert result.exit_code == 0, result.output
    run = (tmp_path / "runs" / "latest").resolve()
    assert run.name.startswith("lego_8x8-torch-")
    names = {p.name for p in run.iterdir()}
    assert {"spec.yaml", "weights.safetensors", "last.safetensors", "history.csv", "metrics.json",
            "curves.png", "run.json"} <= names
    assert not [n for n in names if n.startswith(".")]  # no temporary files left behind
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["epochs"] == 2
    assert (run / "history.csv").read_text().splitlines()[0].startswith("epoch,")
    evaluated = runner.invoke(app, ["evaluate", "runs/latest"])
    assert evaluated.exit_code == 0 and f"test_accuracy {metrics['test_accuracy']:.4f}" in evaluated.output
    for args, produced in ((["plot-history"], "curves.png"),
                           (["inspect", "weights", "--layer", "conv2d"], "weights-conv2d.png")):
        out = runner.invoke(app, [*args, "runs/latest"] if args[0] == "plot-history" else [*args[:2], "runs/latest", *args[2:]])
        assert out.exit_code == 0, out.output
        assert (run / produced).read_bytes().startswith(b"\x89PNG")
    image = tmp_path / "digit.png"
    from PIL import Image

    Image.fromarray((np.random.default_rng(0).uniform(size=(8, 8)) * 255).astype(np.uint8)).save(image)
    out = runner.invoke(app, ["inspect", "features", "runs/latest", "--layer", "conv2d", "--image", str(image)])
    assert out.exit_code == 0, out.output
    assert (run / "features-conv2d.png").stat().st_size > 1000
    bad = runner.invoke(app, ["inspect", "weights", "runs/latest", "--layer", "conv2"])
    assert bad.exit_code == 2 and "did you mean 'conv2d'" in bad.output


@needs_torch
def test_resume_continues_exactly_where_it_stopped(tmp_path):
    from archspec.train.run import train

    spec = SPECS / "pima_mlp.yaml"
    straight, _ = train(spec, "torch", epochs=4, run_dir=tmp_path / "straight")
    first, _ = train(spec, "torch", epochs=2, run_dir=tmp_path / "resumed")
    resumed, _ = train(spec, "torch", epochs=4, resume=first)
    history = (resumed / "history.csv").read_text().splitlines()
    assert len(history) == 5  # header + 4 epochs
    a, b = read_weights(straight / "last.safetensors"), read_weights(resumed / "last.safetensors")
    for key in a:
        np.testing.assert_allclose(a[key], b[key], atol=1e-6)


@needs_torch
def test_interrupt_keeps_the_best_weights(tmp_path):
    from archspec.train.run import train

    def interrupt(kind, info):
        if kind == "epoch_start" and info["epoch"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(SPECS / "pima_mlp.yaml", "torch", epochs=5, run_dir=tmp_path / "run", on_event=interrupt)
    assert read_weights(tmp_path / "run" / "weights.safetensors")
    assert json.loads((tmp_path / "run" / "state.json").read_text())["epoch"] == 2
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]


@needs_torch
def test_transfer_learning_trains_only_the_head(tmp_path, monkeypatch):
    from archspec.train.run import train

    monkeypatch.chdir(tmp_path)
    base_run, _ = train(SPECS / "mnist_digit_odd.yaml", "torch", data="mnist5k", epochs=1, limit=256,
                        run_dir=tmp_path / "base")
    spec = archspec.load(SPECS / "mnist_transfer.yaml")
    assert spec.trainable_params == 54_090 and spec.total_params - spec.trainable_params == 320
    head_run, _ = train(SPECS / "mnist_transfer.yaml", "torch", data="mnist5k", epochs=1, limit=256,
                        base_weights=base_run, run_dir=tmp_path / "head")
    base, head = read_weights(base_run / "weights.safetensors"), read_weights(head_run / "weights.safetensors")
    np.testing.assert_array_equal(head["conv2d_layer/kernel"], base["conv2d_layer/kernel"])
    start = init_weights(spec, 0)
    assert not np.allclose(head["digit_classifier/kernel"], start["digit_classifier/kernel"])
    assert "digit_classifier" in (head_run / "spec.yaml").read_text()
    assert archspec.load(head_run / "spec.yaml").trainable_params == 54_090  # the run's resolved spec stands alone


@needs_torch
def test_transfer_without_base_weights_warns(tmp_path):
    result = runner.invoke(app, ["train", str(SPECS / "mnist_transfer.yaml"), "--data", "mnist5k", "--limit", "64",
                                 "--epochs", "1", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "--base-weights" in result.output


TRAINABLE_SEEDS = [
    ("fashion_cnn", "mnist5k"), ("mnist_cnn", "mnist5k"), ("mnist_concat", "mnist5k"),
    ("mnist_digit_odd", "mnist5k"), ("pima_mlp", None), ("lego_8x8", None), ("shapes_cnn", None),
    ("fashion_conv_only", "mnist5k"), ("fashion_conv_pool_dropout", "mnist5k"), ("vgg7", "mnist5k"),
    ("resnet_cifar", "shapes"), ("mnist_transfer", "mnist5k"),
]


@needs_both
@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "keras"])
@pytest.mark.parametrize("name, data", TRAINABLE_SEEDS, ids=[n for n, _ in TRAINABLE_SEEDS])
def test_every_seed_spec_trains_a_few_batches(tmp_path, name, data, backend):
    from archspec.train.run import train

    run, metrics = train(SPECS / f"{name}.yaml", backend, data=data, epochs=1, limit=48, batch_size=16,
                         run_dir=tmp_path / "run")
    assert np.isfinite(metrics["test_loss"])
    history = (run / "history.csv").read_text()
    assert "loss" in history


def test_training_section_errors_are_located(write_spec):
    path = write_spec(
        "input_shape: [8]\nlayers:\n  - {type: Dense, units: 1, activation: sigmoid, name: out}\n"
        "training:\n  optimizer: {type: adam, learning_rat: 0.1}\n  loss_weights: {ot: 1.0}\n  epochs: 0\n"
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "spec.yaml:5:" in result.output and "learning_rat" in result.output
    assert "spec.yaml:7:" in result.output and "epochs" in result.output
