"""Vision models as other people write them, with weights Keras itself initialised and wrote.

Each spec goes: Keras builds it with its own initialisation (batch-norm statistics moved off
their defaults) -> `archspec.save_weights` writes the neutral file -> `archspec export onnx`
from both backends -> onnxruntime gives Keras's outputs; and `archspec check --weights` passes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import archspec
from archspec.check import sample_inputs
from archspec.cli import app
from archspec.onnx import Session
from conftest import needs_both, randomize_batch_norm

pytestmark = [needs_both, pytest.mark.slow]
runner = CliRunner()

UNET = """
name: tiny_unet
description: keras.io's U-Net-like segmentation model, small.
input_shape: [32, 32, 3]
blocks:
  down:
    params: {filters: null}
    layers:
      - {type: Activation, activation: relu, name: relu1}
      - {type: SeparableConv2D, filters: $filters, kernel_size: 3, padding: same, name: sep1}
      - {type: BatchNormalization, name: bn1}
      - {type: Activation, activation: relu, name: relu2}
      - {type: SeparableConv2D, filters: $filters, kernel_size: 3, padding: same, name: sep2}
      - {type: BatchNormalization, name: bn2}
      - {type: MaxPooling2D, pool_size: 3, strides: 2, padding: same, name: pool}
      - {type: Conv2D, filters: $filters, kernel_size: 1, strides: 2, padding: same, inputs: $input, name: shortcut}
      - {type: Add, inputs: [pool, shortcut], name: out}
  up:
    params: {filters: null}
    layers:
      - {type: Activation, activation: relu, name: relu1}
      - {type: Conv2DTranspose, filters: $filters, kernel_size: 3, padding: same, name: deconv1}
      - {type: BatchNormalization, name: bn1}
      - {type: Activation, activation: relu, name: relu2}
      - {type: Conv2DTranspose, filters: $filters, kernel_size: 3, padding: same, name: deconv2}
      - {type: BatchNormalization, name: bn2}
      - {type: UpSampling2D, size: 2, name: upsample}
      - {type: UpSampling2D, size: 2, inputs: $input, name: residual_up}
      - {type: Conv2D, filters: $filters, kernel_size: 1, padding: same, name: shortcut}
      - {type: Add, inputs: [upsample, shortcut], name: out}
layers:
  - {type: Conv2D, filters: 8, kernel_size: 3, strides: 2, padding: same, name: stem}
  - {type: BatchNormalization, name: stem_bn}
  - {type: Activation, activation: relu, name: stem_relu}
  - {block: down, name: down1, filters: 16}
  - {block: down, name: down2, filters: 24}
  - {block: up, name: up1, filters: 24}
  - {block: up, name: up2, filters: 16}
  - {block: up, name: up3, filters: 8}
  - {type: Conv2D, filters: 3, kernel_size: 3, padding: same, activation: softmax, name: mask}
"""

MOBILENET_V3_BLOCKS = """
name: mobilenet_v3_style
description: Inverted residuals with squeeze-excite and hard activations, MobileNetV3-style.
input_shape: [24, 24, 3]
blocks:
  squeeze_excite:
    params: {channels: null, squeezed: null}
    layers:
      - {type: GlobalAveragePooling2D, keepdims: true, name: pool}
      - {type: Conv2D, filters: $squeezed, kernel_size: 1, name: reduce}
      - {type: ReLU, name: relu}
      - {type: Conv2D, filters: $channels, kernel_size: 1, name: expand}
      - {type: Activation, activation: hard_sigmoid, name: gate}
      - {type: Multiply, inputs: [$input, gate], name: out}
  inverted_residual:
    params: {expanded: null, out: null, kernel: 3, stride: 1}
    layers:
      - {type: Conv2D, filters: $expanded, kernel_size: 1, use_bias: false, name: expand}
      - {type: BatchNormalization, epsilon: 0.001, momentum: 0.999, name: expand_bn}
      - {type: Activation, activation: hard_swish, name: expand_act}
      - {type: DepthwiseConv2D, kernel_size: $kernel, strides: $stride, padding: same, use_bias: false, name: dw}
      - {type: BatchNormalization, epsilon: 0.001, momentum: 0.999, name: dw_bn}
      - {type: Activation, activation: hard_swish, name: dw_act}
      - {block: squeeze_excite, name: se, channels: $expanded, squeezed: 8}
      - {type: Conv2D, filters: $out, kernel_size: 1, use_bias: false, name: project}
      - {type: BatchNormalization, epsilon: 0.001, momentum: 0.999, name: project_bn}
layers:
  - {type: Rescaling, scale: 0.00784313725490196, offset: -1.0, name: rescale}
  - {type: Conv2D, filters: 16, kernel_size: 3, strides: 2, padding: same, use_bias: false, name: stem}
  - {type: BatchNormalization, name: stem_bn}
  - {type: Activation, activation: hard_silu, name: stem_act}
  - {block: inverted_residual, name: block1, expanded: 32, out: 16}
  - {type: Add, inputs: [stem_act, block1], name: residual1}
  - {block: inverted_residual, name: block2, expanded: 48, out: 24, kernel: 5, stride: 2}
  - {type: GlobalAveragePooling2D, keepdims: true, name: head_pool}
  - {type: Conv2D, filters: 32, kernel_size: 1, name: head_conv}
  - {type: Activation, activation: hard_swish, name: head_act}
  - {type: Dropout, rate: 0.2, name: head_dropout}
  - {type: Flatten, name: flatten}
  - {type: Dense, units: 5, activation: softmax, name: predictions}
"""

SIGNAL_1D = """
name: signal_autoencoder_1d
description: A 1-D convolutional autoencoder with transposed convolutions, cropping and merges.
input_shape: [48, 2]
layers:
  - {type: Conv1D, filters: 8, kernel_size: 5, padding: causal, activation: elu, name: enc1}
  - {type: MaxPooling1D, pool_size: 2, name: pool1}
  - {type: Conv1D, filters: 12, kernel_size: 3, strides: 2, padding: same, name: enc2}
  - {type: LeakyReLU, negative_slope: 0.1, name: enc2_act}
  - {type: Conv1DTranspose, filters: 8, kernel_size: 3, strides: 2, padding: same, name: dec1}
  - {type: UpSampling1D, size: 2, name: up1}
  - {type: ZeroPadding1D, padding: 1, inputs: pool1, name: skip_pad}
  - {type: Cropping1D, cropping: [1, 1], name: skip}
  - {type: UpSampling1D, size: 2, name: skip_up}
  - {type: Concatenate, inputs: [up1, skip_up], name: joined}
  - {type: Conv1D, filters: 2, kernel_size: 3, padding: same, name: reconstruction}
  - {type: Subtract, inputs: [input, reconstruction], name: residual}
  - {type: GlobalMaxPooling1D, name: peak}
  - {type: Dense, units: 1, activation: sigmoid, name: anomaly}
outputs: [reconstruction, anomaly]
"""

VOLUME_3D = """
name: volume_3d
description: A 3-D CNN with a transposed-convolution decoder, cropping and an average merge.
input_shape: [8, 10, 10, 1]
layers:
  - {type: Conv3D, filters: 4, kernel_size: 3, padding: same, activation: relu, name: c1}
  - {type: BatchNormalization, name: bn1}
  - {type: MaxPooling3D, pool_size: 2, name: p1}
  - {type: Conv3D, filters: 6, kernel_size: [1, 3, 3], padding: same, activation: relu, name: c2}
  - {type: Conv3DTranspose, filters: 4, kernel_size: 2, strides: 2, name: up}
  - {type: Cropping3D, cropping: [[0, 0], [1, 1], [1, 1]], name: crop}
  - {type: Cropping3D, cropping: [[0, 0], [1, 1], [1, 1]], inputs: bn1, name: skip_crop}
  - {type: Average, inputs: [crop, skip_crop], name: avg}
  - {type: GlobalAveragePooling3D, name: gap}
  - {type: Dense, units: 3, activation: softmax, name: probs}
"""

MODELS = {"unet": UNET, "mobilenet_v3_style": MOBILENET_V3_BLOCKS, "signal_1d": SIGNAL_1D, "volume_3d": VOLUME_3D}


@pytest.fixture(scope="module")
def keras_written(tmp_path_factory):
    """name -> (spec file, weights file, Keras model, inputs, Keras's outputs)."""
    cache = {}

    def get(name):
        if name not in cache:
            folder = tmp_path_factory.mktemp(name)
            spec_file = folder / f"{name}.yaml"
            spec_file.write_text(MODELS[name])
            spec = archspec.load(spec_file)
            model = archspec.build(spec, "keras")  # Keras's own initialisation
            randomize_batch_norm(model, seed=5, spread=0.2)
            weights = archspec.save_weights(model, folder / "keras.safetensors")
            xs = sample_inputs(spec, 3, 11)
            outputs = model(xs if len(xs) > 1 else xs[0], training=False)
            outputs = [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
            cache[name] = (spec_file, weights, xs, outputs)
        return cache[name]

    return get


@pytest.mark.parametrize("backend", ["torch", "keras"])
@pytest.mark.parametrize("name", list(MODELS))
def test_export_onnx_gives_keras_outputs(keras_written, tmp_path, name, backend):
    spec_file, weights, xs, expected = keras_written(name)
    out = tmp_path / f"{name}.onnx"
    result = runner.invoke(app, ["export", "onnx", str(spec_file), "-b", backend, "-w", str(weights), "-o", str(out)])
    if result.exit_code == 2 and backend == "keras" and "tf2onnx" in result.output:
        pytest.skip(f"tf2onnx cannot convert {name}: {result.output.strip()[:200]}")
    assert result.exit_code == 0, result.output
    for got, want in zip(Session(out).predict(*xs), expected):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list(MODELS))
def test_check_passes_with_keras_written_weights(keras_written, name):
    spec_file, weights, _, _ = keras_written(name)
    result = runner.invoke(app, ["check", str(spec_file), "--weights", str(weights), "--json", "--batch", "2"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["passed"], result.output
    assert {"keras", "torch", "onnx:torch"} <= set(data["paths"])
