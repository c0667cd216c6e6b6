"""Data-parallel scaling on CPU: archspec's training throughput in 1 and in 2 gloo processes (torchrun).

Each process gets half the machine's cores (OMP_NUM_THREADS), the global batch stays the same,
so 2 processes do the work of one in two halves plus an all-reduce of the gradients per step.
Run: .venv/bin/python bench/ddp_scaling.py [--spec fashion_cnn] [--batch-size 256] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "train_throughput.py"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", default="fashion_cnn")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rates = {}
    for processes in (1, 2):
        env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // processes))}
        command = [sys.executable, str(SCRIPT), "--device", "cpu", "--spec", args.spec, "--batch-size",
                   str(args.batch_size), "--epochs", str(args.epochs), "--repeat", str(args.repeat),
                   "--nproc-per-node", str(processes)]
        output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
        rates[processes] = float(re.search(r"archspec\s+(\d+)/s", output).group(1))
        print(f"{processes} process{'es' if processes > 1 else ''}: {rates[processes]:8.0f} samples/s "
              f"({env['OMP_NUM_THREADS']} threads each)", flush=True)
    print(f"{args.spec}, global batch {args.batch_size}, {cores} cores: 1 -> 2 processes = "
          f"{rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
