"""Outputs that are images: segmentation masks (specs/unet.yaml) and denoising autoencoders
(specs/conv_autoencoder.yaml) — the shapes' masks, input noise, per-pixel losses, both backends, pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import archspec
from archspec.cli import app
from archspec.data import load_data
from archspec.data.sources import shapes
from archspec.errors import ArchspecError
from archspec.train.config import InputNoise, Training
from archspec.train.objectives import loss_value, make_targets, metric_value, plan_outputs
from conftest import SPECS, needs_both, needs_torch

runner = CliRunner()
UNET = SPECS / "unet.yaml"
AUTOENCODER = SPECS / "conv_autoencoder.yaml"


def ink(images: np.ndarray) -> np.ndarray:
    """Where the drawing is (the strokes are dark, at most 90 of 255 in every channel, on white)."""
    return images.min(axis=-1) < 128


# ------------------------------------------------------------------ data


def test_shapes_masks_agree_with_the_images():
    raw = shapes(per_class=6, size=32)
    assert raw.masks.shape == (18, 32, 32) and raw.masks.dtype == np.uint8
    for image, mask, label in zip(raw.x, raw.masks, raw.y):
        assert set(np.unique(mask)) == {0, label + 1}  # background and the shape's class + 1
        assert mask[ink(image)].min() > 0  # every stroke pixel belongs to the shape
        assert 0.1 < np.mean(mask > 0) < 0.8  # the outline and what it encloses, not the whole image
    # outside the shapes the images are white: only anti-aliased edge pixels are a little grey
    assert np.mean(raw.x.min(axis=-1)[raw.masks == 0] > 200) > 0.95
    np.testing.assert_array_equal(shapes(per_class=6, size=32).masks, raw.masks)  # seeded


def test_masks_follow_their_images_through_splits_limit_and_keep_labels():
    spec = archspec.load(UNET)
    data = load_data("shapes", spec, validation_split=0.2, limit=40, targets={"segmentation": "mask"})
    assert (len(data.train), len(data.val), len(data.test)) == (32, 8, 10)
    for split in (data.train, data.val, data.test):
        masks = split.extras["mask"]
        assert masks.shape == (len(split), 32, 32)
        for image, mask, label in zip(split.x[0], masks, split.labels):
            assert mask[ink(image * 255)].min() == label + 1
    kept = load_data("shapes", spec, keep_labels=[2, 0], targets={"segmentation": "mask"})
    for mask, label in zip(kept.train.extras["mask"], kept.train.labels):
        assert set(np.unique(mask)) == {0, label + 1}  # renumbered with the labels: triangle 1, circle 2
    assert load_data("shapes", spec).train.extras == {}  # carried only when a target asks for them


def test_input_noise_is_seeded_clipped_and_keeps_the_clean_input():
    spec = archspec.load(AUTOENCODER)
    noise, targets = InputNoise(stddev=0.4), {"reconstruction": "input"}  # (no labels to check against the output)
    clean = load_data("mnist5k", spec, limit=64, targets=targets)
    noisy = load_data("mnist5k", spec, limit=64, targets=targets, input_noise=noise)
    again = load_data("mnist5k", spec, limit=32, targets=targets, input_noise=noise)
    for name in ("train", "test"):
        a, b = getattr(clean, name), getattr(noisy, name)
        np.testing.assert_array_equal(b.extras["input"], a.x[0])  # the target: the clean images
        assert 0.0 <= b.x[0].min() and b.x[0].max() <= 1.0  # clipped like keras.io
        assert 0.2 < np.std(b.x[0] - a.x[0]) < 0.4  # stddev 0.4, less after clipping
    np.testing.assert_array_equal(again.train.x[0], noisy.train.x[0][:32])  # seeded; --limit keeps the noise
    assert not np.array_equal(noisy.train.x[0][:10], noisy.test.x[0][:10])
    unclipped = load_data("mnist5k", spec, limit=64, targets=targets, input_noise=InputNoise(stddev=0.4, clip=None))
    assert unclipped.train.x[0].min() < -0.5
    assert np.std(unclipped.train.x[0] - clean.train.x[0]) == pytest.approx(0.4, rel=0.02)


# ------------------------------------------------------------------ losses and metrics of any rank


@needs_both
def test_per_pixel_losses_are_kerass_in_numpy_and_torch():
    import keras
    import torch

    from archspec.train.torch_backend import output_loss

    spec = archspec.load(UNET)
    training = Training.model_validate(spec.training.model_dump())
    plan, = plan_outputs(spec, training)
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (2, 32, 32, 4)).astype(np.float32)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    y = rng.integers(0, 4, (2, 32, 32))
    expected = float(keras.losses.SparseCategoricalCrossentropy()(y, p))
    assert loss_value(plan, y, p) == pytest.approx(expected, rel=1e-5)
    yt, pt = torch.from_numpy(y), torch.from_numpy(p)
    assert float(output_loss(plan, yt, pt, torch.from_numpy(logits))) == pytest.approx(expected, rel=1e-5)
    assert float(output_loss(plan, yt, pt, None)) == pytest.approx(expected, rel=1e-5)
    accuracy = keras.metrics.SparseCategoricalAccuracy()
    accuracy.update_state(y, p)
    assert metric_value(plan, "accuracy", y, p) == pytest.approx(float(accuracy.result()), abs=1e-6)


# ------------------------------------------------------------------ training in both backends


def train_both(tmp_path, spec, **options):
    from archspec.train.evaluate import read_history
    from archspec.train.run import train

    runs = {}
    for backend in ("torch", "keras"):
        run, metrics = train(spec, backend, epochs=1, run_dir=tmp_path / backend, **options)
        runs[backend] = (run, metrics, read_history(run))
    return runs


def check_run(run, metrics, same_split: bool):
    """The run's pictures, and `archspec evaluate` on it: the same numbers when it sees the same test split
    (not after --limit, which evaluate does not take), with the same noise and targets."""
    for picture in ("curves.png", "predictions.png"):
        assert (run / picture).read_bytes().startswith(b"\x89PNG")
    result = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    keys = ["test_loss", *[k for k in metrics if k.endswith(("accuracy", "mse"))]]
    assert all(np.isfinite(again[key]) for key in keys)
    if same_split:
        assert again["test_samples"] == metrics["test_samples"]
        for key in keys:
            assert again[key] == pytest.approx(metrics[key], rel=1e-5, abs=1e-6), key


@needs_both
@pytest.mark.slow
def test_unet_trains_the_same_in_both_backends(tmp_path):
    runs = train_both(tmp_path, UNET, limit=32, batch_size=16)
    (_, torch_metrics, torch_history), (_, keras_metrics, keras_history) = runs["torch"], runs["keras"]
    assert torch_history[0].keys() >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    # max-pooling over the shapes' flat white background meets near-ties, which each framework's
    # float rounding breaks its own way (the gradient goes to another, equally maximal pixel):
    # the numbers agree to ~1e-3 here, where the autoencoder's agree to 1e-6
    for key in ("loss", "val_loss"):
        assert keras_history[0][key] == pytest.approx(torch_history[0][key], rel=5e-3), key
    for key in ("accuracy", "val_accuracy"):
        assert keras_history[0][key] == pytest.approx(torch_history[0][key], abs=5e-3), key
    assert keras_metrics["test_loss"] == pytest.approx(torch_metrics["test_loss"], rel=5e-3)
    for backend, (run, metrics, _) in runs.items():
        assert 0.0 <= metrics["test_accuracy"] <= 1.0  # pixel accuracy
        check_run(run, metrics, same_split=False)


@needs_both
@pytest.mark.slow
@pytest.mark.parametrize("loss", ["binary_crossentropy", "mse"])
def test_denoising_autoencoder_trains_the_same_in_both_backends(tmp_path, loss):
    from archspec.data.sources import mnist5k

    digits = mnist5k()
    np.savez(tmp_path / "digits.npz", x=(digits.x[:160] / 255).astype(np.float32), y=digits.y[:160])  # whole splits
    spec = spec_with(tmp_path, AUTOENCODER, "loss: binary_crossentropy", f"loss: {loss}", "autoencoder.yaml")
    runs = train_both(tmp_path, spec, data=str(tmp_path / "digits.npz"), batch_size=32)
    (_, torch_metrics, torch_history), (_, keras_metrics, keras_history) = runs["torch"], runs["keras"]
    assert torch_history[0].keys() >= {"loss", "mse", "val_loss", "val_mse"}
    for key in ("loss", "mse", "val_loss", "val_mse"):
        assert keras_history[0][key] == pytest.approx(torch_history[0][key], rel=1e-5), key
    assert keras_metrics["test_loss"] == pytest.approx(torch_metrics["test_loss"], rel=1e-5)
    for backend, (run, metrics, _) in runs.items():
        check_run(run, metrics, same_split=True)
        resolved = archspec.load(run / "spec.yaml").training
        assert resolved.input_noise == InputNoise(stddev=0.4) and resolved.targets == {"reconstruction": "input"}


@needs_torch
def test_classifier_runs_draw_no_predictions(tmp_path):
    from archspec.train.run import train

    run, _ = train(SPECS / "lego_8x8.yaml", "torch", epochs=1, run_dir=tmp_path / "run")
    assert (run / "curves.png").is_file() and not (run / "predictions.png").exists()


# ------------------------------------------------------------------ bad target configurations


def spec_with(tmp_path, base, old: str, new: str, name="bad.yaml"):
    text = base.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("old, new, message", [
    ("targets: {reconstruction: input}", "targets: {reconstruction: inputs}",
     "'label', 'parity', 'one_hot', 'mask', 'input'"),
    ("targets: {reconstruction: input}", "targets: {reconstructon: input}", "did you mean 'reconstruction'"),
    ("input_noise: 0.4", "input_noise: -0.4", "greater than 0"),
    ("input_noise: 0.4", "input_noise: {stddev: 0.4, clip: [1, 0]}", "low < high"),
    ("input_noise: 0.4", "input_noise: 0.4\n  augmentation: {rotation_range: 10}", "but not the target 'input'"),
])
def test_bad_target_config_is_located_at_validation(tmp_path, old, new, message):
    result = runner.invoke(app, ["validate", str(spec_with(tmp_path, AUTOENCODER, old, new))])
    assert result.exit_code == 2, result.output
    assert "bad.yaml:" in result.output and message in result.output
    assert "Traceback" not in result.output


@needs_torch
@pytest.mark.parametrize("base, old, new, message", [
    (AUTOENCODER, "targets: {reconstruction: input}", "targets: {reconstruction: mask}", "has no per-pixel masks"),
    (UNET, "targets: {segmentation: mask}", "targets: {}", "per-pixel classes are targets: {segmentation: mask}"),
    (UNET, "targets: {segmentation: mask}", "targets: {segmentation: input}", "needs an output of the input's shape"),
    (UNET, "filters: 4, kernel_size: 3, activation: softmax", "filters: 3, kernel_size: 3, activation: softmax",
     "the masks hold classes 0..3"),
    (UNET, "loss: sparse_categorical_crossentropy", "loss: mse", "use a cross-entropy loss"),
])
def test_bad_target_config_stops_training_with_exit_2(tmp_path, base, old, new, message):
    path = spec_with(tmp_path, base, old, new)
    result = runner.invoke(app, ["train", str(path), "-b", "torch", "--epochs", "1", "--limit", "16",
                                 "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert not (tmp_path / "run" / "history.csv").exists()


def test_make_targets_explains_missing_masks():
    spec = archspec.load(UNET)
    plans = plan_outputs(spec, Training.model_validate(spec.training.model_dump()))
    with pytest.raises(ArchspecError, match="from the data's masks, not from its labels"):
        make_targets(plans, np.zeros(4, np.int64))
    data = load_data("shapes", spec, limit=8)  # no 'mask' target asked for: no masks carried
    with pytest.raises(ArchspecError, match="needs data with per-pixel masks"):
        make_targets(plans, data.train)
    targets = make_targets(plans, load_data("shapes", spec, limit=8, targets={"segmentation": "mask"}).train)
    assert targets[0].shape == (8, 32, 32) and targets[0].dtype == np.int64
