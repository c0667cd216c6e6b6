"""Layer-graph diagrams like `keras.utils.plot_model(show_shapes=True)`, drawn by Graphviz."""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from archspec.errors import ArchspecError
from archspec.fileio import atomic_write_bytes
from archspec.spec import Spec
from archspec.summary import shape_text

FORMATS = ("svg", "png", "pdf", "dot")


def _label(title: str, kind: str, shapes_in: list[str], shape_out: str, frozen: bool) -> str:
    esc = html.escape
    colour = "#dbe9f6" if not frozen else "#e2e2e2"
    kind_text = esc(kind) + (" (frozen)" if frozen else "")
    return (
        f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4" bgcolor="white">'
        f'<tr><td colspan="2" bgcolor="{colour}"><b>{esc(title)}</b> ({kind_text})</td></tr>'
        f'<tr><td>Input shape</td><td>{esc(", ".join(shapes_in)) or "-"}</td></tr>'
        f'<tr><td>Output shape</td><td>{esc(shape_out)}</td></tr></table>>'
    )


def to_graph(spec: Spec, rankdir: str = "TB"):
    import graphviz

    graph = graphviz.Digraph(spec.name, graph_attr={"rankdir": rankdir, "fontname": "Helvetica"},
                             node_attr={"shape": "plaintext", "fontname": "Helvetica", "fontsize": "11"})
    for spec_input in spec.inputs:
        shape = shape_text([None, *spec_input.shape])
        graph.node(spec_input.name, _label(spec_input.name, "InputLayer", [shape], shape, False))
    for node in spec.nodes:
        shapes_in = [shape_text([None, *s]) for s in node.input_shapes]
        graph.node(node.name, _label(node.name, node.type, shapes_in, shape_text([None, *node.output_shape]),
                                     not node.trainable))
        for ref in node.inputs:
            graph.edge(ref, node.name)
    return graph


def plot(spec: Spec, output: str | Path, rankdir: str = "TB") -> Path:
    """Write the diagram; the format comes from the file's extension."""
    output = Path(output)
    fmt = output.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ArchspecError(f"{output}: unsupported format '{fmt or '(none)'}'; use one of .{', .'.join(FORMATS)}")
    graph = to_graph(spec, rankdir)
    if fmt == "dot":
        data = graph.source.encode()
    else:
        if shutil.which("dot") is None:
            raise ArchspecError(
                f"Graphviz's 'dot' program is not installed, so {output.name} cannot be drawn. Install it "
                "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) or write a .dot file instead."
            )
        data = graph.pipe(format=fmt)
    atomic_write_bytes(output, data)
    return output
