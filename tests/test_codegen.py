"""`archspec codegen`: the generated PyTorch and Keras modules run where archspec cannot be imported,
load archspec's seeded neutral weights and compute what archspec's own builds compute, for every
spec file and every example of every registered layer type; they pass ruff; they are deterministic;
what cannot be written is refused by name.

One subprocess (`python -I tests/codegen_runner.py`, archspec blocked on the meta path) runs every
generated module of a backend, so the whole file costs a few framework start-ups.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from archspec.layers import LAYERS, list_layers
from archspec.spec import load, loads
from conftest import ROOT, needs_keras, needs_torch

SPECS = sorted((ROOT / "specs").glob("*.yaml"))
RUNNER = ROOT / "tests" / "codegen_runner.py"
GOLDEN = ROOT / "tests" / "golden" / "codegen_resnet_cifar_torch.py"
TOLERANCE = 1e-6
# specs as others write them: RNNs reading a padded sequence (Embedding mask_zero, Masking) and a
# Transformer whose attention takes a padding mask and a causal one
OTHERS = {
    "masked_rnns": """
name: masked_rnns
inputs: [{name: tokens, shape: [null], dtype: int32}, {name: signal, shape: [6, 3]}]
layers:
  - {type: Embedding, input_dim: 20, output_dim: 8, mask_zero: true, inputs: tokens, name: embed}
  - {type: LSTM, units: 6, return_sequences: true, name: lstm}
  - {type: GRU, units: 5, return_sequences: true, go_backwards: true, name: gru}
  - {type: GRU, units: 4, reset_after: false, return_sequences: true, zero_output_for_mask: true, name: gru_v1}
  - {type: GlobalAveragePooling1D, name: pool}
  - {type: Masking, mask_value: 0.0, inputs: signal, name: masking}
  - {type: SimpleRNN, units: 4, activation: relu, name: rnn}
  - {type: Concatenate, inputs: [pool, rnn], name: joined}
  - {type: Dense, units: 3, activation: softmax, name: out}
outputs: [out]
""",
    "masked_transformer": """
name: masked_transformer
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, input_dim: 30, output_dim: 8, mask_zero: true, name: embed}
  - {type: PositionEmbedding, sequence_length: 16, name: positions}
  - {type: Add, inputs: [embed, positions], name: embedded}
  - {type: LayerNormalization, name: norm}
  - {type: MultiHeadAttention, num_heads: 2, key_dim: 4, use_causal_mask: true, inputs: [norm, norm], name: attention}
  - {type: Add, inputs: [embedded, attention], name: residual}
  - {type: MultiHeadAttention, num_heads: 2, key_dim: 3, value_dim: 5, dropout: 0.1, inputs: [residual, embed], name: cross}
  - {type: Dense, units: 16, activation: gelu, name: mlp}
  - {type: GlobalAveragePooling1D, name: pool}
  - {type: Dense, units: 2, name: out}
""",
    "bidirectional": """
name: bidirectional
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, input_dim: 20, output_dim: 6, mask_zero: true, name: embed}
  - {type: Bidirectional, layer: {type: LSTM, units: 3, return_sequences: true}, name: bi}
  - {type: Bidirectional, layer: {type: GRU, units: 2, reset_after: false}, merge_mode: ave, name: bi2}
  - {type: Dense, units: 2, name: out}
""",
    # masks through blocks: repeated encoder blocks read the padding mask made outside them, and a
    # block makes the mask a pooling layer outside it reads
    "block_transformer": """
name: block_transformer
inputs: [{name: tokens, shape: [null], dtype: int32}]
blocks:
  encoder:
    params: {heads: 2}
    layers:
      - {type: MultiHeadAttention, num_heads: $heads, key_dim: 4, inputs: [$input, $input], name: attention}
      - {type: Add, inputs: [$input, attention], name: residual}
      - {type: LayerNormalization, name: norm}
      - {type: Dense, units: 8, activation: relu, name: ff}
      - {type: Add, inputs: [norm, ff], name: out}
  reader:
    layers:
      - {type: Embedding, input_dim: 20, output_dim: 8, mask_zero: true, name: embed}
      - {type: GRU, units: 8, return_sequences: true, name: gru}
layers:
  - {type: Embedding, input_dim: 30, output_dim: 8, mask_zero: true, name: embed}
  - {block: encoder, name: block, repeat: 2}
  - {type: GlobalAveragePooling1D, name: pool}
  - {block: reader, name: reader, inputs: tokens}
  - {type: GlobalMaxPooling1D, name: reader_pool}
  - {type: Concatenate, inputs: [pool, reader_pool], name: joined}
  - {type: Dense, units: 2, name: out}
""",
    # keras.applications' BatchNormalization without scale (Inception) or center, Dropout with noise_shape
    "half_batch_norm": """
name: half_batch_norm
input_shape: [8, 8, 3]
layers:
  - {type: Conv2D, filters: 4, kernel_size: 3, use_bias: false}
  - {type: BatchNormalization, scale: false}
  - {type: Dropout, rate: 0.2, noise_shape: [null, 1, 1, 4]}
  - {type: BatchNormalization, center: false}
  - {type: GlobalAveragePooling2D}
""",
}



def _activations_text() -> str:
    """Every activation name as a layer and as a Dense's activation, and the axis ones after a
    Conv2D, whose channels_last output runs channels-first inside the torch model."""
    from typing import get_args

    from archspec.activations import AXIS_ACTIVATIONS, ActivationName

    names = get_args(ActivationName)
    layers = [f"  - {{type: Activation, activation: {n}, inputs: vec, name: act_{n}}}" for n in names]
    layers += [f"  - {{type: Dense, units: 4, activation: {n}, inputs: vec, name: dense_{n}}}" for n in names]
    layers.append("  - {type: Conv2D, filters: 4, kernel_size: 3, inputs: image, name: conv}")
    layers += [f"  - {{type: Activation, activation: {n}, inputs: conv, name: conv_{n}}}" for n in sorted(AXIS_ACTIVATIONS)]
    outputs = [f"act_{n}" for n in names] + [f"dense_{n}" for n in names] + [f"conv_{n}" for n in sorted(AXIS_ACTIVATIONS)]
    return ("name: activations\ninputs: [{name: vec, shape: [6]}, {name: image, shape: [5, 5, 3]}]\nlayers:\n"
            + "\n".join(layers) + f"\noutputs: [{', '.join(outputs)}]\n")


OTHERS["activations"] = _activations_text()


def _by_others() -> dict[str, str]:
    """The specs of test_vision_by_others and test_sequences_by_others: a U-Net, MobileNetV3 blocks,
    1-D and 3-D CNNs, a masked BiLSTM, a GRU stack, a ViT, a causal Transformer."""
    import test_sequences_by_others as sequences
    import test_vision_by_others as vision

    texts = [vision.UNET, vision.MOBILENET_V3_BLOCKS, vision.SIGNAL_1D, vision.VOLUME_3D, sequences.BILSTM,
             sequences.GRU_STACK, sequences.VIT, sequences.CAUSAL]
    return {loads(text).name: text for text in texts}


OTHERS.update(_by_others())


def _contract_text(examples: dict[str, set[int]], data_format: str) -> str | None:
    """The layer contract's spec of the given examples ({type: example indices}) in one data format."""
    import yaml
    from test_layer_contract import _cases

    inputs, layers, outputs = [], [], []
    for type_name, indices in examples.items():
        for index, (name, entry, shapes, example) in enumerate(_cases(type_name, data_format)):
            if index not in indices:
                continue
            names = [f"{name}_in{k}" for k in range(len(shapes))]
            dtypes = example.input_dtypes or ("float32",) * len(shapes)
            inputs += [{"name": n, "shape": list(s), **({"dtype": d} if d != "float32" else {})}
                       for n, s, d in zip(names, shapes, dtypes)]
            layers.append({**entry, "name": name, "inputs": names if len(names) > 1 else names[0]})
            outputs.append(name)
    if not layers:
        return None
    return yaml.safe_dump({"name": "contract", "data_format": data_format, "inputs": inputs, "layers": layers,
                           "outputs": outputs}, sort_keys=False)


def _specs_for(backend: str):
    """(name, spec, source) of every spec file, and per registered type and data format one spec of
    the examples the backend can write (as the layer contract builds them); plus {case: refusal}."""
    from archspec.codegen import CodegenError, generate
    from test_layer_contract import FORMATS

    usable, refused, covered = [], {}, set()

    def attempt(name, spec):
        try:
            usable.append((name, spec, generate(spec, backend)))
            return True
        except CodegenError as exc:
            refused[name] = str(exc)
            return False

    chosen = os.environ.get("ARCHSPEC_CONTRACT_TYPES")  # while developing a type: its examples alone
    if not chosen:
        for path in SPECS:
            attempt(path.stem, load(path))
        for name, text in OTHERS.items():
            attempt(name, loads(text))
    for data_format in FORMATS:  # one model per data format: every example the backend can write
        accepted: dict[str, set[int]] = {}
        for type_name in chosen.split(",") if chosen else list_layers():
            for index in range(len(LAYERS[type_name].examples)):
                text = _contract_text({type_name: {index}}, data_format)
                if text is None:
                    continue
                try:
                    generate(loads(text), backend)
                    accepted.setdefault(type_name, set()).add(index)
                except CodegenError as exc:
                    refused[f"{type_name}_{index}_{data_format}"] = str(exc)
                    assert type_name in str(exc), str(exc)  # a refusal names the type it cannot write
        attempt(f"contract_{data_format}", loads(_contract_text(accepted, data_format)))
        covered.update(accepted)
    return usable, refused, covered


def _run(backend: str, tmp_path: Path, cases, export: str | None = None) -> dict[str, str]:
    """Write each case's module, weights and inputs; run them all in one isolated subprocess and
    compare with archspec's own build of the same backend. Returns {case: problem}."""
    from archspec.check import sample_inputs
    from archspec.weights import init_weights, write_weights

    if backend == "torch":
        from archspec.backends.torch import build_model, predict
    else:
        from archspec.backends.keras import build_model, predict
    jobs, expected = [], {}
    for name, spec, source in cases:
        (tmp_path / f"{name}.py").write_text(source)
        weights = init_weights(spec, seed=1, randomize_statistics=True)
        write_weights(weights, tmp_path / f"{name}.safetensors", spec)
        arrays = sample_inputs(spec, 2, 0, normal=True)
        np.savez(tmp_path / f"{name}_in.npz", *arrays)
        expected[name] = predict(build_model(spec, weights), arrays)
        jobs.append({"name": name, "module": str(tmp_path / f"{name}.py"), "backend": backend,
                     "weights": str(tmp_path / f"{name}.safetensors"), "inputs": str(tmp_path / f"{name}_in.npz"),
                     "outputs": str(tmp_path / f"{name}_out.npz"), "export": name == export})
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    result = subprocess.run([sys.executable, "-I", str(RUNNER), str(tmp_path / "jobs.json")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    problems = json.loads(result.stdout.strip().splitlines()[-1])
    for name, outputs in expected.items():
        if name in problems:
            continue
        got = np.load(tmp_path / f"{name}_out.npz")
        for index, want in enumerate(outputs):
            have = got[f"arr_{index}"]
            if have.shape != want.shape:
                problems[name] = f"output {index}: shape {have.shape} != {want.shape}"
            elif want.size and float(np.max(np.abs(have - want))) > TOLERANCE * max(1.0, float(np.max(np.abs(want)))):
                problems[name] = f"output {index}: max |diff| {float(np.max(np.abs(have - want))):.3g}"
    return problems


def _ruff(directory: Path) -> None:
    for args in (["check", "--isolated", "-q"], ["format", "--isolated", "--check", "-q"]):
        result = subprocess.run([sys.executable, "-m", "ruff", *args, str(directory)], capture_output=True, text=True)
        assert result.returncode == 0, f"ruff {args[0]}: {result.stdout[-3000:]}{result.stderr[-1000:]}"


@pytest.mark.parametrize("backend", [pytest.param("torch", marks=needs_torch), pytest.param("keras", marks=needs_keras)])
def test_generated_modules_compute_what_archspec_builds(backend, tmp_path):
    cases, refused, covered = _specs_for(backend)
    covered |= {name for name, _, _ in cases}
    if os.environ.get("ARCHSPEC_CONTRACT_TYPES"):
        problems = _run(backend, tmp_path, cases)
        assert not problems and not refused, (problems, refused)
        return
    assert not refused, refused  # every example of every registered type, in both data formats
    assert set(list_layers()) <= covered, sorted(set(list_layers()) - covered)
    expected = {p.stem for p in SPECS} | set(OTHERS)  # every spec file, sequence models included
    assert expected <= covered, sorted(expected - covered)
    problems = _run(backend, tmp_path, cases, export="resnet_cifar" if backend == "torch" else "contract_channels_last")
    assert not problems, problems
    _ruff(tmp_path)


@needs_torch
def test_golden_file_and_determinism():
    from archspec.codegen import generate

    spec = load(ROOT / "specs" / "resnet_cifar.yaml")
    source = generate(spec, "torch")
    assert source == generate(load(ROOT / "specs" / "resnet_cifar.yaml"), "torch")
    assert source == GOLDEN.read_text(), "regenerate tests/golden/ if the change is meant"
    assert "import archspec" not in source and "from archspec" not in source
    assert "class Basic(nn.Module):" in source and "nn.Sequential(*blocks)" in source


# a Keras mask made anew in each block of a repeat (nn.Sequential passes one tensor)
MASK_IN_REPEAT = """
inputs: [{name: x, shape: [null, 3]}]
blocks:
  masked:
    layers:
      - {type: Masking, name: masking}
      - {type: LSTM, units: 3, return_sequences: true, name: lstm}
layers:
  - {block: masked, name: enc, repeat: 2}
  - {type: GlobalAveragePooling1D}
"""


def test_refusal_is_a_clean_exit_2(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(MASK_IN_REPEAT)
    result = subprocess.run([str(Path(sys.executable).parent / "archspec"), "codegen", str(spec), "-b", "torch", "-o",
                             str(tmp_path / "out.py")], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "repeated block 'enc'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.py").exists()


@pytest.mark.slow
@needs_torch
def test_resnet50_reads_like_a_model_file(tmp_path):
    from archspec.codegen import generate

    spec = load(ROOT / "specs" / "keras_applications" / "resnet50.yaml")
    source = generate(spec, "torch")
    assert source.count("\n") < 170
    assert "class Bottleneck(nn.Module):" in source and "class Stage(nn.Module):" in source
    problems = _run("torch", tmp_path, [("resnet50", spec, source)])
    assert not problems, problems


@pytest.mark.slow
@pytest.mark.parametrize("backend", [pytest.param("torch", marks=needs_torch), pytest.param("keras", marks=needs_keras)])
def test_applications_through_generated_code(backend, tmp_path):
    """Two keras.applications models whose blocks use most of the vision vocabulary (squeeze and
    excitation, hard swish, depthwise convolutions, Normalization, Rescaling), run from generated code."""
    from archspec.codegen import generate

    cases = [(name, spec, generate(spec, backend)) for name in ("mobilenet_v3_small", "efficientnet_b0")
             for spec in [load(ROOT / "specs" / "keras_applications" / f"{name}.yaml")]]
    problems = _run(backend, tmp_path, cases)
    assert not problems, problems
