"""CPU inference latency: onnxruntime on archspec's ONNX export vs PyTorch eager vs Keras.

vgg7 and fashion_cnn, batch 1 and 64, same weights, interleaved runs, medians. Prints each
time and the ratios (torch eager / ORT, Keras / ORT). Run: .venv/bin/python bench/onnx_latency.py
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


def median_time(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, cpu count {os.cpu_count()}")
    for name in ("fashion_cnn", "vgg7"):
        spec = archspec.load(SPECS / f"{name}.yaml")
        weights = init_weights(spec, 0)
        torch_model = archspec.build(spec, "torch", weights=weights).eval()
        keras_model = build_keras(spec, weights)
        with tempfile.TemporaryDirectory() as scratch:
            session = Session(export_onnx(spec, weights, Path(scratch) / "m.onnx", backend="torch"))
        for batch in (1, 64):
            x = np.random.default_rng(0).uniform(size=(batch, *spec.inputs[0].shape)).astype(np.float32)
            xt = torch.from_numpy(x)

            def run_torch():
                with torch.inference_mode():
                    torch_model(xt)

            feed = {session.inputs[0].name: x}
            times = {
                "onnxruntime": median_time(lambda: session.session.run(None, feed), args.repeats),
                "torch eager": median_time(run_torch, args.repeats),
                "keras": median_time(lambda: keras_model.predict_on_batch(x), args.repeats),
            }
            ort = times["onnxruntime"]
            print(f"{name:12s} batch {batch:3d}: " + ", ".join(f"{k} {v * 1e3:7.3f} ms" for k, v in times.items())
                  + f" | torch/ORT {times['torch eager'] / ort:.2f}x, keras/ORT {times['keras'] / ort:.2f}x")


if __name__ == "__main__":
    main()
