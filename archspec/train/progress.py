"""The live view of `archspec train`: a rich progress bar per epoch and a line per finished epoch."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class TrainingProgress:
    """A live rich progress bar: loss and metrics per batch, a line per epoch."""

    def __init__(self, console: Console, errors: Console):
        self.progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("{task.fields[logs]}"), console=console, transient=True)
        self.errors = errors
        self.task = None
        self.run_dir: str | None = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    @staticmethod
    def _fmt(logs: dict) -> str:
        return "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k not in ("epoch", "seconds", "learning_rate"))

    def event(self, kind: str, info: dict) -> None:
        if kind == "interrupted":
            self.run_dir = info["run_dir"]
        elif kind == "warning":
            self.errors.print(f"[yellow]warning:[/] {escape(info['message'])}", highlight=False)
        elif kind == "epoch_start":
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.task = self.progress.add_task("train", total=info["steps"], epoch=f"{info['epoch']}/{info['epochs']}",
                                               logs="")
        elif kind == "batch" and self.task is not None:
            self.progress.update(self.task, completed=info["step"], logs=self._fmt(info["logs"]))
        elif kind == "epoch_end":
            logs = info["logs"]
            mark = " [green]*best[/]" if info["best"] else ""
            self.progress.console.print(f"epoch {info['epoch']:>3}/{info['epochs']}  {self._fmt(logs)}  "
                                        f"({logs['seconds']:.1f}s){mark}", highlight=False)
