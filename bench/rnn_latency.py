"""Batch-1 CPU latency of sequence models: onnxruntime on archspec's ONNX exports vs PyTorch eager vs Keras,
and archspec's PyTorch LSTM against a hand-written `torch.nn.LSTM` of the same sizes.

Models: an LSTM text classifier (token ids -> Embedding(8000, 64) -> LSTM(128) -> Dense(2, softmax), 100
tokens) and specs/vit_mnist.yaml. Same weights everywhere, medians of interleaved repeats. The nn.LSTM
baseline gets archspec's weights (Keras's gate order i, f, c, o is torch's i, f, g, o; one bias), and the
two are checked to compute the same before they are timed. Target: archspec's LSTM within 1.2x of
nn.LSTM where no mask is used.

Run: .venv/bin/python bench/rnn_latency.py [--repeats 100] [--steps 100] [--threads N]
(--threads: intra-op threads of torch, TensorFlow and onnxruntime alike; default: each library's own.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import torch

import archspec
from archspec.backends.keras import build_model as build_keras
from archspec.export.onnx import export_onnx
from archspec.onnx import Session
from archspec.weights import init_weights

SPECS = Path(__file__).resolve().parent.parent / "specs"

TEXT_LSTM = """
name: text_lstm
inputs: [{name: tokens, shape: [null], dtype: int32}]
layers:
  - {type: Embedding, input_dim: 8000, output_dim: 64, name: embedding}
  - {type: LSTM, units: 128, name: lstm}
  - {type: Dense, units: 2, activation: softmax, name: sentiment}
"""

BARE_LSTM = """
name: bare_lstm
inputs: [{name: x, shape: [null, %d]}]
layers:
  - {type: LSTM, units: %d, name: lstm}
"""


def median_time(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def inference(model, x: torch.Tensor):
    def run():
        with torch.inference_mode():
            model(x)
    return run


def frameworks(spec, x: np.ndarray, repeats: int, threads: int | None) -> None:
    """ORT (both exporters) vs torch eager vs Keras, batch 1."""
    weights = init_weights(spec, 0)
    torch_model = archspec.build(spec, "torch", weights=weights).eval()
    keras_model = build_keras(spec, weights)
    times = {}
    with tempfile.TemporaryDirectory() as scratch:
        for exporter in ("torch", "keras"):
            try:
                session = Session(export_onnx(spec, weights, Path(scratch) / f"{exporter}.onnx", backend=exporter),
                                  threads=threads)
            except archspec.ArchspecError as exc:
                print(f"  ORT ({exporter} exporter): refused: {exc.problems[0].message}")
                continue
            feed = {session.inputs[0].name: x.astype(np.int64 if "int64" in session.inputs[0].type else x.dtype)}
            times[f"ORT ({exporter} export)"] = median_time(lambda: session.session.run(None, feed), repeats)
    times["torch eager"] = median_time(inference(torch_model, torch.from_numpy(x)), repeats)
    times["keras"] = median_time(lambda: keras_model.predict_on_batch(x), repeats)
    base = times.get("ORT (torch export)") or next(iter(times.values()))
    print(f"{spec.name} batch 1 {list(x.shape[1:])}: " + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in times.items()))
    print("  ratios to ORT (torch export): " + ", ".join(f"{k} {v / base:.2f}x" for k, v in times.items()))


def lstm_against_nn_lstm(features: int, units: int, steps: int, batch: int, repeats: int) -> float:
    spec = archspec.loads(BARE_LSTM % (features, units))
    weights = init_weights(spec, 0)
    ours = archspec.build(spec, "torch", weights=weights).eval()

    class HandWritten(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(features, units, batch_first=True)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            return h[-1]

    baseline = HandWritten().eval()
    with torch.no_grad():
        baseline.lstm.weight_ih_l0.copy_(torch.from_numpy(weights["lstm/lstm_cell/kernel"].T.copy()))
        baseline.lstm.weight_hh_l0.copy_(torch.from_numpy(weights["lstm/lstm_cell/recurrent_kernel"].T.copy()))
        baseline.lstm.bias_ih_l0.copy_(torch.from_numpy(weights["lstm/lstm_cell/bias"]))
        baseline.lstm.bias_hh_l0.zero_()
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(batch, steps, features)).astype(np.float32))
    with torch.inference_mode():
        difference = float((ours(x) - baseline(x)).abs().max())
    assert difference < 1e-5, f"archspec's LSTM and nn.LSTM disagree by {difference}"
    run_ours, run_baseline = inference(ours, x), inference(baseline, x)
    samples = {"archspec": [], "nn.LSTM": []}
    for _ in range(5):  # interleaved rounds: drifting machine load hits both alike
        samples["archspec"].append(median_time(run_ours, max(1, repeats // 5)))
        samples["nn.LSTM"].append(median_time(run_baseline, max(1, repeats // 5)))
    ours_s, base_s = (statistics.median(v) for v in samples.values())
    ratio = ours_s / base_s
    print(f"LSTM({units}) on {features} features x {steps} steps, batch {batch}: archspec {ours_s * 1e3:.3f} ms, "
          f"nn.LSTM {base_s * 1e3:.3f} ms -> {ratio:.2f}x (target <= 1.2x; max |diff| {difference:.1e})")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        import tensorflow as tf

        torch.set_num_threads(args.threads)
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}")
    tokens = np.random.default_rng(0).integers(1, 8000, (1, args.steps)).astype(np.int32)
    frameworks(archspec.loads(TEXT_LSTM), tokens, args.repeats, args.threads)
    vit = archspec.load(SPECS / "vit_mnist.yaml")
    frameworks(vit, np.random.default_rng(0).uniform(size=(1, 28, 28, 1)).astype(np.float32), args.repeats,
               args.threads)
    ratios = [lstm_against_nn_lstm(64, 128, args.steps, batch, args.repeats) for batch in (1, 32)]
    print(f"archspec LSTM / nn.LSTM: {', '.join(f'{r:.2f}x' for r in ratios)} "
          f"({'within' if max(ratios) <= 1.2 else 'above'} the 1.2x target)")


if __name__ == "__main__":
    main()
