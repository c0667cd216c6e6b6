"""Whole-process time: Keras building VGG-7 and printing summary() vs `archspec summary specs/vgg7.yaml`.

Runs the two commands alternately, so that whatever else the machine is doing slows both alike, and
prints each one's fastest and median time. The ratio is taken between the fastest runs: other processes
only ever add time, so the minimum is the closest measure of a command's own cost (timeit's advice).
The target is >= 15x with the whole catalogue registered. Run: .venv/bin/python bench/summary_speed.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9

KERAS_VGG7 = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
    keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
    keras.layers.MaxPool2D(2),
    keras.layers.Dropout(0.5),
    keras.layers.Conv2D(128, 3, padding="same", activation="relu"),
    keras.layers.Conv2D(256, 3, padding="valid", activation="relu"),
    keras.layers.MaxPool2D(2),
    keras.layers.Dropout(0.5),
    keras.layers.Flatten(),
    keras.layers.Dense(512, activation="relu"),
    keras.layers.Dropout(0.5),
    keras.layers.Dense(256, activation="relu"),
    keras.layers.Dropout(0.5),
    keras.layers.Dense(10, activation="softmax"),
])
model.summary()
"""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    archspec_cmd = [sys.executable, "-m", "archspec.cli", "summary", "specs/vgg7.yaml"]
    keras_cmd = [sys.executable, "-c", KERAS_VGG7]
    timed(archspec_cmd), timed(keras_cmd)  # warm the file cache
    ours, theirs = [], []
    for _ in range(RUNS):
        ours.append(timed(archspec_cmd))
        theirs.append(timed(keras_cmd))
    for label, times in (("keras build + summary():    ", theirs), ("archspec summary vgg7.yaml: ", ours)):
        print(f"{label} fastest {min(times):6.3f} s, median {statistics.median(times):6.3f} s ({RUNS} runs)")
    print(f"ratio: {min(theirs) / min(ours):.1f}x faster (fastest runs; medians: "
          f"{statistics.median(theirs) / statistics.median(ours):.1f}x; target >= 15x)")


if __name__ == "__main__":
    main()
