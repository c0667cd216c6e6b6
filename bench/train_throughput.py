"""PyTorch training throughput (samples/s): archspec's trainer vs hand-written loops, on any device.

Two baselines, measured in the same run as archspec:
- plain: the usual loop, fp32, numpy batches copied to the device per batch, loss and accuracy read
  back every step;
- tuned: what a PyTorch expert writes for speed: the data resident on the device, channels_last,
  autocast in --precision, torch.compile of the model, fused Adam, no host sync per step.
All sides validate once per epoch; archspec also writes its run directory every epoch. The first
epoch (compilation, cuDNN's autotuning, the allocator) is left out of every figure.

  python bench/train_throughput.py --device cuda --spec vgg7 --batch-size 1024 --precision bf16 --compile --repeat 20
  python bench/train_throughput.py --device cpu --spec fashion_cnn --nproc-per-node 2   (archspec only, DDP)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import archspec
from archspec.train import distributed
from archspec.train.loop import Trainer, prepare_data, training_config

SPECS = Path(__file__).resolve().parent.parent / "specs"
AMP = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def reference_model(name: str) -> nn.Module:
    class FlattenNHWC(nn.Module):  # Keras's flatten order, which the spec (and so archspec) computes
        def forward(self, t):
            return t.permute(0, 2, 3, 1).flatten(1)

    # the same layers archspec builds would be cheating; write the usual nn.Sequential instead
    layers = {"fashion_cnn": lambda: nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), FlattenNHWC(), nn.Linear(3136, 100), nn.ReLU(), nn.Dropout(0.4), nn.Linear(100, 10)),
        "vgg7": lambda: nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.5), nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.Conv2d(128, 256, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.5), FlattenNHWC(), nn.Linear(9216, 512), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))}
    if name not in layers:
        raise SystemExit(f"no hand-written reference for {name}; choose {', '.join(layers)}")
    torch.manual_seed(0)
    return layers[name]()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def plain(spec, data, epochs: int, batch: int, device: str) -> float:
    """Seconds for epochs 2..N of the usual loop."""
    model = reference_model(spec.name).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x, y = data.train.x[0], data.train.labels
    xv = torch.from_numpy(np.ascontiguousarray(data.val.x[0].transpose(0, 3, 1, 2)))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        if epoch == 1:
            _sync(device)
            start = time.perf_counter()
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
    _sync(device)
    return time.perf_counter() - start


def tuned(spec, data, epochs: int, batch: int, device: str, precision: str, compile: bool) -> float:
    """Seconds for epochs 2..N of a hand-tuned loop: data on the device, channels_last, autocast, compile, fused Adam."""
    cuda = device.startswith("cuda")
    model = reference_model(spec.name).to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7, **({"fused": True} if cuda else {}))
    # NHWC arrays seen as NCHW: exactly the channels_last layout
    x = torch.from_numpy(data.train.x[0]).to(device).permute(0, 3, 1, 2)
    y = torch.from_numpy(data.train.labels).to(device)
    xv = torch.from_numpy(data.val.x[0]).to(device).permute(0, 3, 1, 2)
    amp = AMP[precision]
    scaler = torch.amp.GradScaler(device.split(":")[0]) if precision == "fp16" else None
    forward = torch.compile(model) if compile else model

    def step(xb, yb):
        with torch.autocast(device.split(":")[0], dtype=amp, enabled=amp is not None):
            logits = forward(xb)
        loss = nn.functional.cross_entropy(logits.float(), yb)
        optimizer.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        return loss.detach() * len(yb), (logits.argmax(-1) == yb).sum()

    for epoch in range(epochs):
        if epoch == 1:
            _sync(device)
            start = time.perf_counter()
        model.train()
        order = torch.from_numpy(np.random.default_rng(epoch).permutation(len(x))).to(device)
        total = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        for i in range(0, len(x), batch):
            take = order[i: i + batch]
            loss, right = step(x.index_select(0, take), y.index_select(0, take))
            total += loss
            correct += right
        model.eval()
        with torch.inference_mode(), torch.autocast(device.split(":")[0], dtype=amp, enabled=amp is not None):
            torch.cat([forward(xv[i: i + 1024]).float().softmax(-1) for i in range(0, len(xv), 1024)]).cpu()
        _ = float(total), int(correct)
    _sync(device)
    return time.perf_counter() - start


def ours(spec, data, training, device: str, precision: str, compile: bool, channels_last: bool | None) -> float:
    """Seconds for epochs 2..N of archspec's trainer (progress events included, files written every epoch)."""
    marks = []

    def on_event(kind, info):
        if kind == "epoch_end":
            marks.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(spec, "torch", training, data, Path(run_dir), device=device, precision=precision,
                          compile=compile, channels_last=channels_last, on_event=on_event)
        trainer.fit()
        _sync(str(trainer.backend.device))
        trainer.flush()
        end = time.perf_counter()
    return end - marks[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--spec", nargs="+", default=["fashion_cnn", "vgg7"])
    parser.add_argument("--epochs", type=int, default=5, help="The first one is a warm-up, left out of the figures")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--precision", choices=list(AMP), default="fp32")
    parser.add_argument("--compile", action="store_true", help="torch.compile: archspec's step and the tuned loop's model")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="archspec's memory format (default: channels_last on a GPU)")
    parser.add_argument("--nproc-per-node", type=int, default=None,
                        help="archspec alone, in N data-parallel processes (torchrun); no baselines")
    parser.add_argument("--repeat", type=int, default=1,
                        help="Tile the 3,200 training digits N times: longer epochs, like a real data set's")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first is a warm-up)")
    if args.nproc_per_node and "LOCAL_RANK" not in os.environ:  # start the workers: this script under torchrun
        from torch.distributed.run import parse_args, run

        argv, skip = [], False
        for arg in sys.argv[1:]:
            if skip or arg.startswith("--nproc-per-node"):
                skip = arg == "--nproc-per-node" and not skip
                continue
            argv.append(arg)
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.nproc_per_node)))
        run(parse_args(["--standalone", "--nproc-per-node", str(args.nproc_per_node), __file__, *argv]))
        return
    group = distributed.setup(args.device)
    main_rank = group is None or group.rank == 0
    device = group.device if group else args.device
    if main_rank:
        name = torch.cuda.get_device_name() if device.startswith("cuda") else "CPU"
        print(f"device {device} ({name}), torch {torch.__version__}, {args.precision}, compile {args.compile}, "
              f"processes {group.size if group else 1}", flush=True)
    for spec_name in args.spec:
        spec = archspec.load(SPECS / f"{spec_name}.yaml")
        training = training_config(spec, {"epochs": args.epochs, "batch_size": args.batch_size,
                                          "augmentation": {}, "callbacks": {}})  # no augmentation on either side
        data = prepare_data(spec, training, "mnist5k")
        if args.repeat > 1:
            data.train = data.train.take(np.tile(np.arange(len(data.train)), args.repeat))
        n = len(data.train) * (args.epochs - 1)
        mine = ours(spec, data, training, device, args.precision, args.compile, args.channels_last)
        line = f"{spec_name:12s} batch {args.batch_size}, {len(data.train)} samples/epoch: archspec {n / mine:9.0f}/s"
        if not args.nproc_per_node:
            theirs = plain(spec, data, args.epochs, args.batch_size, device)
            best = tuned(spec, data, args.epochs, args.batch_size, device, args.precision, args.compile)
            line += (f", plain loop {n / theirs:9.0f}/s, tuned loop {n / best:9.0f}/s "
                     f"(archspec = {best / mine:.2f}x tuned, {theirs / mine:.2f}x plain)")
        if main_rank:
            print(line, flush=True)
    distributed.teardown()


if __name__ == "__main__":
    main()
