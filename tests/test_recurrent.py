"""Recurrent layers (SimpleRNN, LSTM, GRU, ConvLSTM): masks as Keras applies them, every path at
every length, the fused and the step-by-step PyTorch forwards, dropout, refusals, initializers.

The layer contract (tests/test_layer_contract.py) runs each type's examples; here is what an
example cannot hold: masked inputs (Embedding mask_zero in front), stacks, and the ONNX files at
lengths 1, 7 and 64.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from typer.testing import CliRunner

from archspec.errors import ArchspecError
from archspec.spec import loads
from conftest import needs_both, needs_torch

LENGTHS = (1, 7, 64)
VOCAB = 9

# every branch reads the masked embedding; `seq`: returns sequences, `back`: go_backwards
MASKED = """
name: masked_rnns
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, name: emb, input_dim: 9, output_dim: 4, mask_zero: true}
  - {type: LSTM, name: lstm_seq, units: 3, return_sequences: true, inputs: emb}
  - {type: Dense, name: lstm_seq_dense, units: 2}
  - {type: GlobalAveragePooling1D, name: lstm_seq_pool}
  - {type: LSTM, name: lstm_back, units: 3, go_backwards: true, inputs: emb}
  - {type: LSTM, name: lstm_seq_back_zero, units: 2, return_sequences: true, go_backwards: true,
     zero_output_for_mask: true, inputs: emb}
  - {type: GRU, name: gru_seq_back, units: 3, return_sequences: true, go_backwards: true, inputs: emb}
  - {type: GRU, name: gru_v1, units: 3, reset_after: false, inputs: emb}
  - {type: GRU, name: gru_v1_seq_back, units: 2, reset_after: false, return_sequences: true, go_backwards: true,
     inputs: emb}
  - {type: SimpleRNN, name: rnn_seq, units: 3, return_sequences: true, inputs: emb}
  - {type: SimpleRNN, name: rnn_back_relu, units: 3, activation: relu, go_backwards: true, inputs: emb}
outputs: [lstm_seq_dense, lstm_seq_pool, lstm_back, lstm_seq_back_zero, gru_seq_back, gru_v1, gru_v1_seq_back, rnn_seq,
          rnn_back_relu]
"""
# how each output lines up with the unpadded sequence's: the last output, every step, or every
# step in reverse (go_backwards: the padding is processed first)
ALIGN = {"lstm_seq_dense": "seq", "lstm_seq_pool": "last", "lstm_back": "last", "lstm_seq_back_zero": "back",
         "gru_seq_back": "back", "gru_v1": "last", "gru_v1_seq_back": "back", "rnn_seq": "seq", "rnn_back_relu": "last"}

STACKED = """
name: stacked_text
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, name: emb, input_dim: 30, output_dim: 6, mask_zero: true}
  - {type: LSTM, name: lstm, units: 5, return_sequences: true}
  - {type: GRU, name: gru, units: 4}
  - {type: Dense, name: out, units: 3, activation: softmax}
"""


def spec_of(layer: str, shape: str = "[null, 3]") -> str:
    return f"name: one\ninputs: [{{name: x, shape: {shape}}}]\nlayers:\n  - {layer}\n"


def strong_weights(spec, seed: int = 0) -> dict:
    """Weights of N(0, 0.5): outputs far from zero, so that a wrong gate or a skipped step shows."""
    from archspec.weights import init_weights

    rng = np.random.default_rng(seed)
    return {k: rng.normal(0.0, 0.5, v.shape).astype(np.float32) for k, v in init_weights(spec).items()}


def padded_tokens(length: int, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """Right-padded ids (0 is padding): a full row, a half row, one token, and an all-padding row."""
    lengths = [length, max(1, length // 2), 1, 0]
    tokens = np.zeros((len(lengths), length), np.int32)
    rng = np.random.default_rng(seed + length)
    for row, n in enumerate(lengths):
        tokens[row, :n] = rng.integers(1, VOCAB, n)
    return tokens, lengths


@functools.lru_cache(maxsize=None)
def masked_models():
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb

    spec = loads(MASKED)
    weights = strong_weights(spec)
    return spec, weights, kb.build_model(spec, weights), tb.build_model(spec, weights)


def assert_close(actual, expected, what, tolerance=1e-5):
    """Within tolerance, NaN where Keras has NaN (its masked mean of an all-padding row is 0/0)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(actual), nan), f"{what}: NaN in different places"
    diff = float(np.max(np.abs(actual - expected)[~nan]))
    assert diff <= tolerance * max(1.0, float(np.max(np.abs(expected[~nan])))), f"{what}: max |diff| {diff:.3g}"


# ------------------------------------------------------------------ masks


@needs_both
@pytest.mark.parametrize("length", LENGTHS)
def test_masked_rnns_torch_equals_keras(length):
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb

    spec, _, keras_model, torch_model = masked_models()
    tokens, _ = padded_tokens(length)
    expected = kb.predict(keras_model, [tokens])
    for name, a, e in zip(spec.outputs, tb.predict(torch_model, [tokens]), expected):
        assert np.nanmax(np.abs(e)) > 0.05, f"{name}: outputs too small to tell paths apart"
        assert_close(a, e, f"{name} (length {length}) torch vs keras")


@needs_both
@pytest.mark.parametrize("backend", ["keras", "torch"])
def test_a_padded_sequence_gives_the_unpadded_result(backend):
    """The mask skips the padded steps: the last output equals the unpadded sequence's; with
    return_sequences the real steps' outputs do too (after the padding, for go_backwards)."""
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb

    spec, _, keras_model, torch_model = masked_models()
    b, model = (kb, keras_model) if backend == "keras" else (tb, torch_model)
    tokens, lengths = padded_tokens(12)
    padded = dict(zip(spec.outputs, b.predict(model, [tokens])))
    for row, n in enumerate(lengths[:3]):
        alone = dict(zip(spec.outputs, b.predict(model, [tokens[row:row + 1, :n]])))
        for name in spec.outputs:
            got = padded[name][row]
            got = {"last": got, "seq": got[:n], "back": got[12 - n:]}[ALIGN[name]]
            np.testing.assert_allclose(got, alone[name][0], atol=1e-6, err_msg=f"{name}, row of {n} tokens")
    # the all-padding row: no step is processed, the initial state (zeros) comes out
    for name in ("lstm_back", "gru_v1", "rnn_back_relu", "rnn_seq"):
        np.testing.assert_array_equal(padded[name][3], 0.0, err_msg=name)


@needs_both
def test_masked_steps_repeat_the_previous_output_unless_zero_output_for_mask():
    """Keras: with return_sequences a masked step outputs the previous step's output (zeros with
    zero_output_for_mask), and the mask goes on to the layers after it."""
    from archspec.backends import torch as tb

    spec, _, _, torch_model = masked_models()
    tokens, _ = padded_tokens(8)
    out = dict(zip(spec.outputs, tb.predict(torch_model, [tokens])))
    rnn = out["rnn_seq"]
    np.testing.assert_array_equal(rnn[1, 4:], np.repeat(rnn[1, 3:4], 4, axis=0))  # 4 real tokens
    zero = out["lstm_seq_back_zero"]  # backwards: the padding comes first, as zeros
    np.testing.assert_array_equal(zero[1, :4], 0.0)
    assert np.abs(zero[1, 4:]).min() > 0
    # the mask went on through the LSTM and the Dense: the pooling averaged the 4 real steps only
    np.testing.assert_allclose(out["lstm_seq_pool"][1], out["lstm_seq_dense"][1, :4].mean(axis=0), atol=1e-6)


@needs_both
@pytest.mark.slow
@pytest.mark.parametrize("exporter", ["torch", "keras"])
def test_masked_rnns_onnx_at_every_length(tmp_path, exporter):
    """Both exports keep the time axis free: onnxruntime gives Keras's outputs at 1, 7 and 64 steps."""
    pytest.importorskip("onnxruntime")
    import onnx

    from archspec.backends import keras as kb
    from archspec.export.onnx import export_onnx
    from archspec.onnx import Session

    spec, weights, keras_model, _ = masked_models()
    path = export_onnx(spec, weights, tmp_path / "masked.onnx", backend=exporter)
    graph = onnx.load(str(path)).graph
    assert [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim] == ["batch", "tokens_dim1"]
    if exporter == "torch":  # the time loop is an ONNX Scan, not steps unrolled at the traced length
        assert any(node.op_type == "Scan" for node in graph.node)
    session = Session(path)
    for length in LENGTHS:
        tokens, _ = padded_tokens(length)
        for name, a, e in zip(spec.outputs, session.predict(tokens), kb.predict(keras_model, [tokens])):
            assert_close(a, e, f"{name} (length {length}) onnx:{exporter} vs keras")


# ------------------------------------------------------------------ a stack, archspec check


@needs_both
def test_stacked_lstm_gru_check_passes():
    from archspec.check import run_check

    spec = loads(STACKED)
    report = run_check(spec, strong_weights(spec), onnx=False, layers=True)
    assert report.passed, report.to_dict()
    assert {f"out (length {n})" for n in LENGTHS} <= {name for pair in report.pairs for name in pair["outputs"]}


@needs_both
@pytest.mark.slow
def test_stacked_lstm_gru_check_with_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    from archspec.cli import app

    (tmp_path / "stacked.yaml").write_text(STACKED)
    result = CliRunner().invoke(app, ["check", str(tmp_path / "stacked.yaml")])
    assert result.exit_code == 0, result.output
    for path in ("onnx:keras", "onnx:torch"):
        assert path in result.output


# ------------------------------------------------------------------ PyTorch paths


@needs_torch
@pytest.mark.parametrize("layer", [
    "{type: LSTM, name: r, units: 5, return_sequences: true}",
    "{type: LSTM, name: r, units: 4, go_backwards: true, use_bias: false}",
    "{type: GRU, name: r, units: 5, return_sequences: true, go_backwards: true}",
    "{type: GRU, name: r, units: 3, use_bias: false}",
    "{type: SimpleRNN, name: r, units: 4, return_sequences: true}",
    "{type: SimpleRNN, name: r, units: 4, activation: relu, go_backwards: true}",
])
def test_fused_kernels_equal_the_step_loop(layer):
    """Where torch has the cell (torch.lstm & co., gates reordered), it gives the step loop's numbers."""
    import torch

    from archspec.backends import torch as tb

    spec = loads(spec_of(layer))
    model = tb.build_model(spec, strong_weights(spec))
    module = model.layers["r"]
    x = torch.randn(3, 9, 3)
    with torch.no_grad():
        fused = module(x)
        stepped = module(x, mask=torch.ones(3, 9, dtype=torch.bool))  # a mask takes the step loop
    assert module.cfg.fused(module, x.flip(1) if module.cfg.go_backwards else x) is not None
    torch.testing.assert_close(fused, stepped, atol=1e-6, rtol=1e-5)


@needs_torch
def test_torch_export_keeps_the_time_axis_symbolic():
    import torch

    from archspec.backends import torch as tb

    spec = loads(spec_of("{type: GRU, name: r, units: 3, return_sequences: true, reset_after: false}"))
    model = tb.build_model(spec, strong_weights(spec))
    dims = ({0: torch.export.Dim("batch"), 1: torch.export.Dim("time", min=1)},)
    program = torch.export.export(model, (torch.randn(2, 7, 3),), dynamic_shapes=(dims,))
    for length in (1, 13):
        x = torch.randn(2, length, 3)
        torch.testing.assert_close(program.module()(x), model(x))


@needs_torch
def test_the_torchscript_exporter_is_refused_for_a_free_time_axis(tmp_path):
    """Below opset 18 torch.onnx traces: the steps would be unrolled at the traced length."""
    from archspec.export.onnx import export_onnx
    from archspec.weights import init_weights

    spec = loads(spec_of("{type: GRU, name: r, units: 3}"))
    with pytest.raises(ArchspecError, match="opset 18 or above"):
        export_onnx(spec, init_weights(spec), tmp_path / "gru.onnx", backend="torch", opset=17)


@needs_both
@pytest.mark.parametrize("layer, shape", [
    ("{type: ConvLSTM2D, name: r, filters: 2, kernel_size: 3, padding: same, return_sequences: true,"
     " go_backwards: true}", "[null, 2, 5, 4]"),
    ("{type: ConvLSTM1D, name: r, filters: 3, kernel_size: 2, strides: 2, activation: softmax}", "[null, 2, 7]"),
])
def test_conv_lstm_channels_first(layer, shape):
    """(batch, time, channels, *spatial): the contract test's examples are channels_last only."""
    from archspec.backends import keras as kb
    from archspec.backends import torch as tb

    spec = loads(spec_of(layer, shape).replace("inputs:", "data_format: channels_first\ninputs:", 1))
    weights = strong_weights(spec)
    keras_model, torch_model = kb.build_model(spec, weights), tb.build_model(spec, weights)
    for length in (1, 7):
        x = np.random.default_rng(length).normal(size=(2, length, *spec.inputs[0].shape[1:])).astype(np.float32)
        assert_close(tb.predict(torch_model, [x])[0], kb.predict(keras_model, [x])[0], f"length {length}")


# ------------------------------------------------------------------ dropout


@needs_both
@pytest.mark.parametrize("layer", [
    "{type: LSTM, name: r, units: 4, dropout: 0.3, recurrent_dropout: 0.2}",
    "{type: GRU, name: r, units: 4, dropout: 0.3, reset_after: false}",
    "{type: SimpleRNN, name: r, units: 4, recurrent_dropout: 0.4}",
])
def test_dropout_acts_in_training_only(layer):
    import torch

    from archspec.backends import keras as kb
    from archspec.backends import torch as tb

    spec = loads(spec_of(layer))
    assert spec.node("r").layer.stochastic
    weights = strong_weights(spec)
    x = np.random.default_rng(0).normal(size=(4, 6, 3)).astype(np.float32)
    model = tb.build_model(spec, weights)
    assert_close(tb.predict(model, [x])[0], kb.predict(kb.build_model(spec, weights), [x])[0], "inference")
    model.train()
    torch.manual_seed(0)
    a, b = model(torch.as_tensor(x)), model(torch.as_tensor(x))
    assert not torch.allclose(a, b) and torch.isfinite(a).all()
    a.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert not loads(spec_of("{type: LSTM, units: 2}")).nodes[0].layer.stochastic


# ------------------------------------------------------------------ refusals, shapes, initializers


@pytest.mark.parametrize("layer, message", [
    ("{type: LSTM, units: 3, return_state: true}", "return_state is not available"),
    ("{type: GRU, units: 3, stateful: true}", "stateful is not available"),
    ("{type: SimpleRNN, units: 3, unroll: true}", "unroll needs a fixed number of time steps"),
    ("{type: LSTM, units: 3, dropout: 1.0}", "dropout"),
])
def test_what_a_spec_cannot_hold_is_refused_clearly(layer, message):
    with pytest.raises(ArchspecError, match=message):
        loads(spec_of(layer))


def test_refusal_exit_code_two(tmp_path):
    from archspec.cli import app

    (tmp_path / "bad.yaml").write_text(spec_of("{type: LSTM, units: 3, return_state: true}"))
    result = CliRunner().invoke(app, ["summary", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2 and "return_state" in result.output and "Traceback" not in result.output


def test_shapes_params_and_macs():
    from archspec.summary import summarize

    spec = loads(STACKED)
    assert spec.node("lstm").output_shape == (None, 5)
    assert spec.node("gru").output_shape == (4,)
    assert spec.node("lstm").params == 4 * (6 * 5 + 5 * 5 + 5)
    assert spec.node("gru").params == 3 * (5 * 4 + 4 * 4 + 2 * 4)
    keys = {k: w.shape for k, w in spec.weight_keys().items()}
    assert keys["lstm/lstm_cell/kernel"] == (6, 20) and keys["gru/gru_cell/bias"] == (2, 12)
    macs = {layer["name"]: layer["macs"] for layer in summarize(spec, length=10)["layers"]}
    assert macs["lstm"] == 10 * (6 + 5) * 20 and macs["gru"] == 10 * (5 + 4) * 12


@needs_torch
def test_orthogonal_and_unit_forget_bias_initializers():
    """Keras's defaults: an orthogonal recurrent kernel (seeded and unseeded builds) and the LSTM
    forget gate's bias at 1."""
    from archspec.backends import torch as tb
    from archspec.weights import init_weights

    spec = loads(spec_of("{type: LSTM, name: r, units: 3}"))
    seeded = init_weights(spec, seed=4)
    assert np.array_equal(seeded["r/lstm_cell/recurrent_kernel"], init_weights(spec, seed=4)["r/lstm_cell/recurrent_kernel"])
    unseeded = tb.build_model(spec).get_neutral_weights()
    for weights in (seeded, unseeded):
        kernel = weights["r/lstm_cell/recurrent_kernel"]  # (3, 12): orthonormal rows
        np.testing.assert_allclose(kernel @ kernel.T, np.eye(3), atol=1e-5)
        np.testing.assert_array_equal(weights["r/lstm_cell/bias"], [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    dense = loads(spec_of("{type: Dense, name: d, units: 3, kernel_initializer: orthogonal}", "[5]"))
    kernel = init_weights(dense, seed=0)["d/kernel"]  # (5, 3): orthonormal columns
    np.testing.assert_allclose(kernel.T @ kernel, np.eye(3), atol=1e-5)
