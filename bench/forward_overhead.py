"""CPU inference time of archspec's models over hand-written ones, VGG-7, batch 64.

torch: archspec.build(..., "torch") vs a hand-written nn.Sequential (NCHW inside, NHWC at
the boundary like the spec). keras: archspec.build(..., "keras") vs a hand-written
keras.Sequential. Same weights, same inputs; timings interleaved; medians. Target <= 1.05.
Run: .venv/bin/python bench/forward_overhead.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import archspec
import archspec.weights

SPEC = Path(__file__).resolve().parent.parent / "specs" / "vgg7.yaml"
BATCH = 64


def interleaved(fns: dict, repeats: int) -> dict[str, float]:
    for fn in fns.values():
        fn(), fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def torch_pair(spec, weights, x):
    import torch
    from torch import nn

    ours = archspec.build(spec, "torch", weights=weights).eval()

    class ToNCHW(nn.Module):
        def forward(self, t):
            return t.permute(0, 3, 1, 2)

    class FlattenNHWC(nn.Module):
        def forward(self, t):
            return t.permute(0, 2, 3, 1).flatten(1)

    hand = nn.Sequential(
        ToNCHW(),
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.5),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 256, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.5), FlattenNHWC(),
        nn.Linear(9216, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, 10), nn.Softmax(-1),
    ).eval()
    convs = [m for m in hand if isinstance(m, (nn.Conv2d, nn.Linear))]
    names = [n.name for n in spec.nodes if n.weights]
    with torch.no_grad():
        for module, name in zip(convs, names):
            kernel = torch.from_numpy(weights[f"{name}/kernel"])
            module.weight.copy_(kernel.permute(3, 2, 0, 1) if kernel.dim() == 4 else kernel.t())
            module.bias.copy_(torch.from_numpy(weights[f"{name}/bias"]))
    xt = torch.from_numpy(x)
    with torch.inference_mode():
        assert torch.allclose(ours(xt), hand(xt), atol=1e-5)

    def run(model):
        def call():
            with torch.inference_mode():
                model(xt)
        return call

    return run(ours), run(hand)


def keras_pair(spec, weights, x):
    import keras

    ours = archspec.build(spec, "keras", weights=weights)
    L = keras.layers
    hand = keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, 3, padding="same", activation="relu"), L.Conv2D(64, 3, padding="same", activation="relu"),
        L.MaxPool2D(2), L.Dropout(0.5),
        L.Conv2D(128, 3, padding="same", activation="relu"), L.Conv2D(256, 3, activation="relu"),
        L.MaxPool2D(2), L.Dropout(0.5), L.Flatten(),
        L.Dense(512, activation="relu"), L.Dropout(0.5), L.Dense(256, activation="relu"), L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])
    hand.set_weights([weights[k] for k in spec.weight_keys()])
    assert np.allclose(ours.predict(x, verbose=0), hand.predict(x, verbose=0), atol=1e-5)
    return (lambda: ours.predict_on_batch(x)), (lambda: hand.predict_on_batch(x))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--backend", choices=["torch", "keras", "both"], default="both")
    args = parser.parse_args()
    spec = archspec.load(SPEC)
    weights = archspec.weights.init_weights(spec, 0)
    x = np.random.default_rng(0).uniform(size=(BATCH, 28, 28, 1)).astype(np.float32)
    for backend, pair in (("torch", torch_pair), ("keras", keras_pair)):
        if args.backend not in (backend, "both"):
            continue
        ours, hand = pair(spec, weights, x)
        t = interleaved({"archspec": ours, "hand-written": hand}, args.repeats)
        ratio = t["archspec"] / t["hand-written"]
        print(f"{backend:5s} batch {BATCH}: archspec {t['archspec'] * 1e3:7.2f} ms, hand-written "
              f"{t['hand-written'] * 1e3:7.2f} ms, ratio {ratio:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
