"""Training wall time: archspec's training of fashion_cnn on mnist5k vs a hand-written loop, per backend.

Same data (the 4,000 MNIST-5k training digits, 20% for validation), same batch size, same
epochs, loss and accuracy tracked per batch and validation once per epoch on both sides.
archspec also writes its run directory every epoch (weights, optimizer state, history).
Target: ratio <= 1.05.  Run: .venv/bin/python bench/train_overhead.py [--epochs N] [--backend torch|keras|both]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

import archspec
from archspec.train.loop import Trainer, prepare_data, training_config

SPEC = Path(__file__).resolve().parent.parent / "specs" / "fashion_cnn.yaml"


def archspec_time(backend: str, epochs: int) -> float:
    spec = archspec.load(SPEC)
    training = training_config(spec, {"epochs": epochs, "callbacks": {}})
    data = prepare_data(spec, training, "mnist5k")
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(spec, backend, training, data, Path(run_dir))
        start = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - start


def torch_hand_written(epochs: int) -> float:
    import torch
    from torch import nn

    spec = archspec.load(SPEC)
    training = training_config(spec, {"epochs": epochs})
    data = prepare_data(spec, training, "mnist5k")
    x, y = torch.from_numpy(data.train.x[0]).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(data.train.labels)
    xv, yv = torch.from_numpy(data.val.x[0]).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(data.val.labels)

    class FlattenNHWC(nn.Module):
        def forward(self, t):
            return t.permute(0, 2, 3, 1).flatten(1)

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), FlattenNHWC(),
        nn.Linear(3136, 100), nn.ReLU(), nn.Dropout(0.4), nn.Linear(100, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(np.random.default_rng(epoch).permutation(len(x)))
        total = correct = 0.0
        for i in range(0, len(x), 32):
            idx = order[i: i + 32]
            logits = model(x[idx])
            loss = loss_fn(logits, y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            correct += float((logits.argmax(-1) == y[idx]).float().sum())
        model.eval()
        with torch.inference_mode():
            val = torch.cat([torch.softmax(model(xv[i: i + 256]), -1) for i in range(0, len(xv), 256)])
            _ = float((val.argmax(-1) == yv).float().mean())
    return time.perf_counter() - start


def keras_hand_written(epochs: int) -> float:
    import keras

    spec = archspec.load(SPEC)
    training = training_config(spec, {"epochs": epochs})
    data = prepare_data(spec, training, "mnist5k")
    keras.utils.set_random_seed(0)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, 3, activation="relu", padding="same"), L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu", padding="same"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(100, activation="relu"), L.Dropout(0.4), L.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(data.train.x[0], data.train.labels, batch_size=32, epochs=epochs, verbose=0,
              validation_data=(data.val.x[0], data.val.labels))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--backend", choices=["torch", "keras", "both"], default="both")
    args = parser.parse_args()
    baselines = {"torch": torch_hand_written, "keras": keras_hand_written}
    for backend in ("torch", "keras"):
        if args.backend not in (backend, "both"):
            continue
        hand = baselines[backend](args.epochs)
        ours = archspec_time(backend, args.epochs)
        hand = min(hand, baselines[backend](args.epochs))  # best of two, each side
        ours = min(ours, archspec_time(backend, args.epochs))
        print(f"{backend:5s} fashion_cnn, mnist5k, {args.epochs} epochs: archspec {ours:6.2f} s, "
              f"hand-written {hand:6.2f} s, ratio {ours / hand:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
