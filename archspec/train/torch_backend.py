"""Training steps in PyTorch with Keras's optimizers, losses and batch-norm updates."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from archspec.backends.torch import ArchspecModel, build_model, predict
from archspec.spec import Spec
from archspec.train.config import SGD, Adam, AdamW, RMSprop, Training
from archspec.train.objectives import EPSILON, OutputPlan
from archspec.weights import Weights


def resolve_device(device: str | None) -> str:
    """'auto' (or None): the GPU when there is one, else the CPU."""
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        from archspec.errors import ArchspecError

        raise ArchspecError(f"--device {device}: PyTorch sees no CUDA GPU on this machine")
    return device


class KerasOptimizer(torch.optim.Optimizer):
    """Keras 3's update rules, step for step (Adam's epsilon outside the bias correction, ...)."""

    def __init__(self, params, config):
        super().__init__(params, {"lr": config.learning_rate})
        self.config = config
        self.iterations = 0

    @torch.no_grad()
    def step(self, closure=None):
        self.iterations += 1
        c, t = self.config, self.iterations
        for group in self.param_groups:
            lr = group["lr"]
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if isinstance(c, (Adam, AdamW)):
                if isinstance(c, AdamW) and c.weight_decay:
                    torch._foreach_mul_(params, 1 - c.weight_decay * lr)
                m = [self.state[p].setdefault("m", torch.zeros_like(p)) for p in params]
                v = [self.state[p].setdefault("v", torch.zeros_like(p)) for p in params]
                alpha = lr * math.sqrt(1 - c.beta_2 ** t) / (1 - c.beta_1 ** t)
                torch._foreach_lerp_(m, grads, 1 - c.beta_1)  # m += (g - m) * (1 - beta_1)
                torch._foreach_mul_(v, c.beta_2)
                torch._foreach_addcmul_(v, grads, grads, 1 - c.beta_2)
                denominator = torch._foreach_sqrt(v)
                torch._foreach_add_(denominator, c.epsilon)
                torch._foreach_addcdiv_(params, m, denominator, -alpha)
            elif isinstance(c, SGD):
                if c.momentum:
                    m = [self.state[p].setdefault("m", torch.zeros_like(p)) for p in params]
                    torch._foreach_mul_(m, c.momentum)
                    torch._foreach_add_(m, grads, alpha=-lr)  # m = momentum * m - lr * g
                    if c.nesterov:
                        torch._foreach_add_(params, m, alpha=c.momentum)
                        torch._foreach_add_(params, grads, alpha=-lr)
                    else:
                        torch._foreach_add_(params, m)
                else:
                    torch._foreach_add_(params, grads, alpha=-lr)
            elif isinstance(c, RMSprop):
                v = [self.state[p].setdefault("v", torch.zeros_like(p)) for p in params]
                torch._foreach_mul_(v, c.rho)
                torch._foreach_addcmul_(v, grads, grads, 1 - c.rho)
                denominator = torch._foreach_add(v, c.epsilon)
                torch._foreach_sqrt_(denominator)
                torch._foreach_addcdiv_(params, grads, denominator, -lr)

    def state_dict(self):
        state = super().state_dict()
        state["iterations"] = self.iterations
        return state

    def load_state_dict(self, state_dict):
        self.iterations = state_dict.pop("iterations", 0)
        super().load_state_dict(state_dict)


def output_loss(plan: OutputPlan, y: torch.Tensor, p: torch.Tensor, logits: torch.Tensor | None) -> torch.Tensor:
    """Keras's loss for one output, of any rank: classes on the last axis (per-pixel for a mask), the
    mean over every sample and position, as Keras's sum_over_batch_size reduction takes it."""
    if plan.loss == "sparse_categorical_crossentropy":
        if logits is not None:
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        p = torch.clamp(p / p.sum(-1, keepdim=True), EPSILON, 1 - EPSILON)
        return -torch.log(p.gather(-1, y[..., None])).mean()
    if plan.loss == "categorical_crossentropy":
        if logits is not None:
            return -(y * F.log_softmax(logits, -1)).sum(-1).mean()
        p = torch.clamp(p / p.sum(-1, keepdim=True), EPSILON, 1 - EPSILON)
        return -(y * torch.log(p)).sum(-1).mean()
    if plan.loss == "binary_crossentropy":
        if logits is not None:
            return F.binary_cross_entropy_with_logits(logits, y)
        p = torch.clamp(p, EPSILON, 1 - EPSILON)
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    if plan.loss == "mse":
        return ((p - y) ** 2).mean()
    return (p - y).abs().mean()


def _accuracy(plan: OutputPlan, y: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    if plan.loss == "sparse_categorical_crossentropy":
        return (p.argmax(-1) == y).float().mean()
    if plan.loss == "categorical_crossentropy":
        return (p.argmax(-1) == y.argmax(-1)).float().mean()
    return ((p > 0.5) == (y > 0.5)).float().mean()


class TorchTrainer:
    name = "torch"

    def __init__(self, spec: Spec, training: Training, plans: list[OutputPlan], weights: Weights,
                 device: str | None = None):
        torch.manual_seed(training.seed)
        self.spec, self.plans = spec, plans
        self.device = torch.device(resolve_device(device))
        self.model: ArchspecModel = build_model(spec, weights).to(self.device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = KerasOptimizer(params, training.optimizer)
        self.multi = len(plans) > 1

    def run(self, hooks, first_epoch: int, epochs: int) -> None:
        for epoch in range(first_epoch, epochs):
            hooks.start(epoch)
            logs = self.train_epoch(hooks.batches(), hooks.after_batch)
            if hooks.end(logs):
                break

    def train_epoch(self, batches, on_batch) -> dict[str, float]:
        """Train on (xs, ys) batches; logs are sample-weighted running means, like Keras's fit."""
        sums: dict[str, float] = {}
        seen = 0
        for index, (xs, ys) in enumerate(batches):
            logs = self.train_batch(xs, ys)
            n = len(xs[0])
            seen += n
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + value * n
            running = {k: v / seen for k, v in sums.items()}
            on_batch(index, running)
        return {k: v / seen for k, v in sums.items()}

    def train_batch(self, xs: list[np.ndarray], ys: list[np.ndarray]) -> dict[str, float]:
        if not self.model.training:  # .train() walks every submodule: not once per batch
            self.model.train()
        outputs = self.model.forward_train(*[torch.from_numpy(x).to(self.device, non_blocking=True) for x in xs])
        total, logs = 0.0, {}
        for plan, y, (p, logits) in zip(self.plans, ys, outputs):
            yt = torch.from_numpy(y).to(self.device, non_blocking=True)
            loss = output_loss(plan, yt, p, logits)
            total = total + plan.weight * loss
            if self.multi:
                logs[f"{plan.name}_loss"] = loss.detach()
            for metric in plan.metrics:
                with torch.no_grad():
                    value = _accuracy(plan, yt, p) if metric == "accuracy" else (
                        ((p - yt) ** 2).mean() if metric == "mse" else (p - yt).abs().mean())
                logs[plan.key(metric, self.multi)] = value
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        return {"loss": float(total.detach()), **{k: float(v) for k, v in logs.items()}}

    def predict(self, xs: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
        if self.device.type == "cpu":
            chunks = [predict(self.model, [x[i: i + batch_size] for x in xs]) for i in range(0, len(xs[0]), batch_size)]
        else:
            chunks = []
            self.model.eval()
            with torch.inference_mode():
                for i in range(0, len(xs[0]), batch_size):
                    out = self.model(*[torch.from_numpy(x[i: i + batch_size]).to(self.device) for x in xs])
                    chunks.append([o.cpu().numpy() for o in (out if isinstance(out, tuple) else (out,))])
        return [np.concatenate([c[k] for c in chunks]) for k in range(len(self.spec.outputs))]

    def get_weights(self) -> Weights:
        return self.model.get_neutral_weights()

    def set_weights(self, weights: Weights) -> None:
        self.model.set_neutral_weights(weights)

    @property
    def learning_rate(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = value

    def optimizer_snapshot(self) -> dict:
        """The optimizer's state, copied to the host (training goes on while it is written)."""
        state = self.optimizer.state_dict()
        state["state"] = {k: {n: t.detach().to("cpu", copy=True) for n, t in v.items()} for k, v in state["state"].items()}
        return state

    @staticmethod
    def write_optimizer(snapshot: dict, path: Path) -> None:
        torch.save(snapshot, path)

    def load_optimizer(self, path: Path) -> None:
        self.optimizer.load_state_dict(torch.load(path, weights_only=True, map_location=self.device))
