#!/usr/bin/env bash
# The main job, end to end (what `make demo` runs): train a seed spec on embedded data, export it to
# ONNX, run the ONNX file in onnxruntime on held-out images, and compare its test accuracy with the run's.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3
archspec=.venv/bin/archspec
spec=${SPEC:-specs/mnist_cnn.yaml}
data=${DATA:-mnist5k}
backend=${BACKEND:-torch}
name=$(basename "$spec" .yaml)
quiet() { grep -v -E "absl::|oneDNN|cpu_feature_guard|To enable the following|Memory patch|np.object|hasattr\(np" >&2; }

echo "== 1. the model: archspec summary $spec"
$archspec summary "$spec"
$archspec plot "$spec" -o "exports/$name.svg" >/dev/null 2>&1 || true

echo
echo "== 2. train it: archspec train $spec --backend $backend --data $data"
$archspec train "$spec" --backend "$backend" --data "$data" 2> >(quiet)

echo
echo "== 3. export the best weights: archspec export onnx  (runs/latest -> exports/$name.onnx)"
$archspec export onnx 2> >(quiet)

echo
echo "== 4. onnxruntime on five held-out digits: archspec predict exports/$name.onnx ..."
mkdir -p exports/demo-images
.venv/bin/python - <<'PY'
from pathlib import Path
import json
import numpy as np
from PIL import Image
import archspec
from archspec.train.loop import prepare_data, training_config

run = Path("runs/latest")
spec = archspec.load(run / "spec.yaml")
info = json.loads((run / "run.json").read_text())
data = prepare_data(spec, training_config(spec), info["data_source"])
for i in range(5):
    label = data.classes[data.test.labels[i]] if data.classes else data.test.labels[i]
    image = (data.test.x[0][i, ..., 0] * 255).round().astype(np.uint8)
    Image.fromarray(image).save(f"exports/demo-images/test{i}-label{label}.png")
PY
$archspec predict "exports/$name.onnx" exports/demo-images/*.png --top-k 2

echo
echo "== 5. the whole test split in onnxruntime vs the trained model (runs/latest/metrics.json)"
$archspec evaluate runs/latest --onnx "exports/$name.onnx"
.venv/bin/python -c "import json; m = json.load(open('runs/latest/metrics.json')); print(f\"trained model ($backend): test_accuracy {m['test_accuracy']:.4f}\")"

echo
echo "== 6. one function everywhere: archspec check with the trained weights (Keras, PyTorch, both ONNX files)"
$archspec check runs/latest/spec.yaml --weights runs/latest/weights.safetensors 2> >(quiet)
