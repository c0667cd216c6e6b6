"""Sequence models as other people write them in Keras, with weights Keras itself wrote.

Each model is written twice: in plain Keras code (keras.Sequential or the functional API, as a
user writes it) and as an archspec spec. The Keras model's variables, moved off their initial
values as training would (biases and normalisation no longer zero and one), are written by
their Keras variable paths into the neutral file -> `archspec export onnx` from both backends ->
onnxruntime gives the Keras model's outputs at two sequence lengths (padded ids and
zero-padded series where the model is masked; two batch sizes for the ViT, whose image size is
fixed); and `archspec check --weights` passes on them (its function, comparing Keras, torch and
onnxruntime on those two exports at lengths 1, 7 and 64).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import archspec
from archspec.check import ComputePath, run_check
from archspec.cli import app
from archspec.onnx import Session
from archspec.weights import read_weights, write_weights
from conftest import needs_both

pytestmark = [needs_both, pytest.mark.slow]
runner = CliRunner()

VOCAB = 50


def bilstm_keras():
    from keras import layers

    from keras import Input, Model

    tokens = Input(shape=(None,), dtype="int32", name="tokens")
    x = layers.Embedding(VOCAB, 8, mask_zero=True, name="embedding")(tokens)
    x = layers.Bidirectional(layers.LSTM(8, return_sequences=True, name="lstm"), name="bilstm1")(x)
    x = layers.Bidirectional(layers.LSTM(8, name="lstm"), name="bilstm2")(x)
    label = layers.Dense(3, activation="softmax", name="label")(x)
    return Model(tokens, label)


BILSTM = """
name: masked_bilstm_classifier
description: Padded token ids, Embedding(mask_zero), two bidirectional LSTMs, a softmax.
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, input_dim: 50, output_dim: 8, mask_zero: true, name: embedding}
  - {type: Bidirectional, layer: {type: LSTM, units: 8, return_sequences: true}, name: bilstm1}
  - {type: Bidirectional, layer: {type: LSTM, units: 8}, name: bilstm2}
  - {type: Dense, units: 3, activation: softmax, name: label}
"""


def gru_stack_keras():
    from keras import Sequential, layers

    return Sequential([
        layers.Input(shape=(None, 3), name="series"),
        layers.Masking(0.0, name="masking"),
        layers.GRU(8, return_sequences=True, name="gru_after"),
        layers.GRU(8, return_sequences=True, reset_after=False, name="gru_before"),
        layers.SimpleRNN(8, return_sequences=True, name="rnn"),
        layers.TimeDistributed(layers.Dense(6, activation="tanh", name="dense"), name="per_step"),
        layers.LSTM(8, go_backwards=True, name="backwards"),
        layers.Dense(2, name="forecast"),
    ])


GRU_STACK = """
name: gru_stack_forecaster
description: A zero-padded series through GRUs (both reset_after), a SimpleRNN, TimeDistributed(Dense) and a backwards LSTM.
inputs: [{name: series, shape: [null, 3]}]
layers:
  - {type: Masking, mask_value: 0.0, name: masking}
  - {type: GRU, units: 8, return_sequences: true, name: gru_after}
  - {type: GRU, units: 8, return_sequences: true, reset_after: false, name: gru_before}
  - {type: SimpleRNN, units: 8, return_sequences: true, name: rnn}
  - {type: TimeDistributed, layer: {type: Dense, units: 6, activation: tanh}, name: per_step}
  - {type: LSTM, units: 8, go_backwards: true, name: backwards}
  - {type: Dense, units: 2, name: forecast}
"""


def vit_keras():
    from keras import Input, Model, layers

    from archspec.layers.core.position_embedding import keras_class

    PositionEmbedding = keras_class()  # as a keras_hub user takes keras_hub.layers.PositionEmbedding
    image = Input(shape=(16, 16, 3), name="image")
    x = layers.Conv2D(8, 4, strides=4, name="patches")(image)
    x = layers.Reshape((16, 8), name="tokens")(x)
    x = layers.Add(name="embedded")([x, PositionEmbedding(16, name="positions")(x)])
    y = layers.LayerNormalization(epsilon=1e-6, name="norm_a")(x)
    y = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="attention")(y, y)
    x = layers.Add(name="residual_a")([x, y])
    y = layers.LayerNormalization(epsilon=1e-6, name="norm_b")(x)
    y = layers.Dense(16, activation="gelu", name="mlp_in")(y)
    y = layers.Dense(8, name="mlp_out")(y)
    x = layers.Add(name="residual_b")([x, y])
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    return Model(image, layers.Dense(5, activation="softmax", name="label")(x))


VIT = """
name: tiny_vit
description: 4x4 patches by a strided Conv2D, learned positions, one pre-norm Transformer block, mean pooling.
input_shape: [16, 16, 3]
layers:
  - {type: Conv2D, filters: 8, kernel_size: 4, strides: 4, name: patches}
  - {type: Reshape, target_shape: [16, 8], name: tokens}
  - {type: PositionEmbedding, sequence_length: 16, name: positions}
  - {type: Add, inputs: [tokens, positions], name: embedded}
  - {type: LayerNormalization, epsilon: 1.0e-6, name: norm_a}
  - {type: MultiHeadAttention, num_heads: 2, key_dim: 4, inputs: [norm_a, norm_a], name: attention}
  - {type: Add, inputs: [embedded, attention], name: residual_a}
  - {type: LayerNormalization, epsilon: 1.0e-6, name: norm_b}
  - {type: Dense, units: 16, activation: gelu, name: mlp_in}
  - {type: Dense, units: 8, name: mlp_out}
  - {type: Add, inputs: [residual_a, mlp_out], name: residual_b}
  - {type: GlobalAveragePooling1D, name: pool}
  - {type: Dense, units: 5, activation: softmax, name: label}
"""


def causal_keras():
    from keras import Input, Model, layers

    from archspec.layers.core.position_embedding import keras_class

    chars = Input(shape=(None,), dtype="int32", name="chars")
    x = layers.Embedding(VOCAB, 8, name="embedding")(chars)
    x = layers.Add(name="embedded")([x, keras_class()(64, name="positions")(x)])
    y = layers.MultiHeadAttention(num_heads=2, key_dim=4, name="attention")(x, x, use_causal_mask=True)
    x = layers.LayerNormalization(epsilon=1e-5, name="norm_a")(layers.Add(name="residual_a")([x, y]))
    y = layers.EinsumDense("abc,cd->abd", output_shape=(None, 16), bias_axes="d", activation="gelu",
                           name="ff_in")(x)
    y = layers.EinsumDense("abc,cd->abd", output_shape=(None, 8), bias_axes="d", name="ff_out")(y)
    x = layers.LayerNormalization(epsilon=1e-5, name="norm_b")(layers.Add(name="residual_b")([x, y]))
    return Model(chars, layers.Dense(VOCAB, activation="softmax", name="next_char")(x))


CAUSAL = """
name: causal_einsum_lm
description: Embedding plus learned positions, causal self-attention, an EinsumDense feed-forward, a softmax per step.
inputs: [{name: chars, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, input_dim: 50, output_dim: 8, name: embedding}
  - {type: PositionEmbedding, sequence_length: 64, name: positions}
  - {type: Add, inputs: [embedding, positions], name: embedded}
  - {type: MultiHeadAttention, num_heads: 2, key_dim: 4, use_causal_mask: true, inputs: [embedded, embedded],
     name: attention}
  - {type: Add, inputs: [embedded, attention], name: residual_a}
  - {type: LayerNormalization, epsilon: 1.0e-5, name: norm_a}
  - {type: EinsumDense, equation: "abc,cd->abd", output_shape: [null, 16], bias_axes: d, activation: gelu,
     name: ff_in}
  - {type: EinsumDense, equation: "abc,cd->abd", output_shape: [null, 8], bias_axes: d, name: ff_out}
  - {type: Add, inputs: [norm_a, ff_out], name: residual_b}
  - {type: LayerNormalization, epsilon: 1.0e-5, name: norm_b}
  - {type: Dense, units: 50, activation: softmax, name: next_char}
"""


def padded_ids(rng, batch, length):
    """Token ids in [1, VOCAB) right-padded with 0 to `length`; one row fills it, one has a single token."""
    lengths = np.concatenate([[length, 1], rng.integers(1, length + 1, batch - 2)])
    ids = rng.integers(1, VOCAB, (batch, length))
    return np.where(np.arange(length) < lengths[:, None], ids, 0).astype(np.int32)


def padded_series(rng, batch, length):
    """A series in N(0, 1), zero steps after each row's own length (one row full, one a single step)."""
    lengths = np.concatenate([[length, 1], rng.integers(1, length + 1, batch - 2)])
    x = rng.normal(0.0, 1.0, (batch, length, 3))
    return np.where((np.arange(length) < lengths[:, None])[..., None], x, 0.0).astype(np.float32)


def plain_ids(rng, batch, length):
    return rng.integers(0, VOCAB, (batch, length)).astype(np.int32)


def images(rng, batch, _):
    return rng.uniform(0.0, 1.0, (batch, 16, 16, 3)).astype(np.float32)


# name -> (the Keras code, the spec, inputs(rng, batch, length), two (batch, length) feeds)
MODELS = {
    "bilstm": (bilstm_keras, BILSTM, padded_ids, ((4, 5), (4, 23))),
    "gru_stack": (gru_stack_keras, GRU_STACK, padded_series, ((4, 5), (4, 23))),
    "vit": (vit_keras, VIT, images, ((2, None), (5, None))),
    "causal": (causal_keras, CAUSAL, plain_ids, ((3, 5), (3, 23))),
}
MASKED = ("bilstm", "gru_stack")  # fed right-padded rows, each of its own length


def neutral_weights(model, spec):
    """The Keras model's variables under the spec's keys, which are their Keras variable paths
    (a Sequential model puts its own name first)."""
    by_path = {v.path.removeprefix(f"{model.name}/"): np.asarray(v) for v in model.weights}
    keys = {f"{node.name}/{w.name}" for node in spec.nodes for w in node.weights}
    assert keys == set(by_path), f"spec only: {keys - set(by_path)}; Keras only: {set(by_path) - keys}"
    return by_path


def as_if_trained(model, seed):
    """Move every variable off Keras's initial values (zero biases, unit gammas) by N(0, 0.2) noise,
    so that a bias or gate laid out in the wrong place changes the outputs."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(np.asarray(variable) + rng.normal(0.0, 0.2, variable.shape).astype("float32"))


def keras_written(name, folder):
    """The spec, its file, the neutral file from the user's Keras model, feeds, and Keras's outputs on them."""
    import keras

    build, text, draw, shapes = MODELS[name]
    spec_file = folder / f"{name}.yaml"
    spec_file.write_text(text)
    spec = archspec.load(spec_file)
    keras.utils.set_random_seed(len(name))
    model = build()
    as_if_trained(model, seed=len(name))
    weights = write_weights(neutral_weights(model, spec), folder / "keras.safetensors", spec, {"backend": "keras"})
    rng = np.random.default_rng(7)
    feeds = [draw(rng, batch, length) for batch, length in shapes]
    assert feeds[0].shape != feeds[1].shape
    # Keras's forward pass, not model.predict: predict's graph, retraced for a second length,
    # runs TimeDistributed over a free time axis with vectorized_map over ops.shape(inputs)[0]
    # taken before its batch/time transpose, so it maps batch-size-many steps (Keras 3.15, TF)
    return spec, spec_file, weights, feeds, [np.asarray(model(x, training=False)) for x in feeds]


# one test per model: its two exports serve both the comparison with Keras and the check
@pytest.mark.parametrize("name", list(MODELS))
def test_keras_written_model_exports_and_checks(tmp_path, name):
    spec, spec_file, weights, feeds, expected = keras_written(name, tmp_path)
    sessions = {}
    for backend in ("torch", "keras"):
        out = tmp_path / f"{name}-{backend}.onnx"
        result = runner.invoke(app, ["export", "onnx", str(spec_file), "-b", backend, "-w", str(weights),
                                     "-o", str(out)])
        assert result.exit_code == 0, result.output
        session = sessions[f"onnx:{backend}"] = Session(out)
        for x, want in zip(feeds, expected):
            (got,) = session.predict(x)
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=0, err_msg=f"{backend} export, input {x.shape}")
        if name in MASKED:
            # a padded row gives what the same row gives unpadded: the padding changes nothing
            x, want = feeds[-1], expected[-1]
            steps = (x.reshape(*x.shape[:2], -1) != 0).any(-1).sum(-1)
            for row, n in enumerate(steps):
                (alone,) = session.predict(x[row:row + 1, :n])
                np.testing.assert_allclose(alone[0], want[row], atol=1e-5, rtol=0,
                                           err_msg=f"{backend} export, row {row} alone ({n} steps)")

    # `archspec check -w keras.safetensors`, its ONNX paths being the two files just exported
    onnx = [ComputePath(path, lambda xs, s=session: s.predict(*xs)) for path, session in sessions.items()]
    report = run_check(spec, read_weights(weights, spec), batch=2, onnx=False, extra_paths=onnx)
    assert report.passed, json.dumps(report.to_dict()["pairs"], indent=1)[:3000]
    assert set(report.paths) == {"keras", "torch", "onnx:torch", "onnx:keras"}
    if name != "vit":
        assert any("(length 64)" in output for output in report.pairs[0]["outputs"])
