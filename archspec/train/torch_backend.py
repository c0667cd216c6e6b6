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
from archspec.train.embedding_squares import squared_gradients, track_embedding_squares
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
                squares = squared_gradients(params, grads)  # an Embedding's, as Keras squares them
                if squares is None:
                    torch._foreach_addcmul_(v, grads, grads, 1 - c.beta_2)
                else:
                    torch._foreach_add_(v, squares, alpha=1 - c.beta_2)
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
                squares = squared_gradients(params, grads)
                if squares is None:
                    torch._foreach_addcmul_(v, grads, grads, 1 - c.rho)
                else:
                    torch._foreach_add_(v, squares, alpha=1 - c.rho)
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


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class _TrainForward(torch.nn.Module):
    """forward_train as forward(): DDP prepares its gradient reduction in the wrapped module's forward."""

    def __init__(self, model: ArchspecModel):
        super().__init__()
        self.model = model

    def forward(self, *xs):
        return self.model.forward_train(*xs)


class TorchTrainer:
    """Keras's training step in PyTorch, with what a GPU wants: autocast (bf16, or fp16 with a grad scaler),
    channels_last, the data resident on the device, torch.compile, no host sync per step, and DDP when
    torchrun started several processes (see archspec.train.distributed)."""

    name = "torch"

    def __init__(self, spec: Spec, training: Training, plans: list[OutputPlan], weights: Weights,
                 device: str | None = None, precision: str = "fp32", compile: bool = False,
                 channels_last: bool | None = None):
        from archspec.train import distributed

        if precision not in PRECISIONS:
            from archspec.errors import ArchspecError

            raise ArchspecError(f"--precision {precision}: choose {', '.join(PRECISIONS)}")
        self.group = distributed.current()
        # rank 0 draws what a single process draws (dropout); the other ranks draw other masks
        torch.manual_seed(training.seed + (self.group.rank if self.group else 0))
        self.spec, self.plans = spec, plans
        self.device = torch.device(self.group.device if self.group else resolve_device(device))
        cuda = self.device.type == "cuda"
        self.model: ArchspecModel = build_model(spec, weights).to(self.device)
        # on by default on a GPU only: there it is cuDNN's fast layout; on CPU it changes oneDNN's rounding
        self.channels_last = cuda if channels_last is None else channels_last
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.precision, self.amp_dtype = precision, PRECISIONS[precision]
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "fp16" else None
        if self.group is None and self.scaler is None:  # (squares of scaled or per-rank gradients would not be Keras's)
            track_embedding_squares(self.model, spec)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = KerasOptimizer(params, training.optimizer)
        self.multi = len(plans) > 1
        self.net: torch.nn.Module = _TrainForward(self.model)
        if self.group is not None:
            if training.batch_size < self.group.size:
                from archspec.errors import ArchspecError

                raise ArchspecError(f"--batch-size {training.batch_size} is the global batch: it must be at least "
                                    f"the number of processes ({self.group.size})")
            distributed.sync_batch_norm(self.model)
            if params:
                import inspect

                from torch.nn.parallel import DistributedDataParallel

                # synced batch norm keeps the buffers equal: no broadcast of rank 0's before each forward
                newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                self.net = DistributedDataParallel(self.net, device_ids=[self.device.index] if cuda else None,
                                                   **{"forward_sync_buffers" if newer else "broadcast_buffers": False})
        self.losses = torch.compile(self._losses) if compile else self._losses

    def run(self, hooks, first_epoch: int, epochs: int) -> None:
        resident = self._resident(hooks)
        for epoch in range(first_epoch, epochs):
            hooks.start(epoch)
            batches = self._resident_batches(hooks, resident, epoch) if resident else self._host_batches(hooks)
            logs = self._train_epoch(batches, hooks.after_batch)
            if hooks.end(logs):
                break

    # ------------------------------------------------------------------ batches

    def _resident(self, hooks):
        """The training arrays on the device, once, when batches are plain rows of them (no augmentation)
        and they take at most a quarter of the GPU's free memory; else None (batches are copied per step)."""
        arrays = hooks.plain_arrays()
        if arrays is None:
            return None
        xs, ys = arrays
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            if sum(a.nbytes for a in [*xs, *ys]) > free // 4:
                return None
        move = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(self.device)  # noqa: E731
        return [move(a) for a in xs], [move(a) for a in ys]

    def _shard(self, n: int) -> tuple[int, int]:
        return self.group.shard(n) if self.group is not None else (0, n)

    def _resident_batches(self, hooks, resident, epoch: int):
        xs, ys = resident
        order = torch.from_numpy(hooks.order(epoch)).to(self.device)
        size = hooks.batch_size
        for index in range(hooks.steps):
            take = order[index * size: (index + 1) * size]
            start, stop = self._shard(len(take))
            mine = take[start:stop]
            yield [x.index_select(0, mine) for x in xs], [y.index_select(0, mine) for y in ys], stop - start, len(take)

    def _host_batches(self, hooks):
        pin = self.device.type == "cuda"
        for xs, ys in hooks.batches():
            n = len(xs[0])
            start, stop = self._shard(n)

            def move(a):
                t = torch.from_numpy(np.ascontiguousarray(a[start:stop]))
                return t.pin_memory().to(self.device, non_blocking=True) if pin else t

            yield [move(x) for x in xs], [move(y) for y in ys], stop - start, n

    # ------------------------------------------------------------------ steps

    def _losses(self, xs: list[torch.Tensor], ys: list[torch.Tensor]):
        """The weighted total loss and the logged values (device tensors) of one batch."""
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            outputs = self.net(*xs)
        total, logs = 0.0, {}
        for plan, y, (p, logits) in zip(self.plans, ys, outputs):
            # losses and metrics in float32 whatever the compute precision, as Keras's mixed policies do
            p = p.float()
            logits = logits.float() if logits is not None else None
            loss = output_loss(plan, y, p, logits)
            total = total + plan.weight * loss
            if self.multi:
                logs[f"{plan.name}_loss"] = loss.detach()
            for metric in plan.metrics:
                with torch.no_grad():
                    value = _accuracy(plan, y, p) if metric == "accuracy" else (
                        ((p - y) ** 2).mean() if metric == "mse" else (p - y).abs().mean())
                logs[plan.key(metric, self.multi)] = value
        return total, {"loss": total.detach(), **logs}

    def _step(self, xs, ys, share: float) -> dict[str, torch.Tensor]:
        """One optimizer step; `share` weights this rank's mean loss by its part of the global batch
        (DDP averages the ranks' gradients, so the result is the global batch's mean gradient)."""
        total, logs = self.losses(xs, ys)
        if share != 1.0:
            total = total * share
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            total.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return logs

    def _train_epoch(self, batches, on_batch) -> dict[str, float]:
        """Sample-weighted means of the logged values over the (global) epoch, like Keras's fit.

        They add up on the device; the progress bar gets a copy whenever the previous copy has
        arrived, so no step waits for the GPU."""
        if not self.model.training:  # .train() walks every submodule: not once per batch
            self.model.train()
        keys, sums, seen = None, None, 0
        progress = _Progress(self.device, on_batch)
        for index, (xs, ys, n, n_global) in enumerate(batches):
            share = n * self.group.size / n_global if self.group is not None else 1.0
            logs = self._step(xs, ys, share)
            if keys is None:
                keys = list(logs)
                sums = torch.zeros(len(keys) + 1, dtype=torch.float64, device=self.device)
            if n:  # a rank without samples in a last, tiny global batch logs nothing (its loss is nan)
                sums[:-1] += torch.stack([v.float() for v in logs.values()]).double() * n
                sums[-1] += n
            seen += n
            progress.batch(index, keys, sums)
        if self.group is not None:
            self.group.all_sum(sums)
        totals = sums.tolist()
        return {k: v / totals[-1] for k, v in zip(keys, totals)}

    def train_batch(self, xs: list[np.ndarray], ys: list[np.ndarray]) -> dict[str, float]:
        if not self.model.training:
            self.model.train()
        move = lambda a: torch.from_numpy(a).to(self.device, non_blocking=True)  # noqa: E731
        logs = self._step([move(x) for x in xs], [move(y) for y in ys], 1.0)
        return {k: float(v) for k, v in logs.items()}

    def predict(self, xs: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
        if self.device.type == "cpu" and self.amp_dtype is None:
            chunks = [predict(self.model, [x[i: i + batch_size] for x in xs]) for i in range(0, len(xs[0]), batch_size)]
        else:
            chunks = []
            self.model.eval()
            with torch.inference_mode(), torch.autocast(self.device.type, dtype=self.amp_dtype,
                                                        enabled=self.amp_dtype is not None):
                for i in range(0, len(xs[0]), batch_size):
                    out = self.model(*[torch.from_numpy(x[i: i + batch_size]).to(self.device) for x in xs])
                    chunks.append([o.float().cpu().numpy() for o in (out if isinstance(out, tuple) else (out,))])
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


class _Progress:
    """Running means for the progress bar. On a GPU the sums are copied to pinned host memory
    asynchronously and shown once the copy has landed: the host never waits for the device."""

    def __init__(self, device: torch.device, on_batch):
        self.on_batch, self.cuda = on_batch, device.type == "cuda"
        self.host = self.event = None
        self.pending: int | None = None  # the step whose sums are on their way

    def _show(self, index: int, keys: list[str], values: list[float]) -> None:
        if values[-1]:
            self.on_batch(index, {k: v / values[-1] for k, v in zip(keys, values)})

    def batch(self, index: int, keys: list[str], sums: torch.Tensor) -> None:
        if not self.cuda:
            self._show(index, keys, sums.tolist())
            return
        if self.pending is not None:
            if not self.event.query():
                return
            self._show(self.pending, keys, self.host.tolist())
        if self.host is None:
            self.host = torch.empty(sums.shape, dtype=sums.dtype, pin_memory=True)
            self.event = torch.cuda.Event()
        self.host.copy_(sums, non_blocking=True)
        self.event.record()
        self.pending = index
