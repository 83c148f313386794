"""The course as a static book (``make book``): the executed notebooks, the README, the instructor guide and the
results, built offline with Jupyter Book 1 (Sphinx, the sphinx-book-theme; nothing is fetched).

:func:`assemble` copies the pages named in ``book/_toc.yml`` into ``build/book/src`` (the executed notebooks of
``make reproduce`` from ``notebooks/executed/<profile>``, so the book shows their outputs and never runs them),
with ``figures/`` beside them so that relative image links work; :func:`build` runs ``jupyter-book build`` on it.
The HTML lands in ``build/book/_build/html``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from aulib.course.pipeline import EXECUTED_DIR, ROOT

BOOK_DIR = ROOT / "book"
BUILD_DIR = ROOT / "build" / "book"


class BookError(RuntimeError):
    """A page is missing, or the build failed."""


def toc_files(toc: str | os.PathLike = BOOK_DIR / "_toc.yml") -> list[str]:
    """The pages of the table of contents, root first (paths without their extension)."""
    data = yaml.safe_load(Path(toc).read_text())
    files = [data["root"]]
    for part in data.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def _source_of(page: str, executed: Path) -> Path:
    if page.startswith("notebooks/") and (ROOT / f"{page}.ipynb").is_file():
        path = executed / f"{Path(page).name}.ipynb"
        if not path.is_file():
            raise BookError(f"{path} is missing: run `make reproduce` (or `aulib run-notebooks`) first")
        return path
    path = ROOT / f"{page}.md"
    if not path.is_file():
        raise BookError(f"the book's table of contents names {page}, but {path} does not exist")
    return path


def assemble(executed: str | os.PathLike = EXECUTED_DIR / "smoke", out: str | os.PathLike = BUILD_DIR / "src",
             figures: str | os.PathLike = ROOT / "figures") -> Path:
    """Copy the book's pages, its configuration and the figures into ``out`` (replaced); returns ``out``."""
    out, executed = Path(out), Path(executed)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(BOOK_DIR / name, out / name)
    shutil.copytree(BOOK_DIR / "_ext", out / "_ext")
    for page in toc_files():
        source = _source_of(page, executed)
        target = out / f"{page}{source.suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    # The repository's figures first (the README's grid is made by `aulib figures`, not by a notebook), then the
    # run's own, which replace those of the same name.
    shutil.copytree(ROOT / "figures", out / "figures")
    if Path(figures).resolve() != (ROOT / "figures").resolve():
        shutil.copytree(figures, out / "figures", dirs_exist_ok=True)
    return out


def build(executed: str | os.PathLike = EXECUTED_DIR / "smoke", out: str | os.PathLike = BUILD_DIR,
          figures: str | os.PathLike = ROOT / "figures") -> Path:
    """Assemble and build the book; returns the folder of its ``index.html``.

    Raises:
        BookError: a missing page, or a failed build (with the end of its log).
    """
    out = Path(out)
    source = assemble(executed, out / "src", figures)
    shutil.rmtree(out / "_build", ignore_errors=True)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "--path-output", str(out),
               "--builder", "html"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    html = out / "_build" / "html"
    if result.returncode != 0 or not (html / "index.html").is_file():
        raise BookError(f"jupyter-book build failed ({result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}")
    return html
