#!/usr/bin/env bash
# The main job, end to end: what `make demo` runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=3
archspec=.venv/bin/archspec
spec=${SPEC:-specs/vgg7.yaml}
name=$(basename "$spec" .yaml)

echo "== archspec summary $spec"
$archspec summary "$spec"
echo
echo "== archspec plot $spec -o exports/$name.svg"
$archspec plot "$spec" -o "exports/$name.svg" || $archspec plot "$spec" -o "exports/$name.dot"
echo
echo "== archspec check $spec --layers   (Keras and PyTorch from the same weights)"
$archspec check "$spec" --layers 2> >(grep -v -E "absl|oneDNN" >&2)
