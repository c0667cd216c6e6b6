"""Data-parallel training on PyTorch's own engine: torchrun starts the processes, DDP syncs the gradients.

`archspec train SPEC -b torch --nproc-per-node N` runs `torch.distributed.run` itself (see `launch`);
`torchrun --nproc-per-node N -m archspec train SPEC -b torch` starts the same workers directly. Each
worker joins the process group (gloo on CPU, NCCL on GPUs) from torchrun's environment variables.

`--batch-size` is the global batch: every rank reads the same shuffled order and takes its share of
each global batch, the loss is weighted by that share and batch norm computes its statistics over
the global batch, so N processes take the steps one process takes. Only rank 0 writes the run
directory and prints progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from archspec.errors import ArchspecError

# how long a collective waits for a rank that stopped answering before the job fails (not hangs)
TIMEOUT = timedelta(seconds=float(os.environ.get("ARCHSPEC_DDP_TIMEOUT", 600)))


def world_size() -> int:
    """Processes in the job, from torchrun's environment (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """True in the process that writes files and prints (rank 0, or the only process)."""
    return rank() == 0


@dataclass
class Group:
    """This process's place in a data-parallel job."""

    rank: int
    size: int
    local_rank: int
    device: str

    def broadcast(self, value: Any) -> Any:
        """Rank 0's `value` (any picklable object) on every rank."""
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_sum(self, tensor):
        import torch.distributed as dist

        dist.all_reduce(tensor)
        return tensor

    def shard(self, n: int) -> tuple[int, int]:
        """[start, stop) of this rank's share of a global batch of n samples (sizes differ by at most one)."""
        base, extra = divmod(n, self.size)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (self.rank < extra)


_GROUP: Group | None = None


def current() -> Group | None:
    return _GROUP


def setup(device: str | None) -> Group | None:
    """Join the job's process group when torchrun started this process with more than one rank.

    GPUs: one per local rank, NCCL; CPU: gloo. Returns None in a single process."""
    global _GROUP
    if world_size() <= 1:
        return None
    if _GROUP is not None:
        return _GROUP
    import torch
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    wanted = device or "auto"
    cuda = wanted.startswith("cuda") or (wanted == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            raise ArchspecError(f"--device {wanted}: PyTorch sees no CUDA GPU on this machine")
        if local >= torch.cuda.device_count():
            raise ArchspecError(f"local rank {local} has no GPU of its own ({torch.cuda.device_count()} visible); "
                                "start at most one process per GPU (--nproc-per-node)")
        placed = f"cuda:{local}"
        torch.cuda.set_device(local)
    elif wanted not in ("auto", "cpu"):
        raise ArchspecError(f"--device {wanted}: data-parallel training runs on cpu or cuda")
    else:
        placed = "cpu"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=TIMEOUT,
                                **({"device_id": torch.device(placed)} if cuda else {}))
    _GROUP = Group(dist.get_rank(), dist.get_world_size(), local, placed)
    return _GROUP


def teardown(finished: bool = True) -> None:
    """Leave the process group. After a finished run every rank first waits for the others, and the
    group (which DDP's reducer also holds) is freed here rather than at interpreter exit, where a gloo
    group still holding work aborts the process (pytorch/pytorch#179291)."""
    global _GROUP
    if _GROUP is None:
        return
    import gc

    import torch.distributed as dist

    if dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()
    _GROUP = None
    gc.collect()


def sync_batch_norm(model) -> None:
    """Batch norm's statistics over the global batch (SyncBatchNorm's rule) in every BatchNormalization."""
    import torch.distributed as dist

    for module in model.modules():
        if getattr(module, "cfg", None) is not None and module.cfg.type_name == "BatchNormalization":
            module.sync_group = dist.group.WORLD


def launch_training(spec_path, backend: str, options: dict, nproc_per_node: int, nnodes: str = "1",
                    node_rank: int = 0, rdzv_endpoint: str | None = None) -> None:
    """`archspec train ... --nproc-per-node N`: the same command, `options` (train's own), in N torchrun workers.

    A bad spec or run directory fails here, once, before any worker starts."""
    if world_size() > 1:
        raise ArchspecError("--nproc-per-node: this process is already one of torchrun's workers; leave it out")
    if backend != "torch":
        raise ArchspecError("the Keras backend trains in one process; data-parallel training (--nproc-per-node) "
                            "needs -b torch")
    if options["resume"] is not None:
        from archspec.train.loop import resolve_run

        resolve_run(options["resume"])
    else:
        from archspec.spec import load

        load(spec_path)
        run_dir = options["run_dir"]
        if run_dir is not None and run_dir.exists() and any(run_dir.iterdir()):
            raise ArchspecError(f"{run_dir} already holds files; choose a new --run-dir or --resume it")
    args = ["train"] + ([str(spec_path)] if options["resume"] is None else []) + ["-b", backend]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None or (value is False and name != "channels_last"):
            continue
        if name == "channels_last":
            args.append(flag if value else "--no-channels-last")
        elif value is True:
            args.append(flag)
        else:
            args += [flag, str(value)]
    launch(args, nproc_per_node, nnodes, node_rank, rdzv_endpoint)


def launch(worker_args: list[str], nproc_per_node: int, nnodes: str = "1", node_rank: int = 0,
           rdzv_endpoint: str | None = None, rdzv_id: str | None = None) -> None:
    """Run `python -m archspec <worker_args>` in nproc_per_node processes per node through torchrun's launcher.

    One node without a rendezvous endpoint: torchrun's --standalone (a free local port). A failing rank
    stops the others (the launcher's behaviour) and raises ArchspecError naming it."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    if nproc_per_node < 1:
        raise ArchspecError("--nproc-per-node must be at least 1")
    args = ["--nproc-per-node", str(nproc_per_node), "--nnodes", str(nnodes)]
    if rdzv_endpoint:
        args += ["--rdzv-backend", "c10d", "--rdzv-endpoint", rdzv_endpoint, "--node-rank", str(node_rank),
                 "--rdzv-id", rdzv_id or "archspec"]
    elif str(nnodes) not in ("1", "1:1"):
        raise ArchspecError(f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT (the same on every node)")
    else:
        args.append("--standalone")
    cpus = os.cpu_count() or 1
    # torchrun would set 1 thread per process on CPU; share the machine's cores instead
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cpus // nproc_per_node)))
    try:
        run(parse_args(args + ["-m", "archspec", *worker_args]))
    except ChildFailedError as exc:
        from archspec.errors import CheckFailed

        # bad input (the first rank to fail exited 2) stays exit 2; anything else is a failed run (exit 1)
        bad_input = exc.get_first_failure()[1].exitcode == ArchspecError.exit_code
        raise (ArchspecError if bad_input else CheckFailed)(failure_message(exc)) from None


def failure_message(exc) -> str:
    """The rank that failed first (the others were stopped by the launcher, or failed in turn)."""
    import signal

    def how(code: int) -> str:
        if code < 0 and -code in {s.value for s in signal.Signals}:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    first, failure = exc.get_first_failure()
    others = sorted(r for r in exc.failures if r != first)
    stopped = f"; the launcher stopped rank{'s' if len(others) > 1 else ''} {', '.join(map(str, others))}" \
        if others else ""
    return (f"data-parallel training failed: rank {first} {how(failure.exitcode)}{stopped} "
            "(a rank's own error, if it had one, is printed above)")
