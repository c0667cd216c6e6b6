#!/usr/bin/env bash
# The main job, end to end: what `make demo` runs.
set -euo pipefail
cd "$(dirname "$0")/.."
archspec=.venv/bin/archspec
spec=${SPEC:-specs/vgg7.yaml}

echo "== archspec summary $spec"
$archspec summary "$spec"
echo
echo "== archspec plot $spec -o exports/$(basename "$spec" .yaml).svg"
$archspec plot "$spec" -o "exports/$(basename "$spec" .yaml).svg"
