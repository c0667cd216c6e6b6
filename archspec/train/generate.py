"""`archspec generate`: sample text, one character at a time, from a run trained with target next_token.

The model reads the last `window` characters (the run's training window) and gives a distribution
over the run's vocabulary at every step; the one at the last character is sampled (temperature 0:
the most likely character), appended, and the model reads again. A model whose input has a fixed
length reads the characters at its first steps and zeros after them: a causal model (causal
attention, RNNs, causal convolutions) gives at a step what it would give without the padding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archspec.data.sequences import VOCABULARY_FILE, decode, encode, run_sequence
from archspec.errors import ArchspecError
from archspec.train.evaluate import run_info
from archspec.train.loop import resolve_run
from archspec.weights import read_weights


def _forward(spec, weights, backend: str):
    """A function from a (1, steps) id array to the first output, as numpy."""
    if backend == "torch":
        from archspec.backends.torch import build_model, predict
    elif backend == "keras":
        from archspec.backends.keras import build_model, predict
    else:
        raise ArchspecError(f"unknown backend '{backend}'; choose keras or torch")
    model = build_model(spec, weights)
    return lambda ids: predict(model, [ids])[0]


def sample(probabilities: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """An index drawn from p ** (1 / temperature), renormalised; temperature 0: the arg-max."""
    if temperature == 0:
        return int(np.argmax(probabilities))
    logits = np.log(np.maximum(probabilities.astype(np.float64), 1e-30)) / temperature
    weights = np.exp(logits - logits.max())
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def generate(run: str | Path, prompt: str, length: int, *, temperature: float = 1.0, seed: int = 0,
             backend: str | None = None) -> str:
    """The prompt followed by `length` sampled characters (deterministic for a seed)."""
    if length < 1:
        raise ArchspecError(f"--length must be 1 or more, got {length}")
    if temperature < 0:
        raise ArchspecError(f"--temperature must be 0 (greedy) or more, got {temperature}")
    directory = resolve_run(run)
    spec, info, _ = run_info(directory)
    sequence = run_sequence(directory)
    if not sequence or sequence.get("kind") != "text":
        raise ArchspecError(f"{run}: not a character model's run (no {VOCABULARY_FILE}); generate samples from "
                            f"runs trained with training.targets: {{<output>: next_token}}")
    if not prompt:
        raise ArchspecError("--prompt is empty; give at least one character to start from")
    vocabulary = sequence["vocabulary"]
    ids = list(encode(prompt, vocabulary, "--prompt"))
    fixed = spec.inputs[0].shape[0]
    window = fixed or sequence["window"]
    dtype = np.int64 if spec.inputs[0].dtype == "int64" else np.int32
    forward = _forward(spec, read_weights(directory / "weights.safetensors", spec), backend or info["backend"])
    rng = np.random.default_rng(seed)
    for _ in range(length):
        context = ids[-window:]
        feed = np.zeros((1, fixed or len(context)), dtype)
        feed[0, : len(context)] = context
        scores = forward(feed)[0, len(context) - 1].astype(np.float64)
        if scores.min() < 0 or abs(scores.sum() - 1) > 1e-3:  # logits, not a softmax's probabilities
            scores = np.exp(scores - scores.max())
        scores = scores[: len(vocabulary)]  # an output may have more classes than the text has characters
        ids.append(sample(scores / scores.sum(), temperature, rng))
    return prompt + decode(ids[len(prompt):], vocabulary)
