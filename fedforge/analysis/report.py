"""The `analysis` stage: execute the convergence notebook headless, export HTML, collect the figures.

Outputs (paths.analysis_dir): the executed notebook, a self-contained HTML export (PNGs embedded, no
CDN scripts, so it reads offline), figures/*.png, phase_table.md and curves/<phase>.tsv (the data of the
top-level DVC plots); the README copy of the convergence
figure and phase table goes to docs/figures/. Everything is written to a staging folder first and moved
into place only when the notebook ran clean, and the bytes are stable for the same inputs (no timings,
no version stamps), so `dvc repro analysis` twice is a no-op and dvc.lock does not churn.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from fedforge import paths
from fedforge.analysis.load import MalformedOutputError, MissingOutputError
from fedforge.analysis.plots import FIGURES
from fedforge.config import Config
from fedforge.errors import MissingInputError, UserError
from fedforge.io import atomic_file, write_text

log = logging.getLogger(__name__)

NOTEBOOK = Path("notebooks/convergence_analysis.ipynb")
DOCS_FIGURES = Path("docs/figures")
README_FILES = ("convergence.png", "phase_table.md")  # copied to docs/figures for the README
# Extends nbconvert's lab template without its CDN scripts (require.js, MathJax, mermaid): the report
# has no widgets, maths or diagrams, and must open from disk without a network. PNGs stay embedded as
# data URIs, with the alt text the notebook gives them (the lab template drops it).
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
 alt="{{ ((output | get_metadata('alt', 'image/png')) or 'figure') | escape_html }}">
</div>
{% endblock data_png %}
"""


class AnalysisError(UserError, RuntimeError):
    """The notebook failed for a reason other than a missing input; the message names cell and error."""


class _CurrentPythonKernels(KernelSpecManager):
    """Always the ipykernel of this interpreter (this venv), whatever kernel specs the machine has."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        from ipykernel.kernelspec import RESOURCES, get_kernel_dict

        return KernelSpec(resource_dir=RESOURCES, **get_kernel_dict())


def inject_parameters(nb: nbformat.NotebookNode, note: str = "", **values: object) -> None:
    """Papermill-style: put a cell that overrides the `parameters`-tagged cell's defaults right after it."""
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.get("metadata", {}).get("tags", [])]
    if not tagged:
        raise AnalysisError("the notebook has no cell tagged 'parameters'; add the tag to its settings cell")
    source = "# Parameters injected by fedforge.analysis.report.run_analysis\n"
    source += "".join(f"# {line}\n" for line in note.splitlines())
    source += "".join(f"{name} = {value!r}\n" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell.id = "injected-parameters"
    nb.cells.insert(tagged[0] + 1, cell)


def execute_notebook(nb: nbformat.NotebookNode, cwd: Path, timeout: int) -> None:
    """Run every cell in a fresh kernel of this interpreter; a failing cell raises with its error."""
    manager = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_CurrentPythonKernels())
    client = NotebookClient(nb, km=manager, kernel_name="python3", timeout=timeout, record_timing=False,
                            resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(cleanup_kc=True)  # shut the kernel down: nbclient keeps a kernel it did not create alive
    except CellExecutionError as exc:
        if exc.ename == MissingOutputError.__name__:
            raise MissingOutputError(exc.evalue) from None
        if exc.ename == MalformedOutputError.__name__:
            raise MalformedOutputError(exc.evalue) from None
        raise AnalysisError(f"notebook cell failed: {exc.ename}: {exc.evalue}") from exc


def make_stable(nb: nbformat.NotebookNode) -> None:
    """Drop what changes between identical runs: stderr chatter (e.g. font-cache notices), timings and the
    kernel's Python patch version (so machines with 3.11.7 and 3.11.9 write the same notebook)."""
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]


def export_html(nb: nbformat.NotebookNode, name: str) -> str:
    """HTML of the executed notebook with images embedded as data URIs and no external scripts."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                            template_file="offline.html.j2", embed_images=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
    return body


def _copy(src: Path, dst: Path) -> None:
    with atomic_file(dst) as tmp:
        shutil.copyfile(src, tmp)


def run_analysis(cfg: Config, root: Path = paths.ARTIFACTS, notebook: Path = NOTEBOOK, docs_dir: Path | None = DOCS_FIGURES,
                 timeout: int = 600) -> Path:
    """Execute the notebook on every phase in cfg.phases; write notebook, HTML, figures; return the folder."""
    root, notebook = Path(root), Path(notebook)
    if not notebook.is_file():
        raise MissingInputError(f"{notebook}: not found; run from the repository root")
    out = paths.analysis_dir(root)
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    phases = {name: {"dataset": p.dataset, "strategy": p.strategy, "rounds": p.rounds} for name, p in cfg.phases.items()}
    data = {"source": cfg.data.source, "scale": cfg.data.synthetic.scale, "image_size": cfg.data.image_size}

    nb = nbformat.read(notebook, as_version=4)
    inject_parameters(nb, note=f"OUT_DIR is a staging folder, renamed to {out} once every cell ran.",
                      ARTIFACTS=str(root), OUT_DIR=str(staging), PHASES=phases, DATA=data)
    log.info("executing %s on phases %s", notebook, ", ".join(phases))
    try:
        execute_notebook(nb, cwd=Path.cwd(), timeout=timeout)
    except Exception:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    make_stable(nb)
    produced = [staging / "figures" / name for name in FIGURES] + [staging / "phase_table.md"]
    produced += [staging / "curves" / f"{name}.tsv" for name in phases]
    empty = [str(p) for p in produced if not p.is_file() or p.stat().st_size == 0]
    if empty:
        shutil.rmtree(staging, ignore_errors=True)
        raise AnalysisError(f"the notebook ran but did not write {empty}; check its figure cells")
    nbformat.write(nb, staging / notebook.name)
    write_text(staging / notebook.with_suffix(".html").name, export_html(nb, notebook.stem))

    shutil.rmtree(out, ignore_errors=True)
    staging.replace(out)
    if docs_dir is not None:
        for name in README_FILES:
            src = out / "figures" / name if name.endswith(".png") else out / name
            _copy(src, Path(docs_dir) / name)
    log.info("wrote %s (notebook, HTML, %d figures)%s", out, len(FIGURES),
             f" and refreshed {docs_dir}" if docs_dir is not None else "")
    return out
