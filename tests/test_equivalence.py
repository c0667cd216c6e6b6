"""Keras and PyTorch compute the same function from the same weights (issue: one spec, one function)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import archspec
from archspec.check import run_check, sample_inputs
from archspec.cli import app
import archspec.weights
from archspec.weights import init_weights, read_weights
from conftest import ODD_STRIDE2_SAME, SPECS, TWO_IN_TWO_OUT, needs_both, randomize_batch_norm

pytestmark = needs_both
ALL_SPECS = sorted(SPECS.glob("*.yaml"))

@pytest.mark.parametrize("path", ALL_SPECS, ids=lambda p: p.stem)
def test_check_passes_on_every_spec(path):
    result = CliRunner().invoke(app, ["check", str(path), "--json", "--batch", "3"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert data["passed"] is True and data["max_abs_diff"] <= 1e-5
    assert data["paths"] == ["keras", "torch", "onnx:keras", "onnx:torch"]


@pytest.mark.slow
def test_resnet50_with_keras_written_weights_agrees_in_both_backends(tmp_path):
    import keras
    import torch

    spec = archspec.load(SPECS / "keras_applications" / "resnet50.yaml")
    reference = keras.applications.ResNet50(weights=None)  # Keras's own model and initialisation
    randomize_batch_norm(reference)
    # keras.applications names conv2_block1_0_conv; our blocks name it conv2/block1/0_conv
    keyed = {layer.name: layer for layer in reference.layers}
    weights = {}
    for node in spec.nodes:
        if not node.weights:
            continue
        layer = keyed[_keras_applications_name(node.name)]
        for weight, value in zip(node.weights, layer.get_weights()):
            weights[f"{node.name}/{weight.name}"] = np.asarray(value, np.float32)
    path = tmp_path / "resnet50.safetensors"
    archspec.weights.write_weights(weights, path, spec)
    x = np.random.default_rng(1).uniform(0, 1, (2, 224, 224, 3)).astype(np.float32)
    expected = np.asarray(reference(x, training=False))
    got_keras = np.asarray(archspec.build(spec, "keras", weights=path)(x, training=False))
    with torch.no_grad():
        got_torch = archspec.build(spec, "torch", weights=path)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got_keras, expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(got_torch, expected, atol=1e-5, rtol=0)


def _keras_applications_name(name: str) -> str:
    """conv3/block_2/1_conv (repeat 2 of the identity block, i.e. block 3) -> conv3_block3_1_conv."""
    parts = name.split("/")
    if len(parts) == 3:
        stage, block, layer = parts
        number = 1 if block == "block1" else int(block.split("_")[1]) + 1
        return f"{stage}_block{number}_{layer}"
    return name


@pytest.mark.parametrize("text", [ODD_STRIDE2_SAME, TWO_IN_TWO_OUT], ids=["odd_stride2_same", "two_in_two_out"])
def test_check_on_specs_written_by_others(text):
    report = run_check(archspec.loads(text), batch=5, layers=True)
    assert report.passed, report.to_dict()
    assert report.first_divergent_layer is None and report.max_abs_diff <= 1e-5


def test_check_layers_names_the_first_divergent_layer(monkeypatch):
    from archspec.layers.pooling.average_pooling2d import AveragePooling2D

    spec = archspec.loads(ODD_STRIDE2_SAME)
    original = AveragePooling2D.torch_forward
    monkeypatch.setattr(AveragePooling2D, "torch_forward", lambda self, module, x: original(self, module, x) * 1.01)
    report = run_check(spec, batch=2, layers=True)
    assert not report.passed
    assert report.first_divergent_layer == "average_pooling2d"


def test_check_exit_code_is_1_when_paths_disagree(monkeypatch, tmp_path):
    from archspec.backends.torch import ops

    monkeypatch.setattr(ops, "activation", lambda name, dim=-1: (lambda x: x))  # break every activation
    path = tmp_path / "mlp.yaml"
    path.write_text("input_shape: [4]\nlayers:\n  - {type: Dense, units: 3, activation: tanh}\n")
    result = CliRunner().invoke(app, ["check", str(path), "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["passed"] is False


# ---------------------------------------------------------------- per-layer equivalence over many configurations

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "elu", "selu", "gelu", "silu", "relu6", "leaky_relu", "softmax"]


@st.composite
def conv_stacks(draw):
    h, w = draw(st.integers(5, 17)), draw(st.integers(5, 17))
    channels = draw(st.integers(1, 4))
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]))
    layers = []
    k, s = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2)) if s == 1 else 1
    padding = draw(st.sampled_from(["same", "valid"])) if max(h, w) >= k * dilation else "same"
    padding = "same" if min(h, w) < (k - 1) * dilation + 1 else padding
    layers.append(f"{{type: Conv2D, filters: {draw(st.integers(1, 6))}, kernel_size: {k}, strides: {s}, "
                  f"padding: {padding}, dilation_rate: {dilation}, use_bias: {str(draw(st.booleans())).lower()}, "
                  f"activation: {draw(st.sampled_from(ACTIVATIONS))}}}")
    pool = draw(st.sampled_from(["MaxPooling2D", "AveragePooling2D", None]))
    if pool:
        layers.append(f"{{type: {pool}, pool_size: {draw(st.integers(1, 3))}, strides: {draw(st.integers(1, 3))}, padding: same}}")
    if draw(st.booleans()):
        layers.append(f"{{type: ZeroPadding2D, padding: [[{draw(st.integers(0, 2))}, {draw(st.integers(0, 2))}], [0, 1]]}}")
    if draw(st.booleans()):
        axis = 1 if fmt == "channels_first" else -1
        layers.append(f"{{type: BatchNormalization, axis: {axis}, epsilon: {draw(st.sampled_from([0.001, 1.001e-5]))}}}")
    head = draw(st.sampled_from(["Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D"]))
    layers.append(f"{{type: {head}}}")
    layers.append(f"{{type: Dense, units: {draw(st.integers(1, 5))}, activation: {draw(st.sampled_from(ACTIVATIONS))}}}")
    shape = [channels, h, w] if fmt == "channels_first" else [h, w, channels]
    return f"data_format: {fmt}\ninput_shape: {shape}\nlayers:\n" + "".join(f"  - {l}\n" for l in layers)


@given(text=conv_stacks(), seed=st.integers(0, 1000))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_conv_stacks_agree(text, seed):
    try:
        spec = archspec.loads(text)
    except archspec.ArchspecError:
        return  # a configuration that does not fit its input; shapes are tested elsewhere
    report = run_check(spec, batch=2, seed=seed, layers=True)
    assert report.passed, (text, report.first_divergent_layer, report.max_abs_diff)


@given(rank=st.integers(1, 3), units=st.integers(1, 6), seed=st.integers(0, 100))
@settings(max_examples=10, deadline=None)
def test_dense_reshape_rescaling_on_higher_rank(rank, units, seed):
    shape = [3, 4, 5][:rank]
    text = (f"input_shape: {shape}\nlayers:\n  - {{type: Rescaling, scale: 0.5, offset: -0.25}}\n"
            f"  - {{type: Dense, units: {units}, activation: softmax}}\n  - {{type: Reshape, target_shape: [-1]}}\n"
            f"  - {{type: Dropout, rate: 0.5}}\n  - {{type: Dense, units: 2}}\n")
    assert run_check(archspec.loads(text), batch=3, seed=seed).passed


def test_concatenate_on_the_channel_axis_and_add():
    text = (
        "input_shape: [6, 6, 2]\nlayers:\n"
        "  - {type: Conv2D, filters: 3, kernel_size: 3, padding: same, name: a}\n"
        "  - {type: Conv2D, filters: 2, kernel_size: 1, name: b, inputs: input}\n"
        "  - {type: Concatenate, inputs: [a, b, input], name: c}\n"
        "  - {type: Concatenate, axis: 1, inputs: [c, c], name: rows}\n"
        "  - {type: Add, inputs: [b, input], name: sum}\n"
        "  - {type: Activation, activation: softmax, inputs: sum, name: soft}\n"
        "outputs: [rows, soft]\n"
    )
    assert run_check(archspec.loads(text), batch=2, layers=True).passed


# ---------------------------------------------------------------- weights


def test_weight_round_trip_is_bit_exact(tmp_path):
    spec = archspec.load(SPECS / "resnet_cifar.yaml")
    keras_model = archspec.build(spec, "keras")  # Keras's own initialisation
    archspec.save_weights(keras_model, tmp_path / "k.safetensors")
    torch_model = archspec.build(spec, "torch", weights=tmp_path / "k.safetensors")
    archspec.save_weights(torch_model, tmp_path / "t.safetensors")
    keras_again = archspec.build(spec, "keras", weights=tmp_path / "t.safetensors")
    archspec.save_weights(keras_again, tmp_path / "k2.safetensors")
    first, last = read_weights(tmp_path / "k.safetensors"), read_weights(tmp_path / "k2.safetensors")
    assert first.keys() == last.keys() == spec.weight_keys().keys()
    for key in first:
        assert first[key].dtype == np.float32
        np.testing.assert_array_equal(first[key], last[key])


def test_keras_written_weights_with_random_statistics_give_keras_outputs(tmp_path):
    spec = archspec.load(SPECS / "resnet_cifar.yaml")
    keras_model = archspec.build(spec, "keras")
    randomize_batch_norm(keras_model, seed=7, spread=0.3)
    archspec.save_weights(keras_model, tmp_path / "w.safetensors")
    x = sample_inputs(spec, 4, 1)
    expected = np.asarray(keras_model(x[0], training=False))
    for backend in ("torch", "keras"):
        model = archspec.build(spec, backend, weights=tmp_path / "w.safetensors")
        if backend == "torch":
            import torch

            with torch.no_grad():
                got = model(torch.from_numpy(x[0])).numpy()
        else:
            got = np.asarray(model(x[0], training=False))
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_seeded_builds_start_from_identical_weights():
    spec = archspec.load(SPECS / "fashion_cnn.yaml")
    k = archspec.get_weights(archspec.build(spec, "keras", seed=3))
    t = archspec.get_weights(archspec.build(spec, "torch", seed=3))
    for key in k:
        np.testing.assert_array_equal(k[key], t[key])
    other = archspec.get_weights(archspec.build(spec, "torch", seed=4))
    assert not np.array_equal(other["dense/kernel"], t["dense/kernel"])


@pytest.mark.parametrize("initializer, check", [
    ("glorot_uniform", lambda a, fan_in, fan_out: abs(a).max() <= np.sqrt(6 / (fan_in + fan_out))),
    ("he_normal", lambda a, fan_in, fan_out: abs(a.std() - np.sqrt(2 / fan_in)) < 0.1 * np.sqrt(2 / fan_in)),
    ("uniform", lambda a, fan_in, fan_out: abs(a).max() <= 0.05 and abs(a).max() > 0.045),
    ("normal", lambda a, fan_in, fan_out: abs(a.std() - 0.05) < 0.005),
    ("lecun_uniform", lambda a, fan_in, fan_out: abs(a).max() <= np.sqrt(3 / fan_in)),
])
def test_torch_native_initialisation_follows_keras_distributions(initializer, check):
    spec = archspec.loads(f"input_shape: [300]\nlayers:\n  - {{type: Dense, units: 200, kernel_initializer: {initializer}}}\n")
    for backend in ("torch", "keras"):
        kernel = archspec.get_weights(archspec.build(spec, backend))["dense/kernel"]
        assert check(kernel, 300, 200), backend


def test_loading_mismatched_weights_names_the_key_and_both_shapes(tmp_path):
    from archspec.weights import write_weights

    spec = archspec.load(SPECS / "pima_mlp.yaml")
    weights = init_weights(spec, 0)
    weights["dense/kernel"] = np.zeros((8, 13), np.float32)
    weights["extra/kernel"] = np.zeros((1,), np.float32)
    del weights["dense_2/bias"]
    write_weights(weights, tmp_path / "bad.safetensors")
    result = CliRunner().invoke(app, ["build", str(SPECS / "pima_mlp.yaml"), "-b", "torch", "-w",
                                      str(tmp_path / "bad.safetensors"), "-o", str(tmp_path / "m.pt")])
    assert result.exit_code == 2
    assert "weight 'dense/kernel' has shape [8, 13], the spec needs [8, 12]" in result.output
    assert "missing weight 'dense_2/bias'" in result.output and "unexpected weight 'extra/kernel'" in result.output
    assert not (tmp_path / "m.pt").exists()


def test_build_writes_native_artifacts(tmp_path):
    import keras
    import torch

    runner = CliRunner()
    spec_path = str(SPECS / "mnist_cnn.yaml")
    assert runner.invoke(app, ["weights", "init", spec_path, "--seed", "5", "-o", str(tmp_path / "w.safetensors")]).exit_code == 0
    for backend, name in (("keras", "m.keras"), ("torch", "m.pt")):
        result = runner.invoke(app, ["build", spec_path, "-b", backend, "-w", str(tmp_path / "w.safetensors"),
                                     "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    state = torch.load(tmp_path / "m.pt", weights_only=True)
    assert set(state) == {"layers.conv.weight", "layers.conv.bias", "layers.dense.weight", "layers.dense.bias"}
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    x = sample_inputs(archspec.load(spec_path), 2, 0)[0]
    torch_model = archspec.build(spec_path, "torch")
    torch_model.load_state_dict(state)
    with torch.no_grad():
        np.testing.assert_allclose(torch_model(torch.from_numpy(x)).numpy(), np.asarray(loaded(x)), atol=1e-6)


def test_frozen_layers_have_no_gradients_and_keep_batch_norm_statistics():
    import torch

    spec = archspec.loads(
        "input_shape: [6, 6, 2]\nlayers:\n  - {type: Conv2D, filters: 2, kernel_size: 3, trainable: false}\n"
        "  - {type: BatchNormalization, trainable: false}\n  - {type: Flatten}\n  - {type: Dense, units: 2}\n"
    )
    model = archspec.build(spec, "torch", seed=0).train()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["layers.conv2d.weight", "layers.conv2d.bias", "layers.batch_normalization.weight",
                      "layers.batch_normalization.bias"]
    before = model.layers["batch_normalization"].running_mean.clone()
    model(torch.rand(4, 6, 6, 2)).sum().backward()
    assert torch.equal(before, model.layers["batch_normalization"].running_mean)
