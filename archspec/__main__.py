"""`python -m archspec ...`: the command line, as torchrun's `-m archspec` starts each worker."""

from archspec.cli import app

app(prog_name="archspec")
