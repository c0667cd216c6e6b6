"""Data-parallel training (2 gloo processes on CPU) gives one process's weights; precision; checkpoints.

Process start-up costs seconds, so the multi-process runs start together once per module (the
`launched` fixture) and the tests compare their run directories with single-process runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from archspec.cli import app
from archspec.weights import read_weights
from conftest import SPECS, needs_torch

pytestmark = needs_torch
runner = CliRunner()

# batch norm (its statistics over the global batch) in a small CNN without dropout
BN_CNN = """
name: bn_cnn
input_shape: [28, 28, 1]
layers:
  - {type: Conv2D, filters: 4, kernel_size: 3, use_bias: false}
  - {type: BatchNormalization}
  - {type: Activation, activation: relu}
  - {type: MaxPooling2D, pool_size: 4}
  - {type: Flatten}
  - {type: Dense, units: 10, activation: softmax}
training:
  optimizer: adam
  loss: sparse_categorical_crossentropy
  validation_split: 0.2
"""
# 7 samples in the last global batch: the two ranks take 4 and 3
CNN_ARGS = ["--data", "mnist5k", "--limit", "120", "--epochs", "2", "--batch-size", "16"]
PIMA_ARGS = ["--epochs", "3", "--batch-size", "50"]


def _torchrun() -> list[str]:
    script = Path(sys.executable).with_name("torchrun")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "torch.distributed.run"]


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    """Two 2-process jobs at once: pima_mlp through `archspec train --nproc-per-node 2`, and a batch-norm CNN
    through `torchrun --nproc-per-node 2 -m archspec train`."""
    work = tmp_path_factory.mktemp("ddp")
    (work / "bn_cnn.yaml").write_text(BN_CNN)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    jobs = {
        "pima": [sys.executable, "-m", "archspec", "train", str(SPECS / "pima_mlp.yaml"), "-b", "torch",
                 *PIMA_ARGS, "--run-dir", "pima", "--nproc-per-node", "2"],
        "cnn": [*_torchrun(), "--standalone", "--nproc-per-node", "2", "-m", "archspec", "train", "bn_cnn.yaml",
                "-b", "torch", *CNN_ARGS, "--run-dir", "cnn"],
    }
    procs = {name: subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True) for name, cmd in jobs.items()}
    outputs = {name: proc.communicate(timeout=240)[0] for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f"{name}:\n{outputs[name]}"
    return work, outputs


@pytest.fixture(scope="module")
def pima_reference(tmp_path_factory):
    """One process's pima_mlp weights after 3 and after 5 epochs (one Trainer, fit twice), and its history."""
    import archspec
    from archspec.train.loop import Trainer, prepare_data, training_config

    spec = archspec.load(SPECS / "pima_mlp.yaml")
    training = training_config(spec, {"epochs": 5, "batch_size": 50})
    trainer = Trainer(spec, "torch", training, prepare_data(spec, training, None), tmp_path_factory.mktemp("one"),
                      device="cpu")
    trainer.fit(3)
    after_3, history = trainer.backend.get_weights(), [dict(r) for r in trainer.state.history]
    trainer.fit(5)
    trainer.flush()
    return after_3, history, trainer.backend.get_weights()


def one_process(tmp_path, spec, args, name="one"):
    result = runner.invoke(app, ["train", str(spec), "-b", "torch", *args, "--run-dir", str(tmp_path / name),
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return tmp_path / name


def assert_close(a, b, atol=1e-5):
    first, second = (read_weights(x) if isinstance(x, Path) else x for x in (a, b))
    assert first.keys() == second.keys()
    for key in first:
        np.testing.assert_allclose(first[key], second[key], atol=atol, rtol=0, err_msg=key)


def test_two_processes_give_one_process_weights(launched, pima_reference):
    work, outputs = launched
    after_3, history, _ = pima_reference
    assert_close(work / "pima" / "last.safetensors", after_3)
    # the history (sample-weighted means over both ranks) is the single process's too
    two = json.loads((work / "pima" / "state.json").read_text())["history"]
    assert len(two) == len(history) == 3
    for a, b in zip(two, history):
        assert abs(a["loss"] - b["loss"]) < 1e-6 and a["accuracy"] == pytest.approx(b["accuracy"])
    metrics = json.loads((work / "pima" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["precision"] == "fp32"
    # rank 0 alone prints: one line per epoch
    assert outputs["pima"].count("epoch   1/3") == 1, outputs["pima"]


def test_batch_norm_over_the_global_batch(launched, tmp_path):
    work, _ = launched
    (tmp_path / "bn_cnn.yaml").write_text(BN_CNN)
    single = one_process(tmp_path, tmp_path / "bn_cnn.yaml", CNN_ARGS)
    # the moving mean and variance too: each rank's statistics are the global batch's
    assert_close(work / "cnn" / "last.safetensors", single / "last.safetensors")


def test_only_rank_0_writes_one_run_directory(launched):
    work, _ = launched
    assert sorted(p.name for p in work.iterdir()) == ["bn_cnn.yaml", "cnn", "pima"]
    assert (work / "cnn" / "metrics.json").is_file()


def test_resume_a_two_process_run_in_one_process(launched, pima_reference, tmp_path):
    work, _ = launched
    run = tmp_path / "resumed"
    shutil.copytree(work / "pima", run)
    result = runner.invoke(app, ["train", "--resume", str(run), "--epochs", "5", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert_close(run / "last.safetensors", pima_reference[2])
    assert json.loads((run / "metrics.json").read_text())["processes"] == 1


def test_keras_trains_in_one_process():
    result = runner.invoke(app, ["train", str(SPECS / "pima_mlp.yaml"), "-b", "keras", "--nproc-per-node", "2"])
    assert result.exit_code == 2
    assert "Keras backend trains in one process" in result.output


def test_checkpoint_every_keeps_the_last_checkpoint_resumable(pima_reference, tmp_path):
    """--checkpoint-every 2, stopped after epoch 3: --resume goes on from epoch 2 and ends where a whole run ends."""
    from archspec.train.run import train

    def stop_after_3(kind, info):
        if kind == "epoch_end" and info["epoch"] == 3:
            raise KeyboardInterrupt

    run = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        train(SPECS / "pima_mlp.yaml", "torch", epochs=5, batch_size=50, run_dir=run, device="cpu",
              checkpoint_every=2, on_event=stop_after_3)
    assert json.loads((run / "state.json").read_text())["epoch"] == 2
    assert len((run / "history.csv").read_text().splitlines()) == 1 + 3  # the history goes on every epoch
    train(None, resume=run, device="cpu")
    assert_close(run / "last.safetensors", pima_reference[2], atol=0)
    assert json.loads((run / "run.json").read_text())["checkpoint_every"] == 2


def test_bf16_is_recorded_and_weights_stay_float32(tmp_path):
    from archspec.train.run import train

    run, metrics = train(SPECS / "pima_mlp.yaml", "torch", epochs=1, run_dir=tmp_path / "bf16", device="cpu",
                         precision="bf16")
    assert metrics["precision"] == "bf16"
    assert json.loads((run / "run.json").read_text())["precision"] == "bf16"
    assert {w.dtype for w in read_weights(run / "weights.safetensors").values()} == {np.dtype("float32")}


@pytest.mark.slow
def test_bf16_mnist_cnn_within_two_points_of_fp32(tmp_path):
    from archspec.train.run import train

    accuracy = {}
    for precision in ("fp32", "bf16"):
        _, metrics = train(SPECS / "mnist_cnn.yaml", "torch", data="mnist5k", epochs=2, batch_size=64,
                           run_dir=tmp_path / precision, device="cpu", precision=precision)
        accuracy[precision] = metrics["test_accuracy"]
    assert accuracy["fp32"] > 0.8
    assert abs(accuracy["bf16"] - accuracy["fp32"]) <= 0.02, accuracy
