"""PyTorch training throughput (samples/s): archspec's trainer vs a hand-written loop, on any device.

Both sides feed the same numpy batches (indexed on the host, copied to the device per batch),
track loss and accuracy per batch, and validate once per epoch; archspec also writes its run
directory every epoch. Run: python bench/train_throughput.py --device cuda --spec vgg7
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import archspec
from archspec.train.loop import Trainer, prepare_data, training_config

SPECS = Path(__file__).resolve().parent.parent / "specs"


def hand_written(spec, data, epochs: int, batch: int, device: str) -> float:
    class FlattenNHWC(nn.Module):  # Keras's flatten order, which the spec (and so archspec) computes
        def forward(self, t):
            return t.permute(0, 2, 3, 1).flatten(1)

    torch.manual_seed(0)
    # the same layers archspec builds would be cheating; write the usual nn.Sequential instead
    layers = {"fashion_cnn": lambda: nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), FlattenNHWC(), nn.Linear(3136, 100), nn.ReLU(), nn.Dropout(0.4), nn.Linear(100, 10)),
        "vgg7": lambda: nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.5), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 256, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.5), FlattenNHWC(), nn.Linear(9216, 512), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))}
    model = layers[spec.name]().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x, y = data.train.x[0], data.train.labels
    xv = torch.from_numpy(np.ascontiguousarray(data.val.x[0].transpose(0, 3, 1, 2)))
    loss_fn = nn.CrossEntropyLoss()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = np.random.default_rng(epoch).permutation(len(x))
        for i in range(0, len(x), batch):
            take = order[i: i + batch]
            xb = torch.from_numpy(x[take]).to(device).permute(0, 3, 1, 2)
            yb = torch.from_numpy(y[take]).to(device)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            _ = float(loss.detach()), float((logits.argmax(-1) == yb).float().mean())
        model.eval()
        with torch.inference_mode():
            torch.cat([model(xv[i: i + 256].to(device)).softmax(-1).cpu() for i in range(0, len(xv), 256)])
    sync()
    return time.perf_counter() - start


def ours(spec, data, training, device: str) -> float:
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(spec, "torch", training, data, Path(run_dir), device=device)
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        sync()
        start = time.perf_counter()
        trainer.fit()
        sync()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--spec", nargs="+", default=["fashion_cnn", "vgg7"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=1,
                        help="Tile the 3,200 training digits N times: longer epochs, like a real data set's")
    args = parser.parse_args()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"device {args.device} ({name}), torch {torch.__version__}")
    for spec_name in args.spec:
        spec = archspec.load(SPECS / f"{spec_name}.yaml")
        training = training_config(spec, {"epochs": args.epochs, "batch_size": args.batch_size,
                                          "augmentation": {}, "callbacks": {}})  # no augmentation on either side
        data = prepare_data(spec, training, "mnist5k")
        if args.repeat > 1:
            data.train = data.train.take(np.tile(np.arange(len(data.train)), args.repeat))
        n = len(data.train) * args.epochs
        hand_written(spec, data, 1, args.batch_size, args.device)  # warm-up: kernels, allocator
        theirs = hand_written(spec, data, args.epochs, args.batch_size, args.device)
        mine = ours(spec, data, training, args.device)
        print(f"{spec_name:12s} batch {args.batch_size}, {len(data.train)} samples/epoch: archspec {n / mine:9.0f} samples/s, hand-written "
              f"{n / theirs:9.0f} samples/s, time ratio {mine / theirs:.3f}")


if __name__ == "__main__":
    main()
