"""The course as a static book, built offline with Jupyter Book 1 (Sphinx, the sphinx-book-theme; nothing is fetched).

Two books: the **instructor's** (``make book``: the executed instructor notebooks, solutions included, the README,
the instructor guide and the results; ``book/_toc.yml``) and the **students'** (``make student-book``: the executed
student release, every solution stubbed, the course guide and the data's description, no instructor guide;
``book/_toc_student.yml``). :func:`build` refuses to finish a student book whose pages hold a line of any solution
or model answer, or the instructor guide.

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
STUDENT_BUILD_DIR = ROOT / "build" / "student-book"
TOCS = {"instructor": BOOK_DIR / "_toc.yml", "student": BOOK_DIR / "_toc_student.yml"}


class BookError(RuntimeError):
    """A page is missing, or the build failed."""


def toc_files(toc: str | os.PathLike = TOCS["instructor"]) -> list[str]:
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
             figures: str | os.PathLike = ROOT / "figures", edition: str = "instructor") -> Path:
    """Copy the book's pages, its configuration and the figures into ``out`` (replaced); returns ``out``."""
    out, executed = Path(out), Path(executed)
    if edition not in TOCS:
        raise ValueError(f"edition must be one of {list(TOCS)}; got {edition!r}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.copy(BOOK_DIR / "_config.yml", out / "_config.yml")
    shutil.copy(TOCS[edition], out / "_toc.yml")
    shutil.copytree(BOOK_DIR / "_ext", out / "_ext")
    for page in toc_files(TOCS[edition]):
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


def build(executed: str | os.PathLike = EXECUTED_DIR / "smoke", out: str | os.PathLike | None = None,
          figures: str | os.PathLike = ROOT / "figures", edition: str = "instructor") -> Path:
    """Assemble and build the book; returns the folder of its ``index.html``.

    Raises:
        BookError: a missing page, or a failed build (with the end of its log).
    """
    out = Path(out) if out is not None else (STUDENT_BUILD_DIR if edition == "student" else BUILD_DIR)
    source = assemble(executed, out / "src", figures, edition)
    shutil.rmtree(out / "_build", ignore_errors=True)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "--path-output", str(out),
               "--builder", "html"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    html = out / "_build" / "html"
    if result.returncode != 0 or not (html / "index.html").is_file():
        raise BookError(f"jupyter-book build failed ({result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}")
    if edition == "student":
        leaks = solution_leaks(html)
        if leaks:
            shutil.rmtree(html, ignore_errors=True)
            raise BookError(f"the student book would show solutions: {leaks[:5]}")
    return html


def page_text(path: str | os.PathLike) -> str:
    """The visible text of an HTML page, whitespace collapsed (highlighted code is split into many tags)."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []
            self.hidden = 0

        def handle_starttag(self, tag: str, attrs: list) -> None:
            self.hidden += tag in ("script", "style")

        def handle_endtag(self, tag: str) -> None:
            self.hidden -= tag in ("script", "style")

        def handle_data(self, data: str) -> None:
            if not self.hidden:
                self.parts.append(data)

    parser = Text()
    parser.feed(Path(path).read_text(errors="replace"))
    return " ".join("".join(parser.parts).split())


def solution_leaks(html: str | os.PathLike,
                   notebooks_dir: str | os.PathLike = ROOT / "notebooks") -> list[tuple[str, str]]:
    """``(page, line)`` for every line of the instructor notebooks' solutions and model answers that a built book's
    pages show, and every page of the instructor guide."""
    import nbformat

    from aulib.course.pipeline import notebook_paths
    from aulib.course.release import solution_lines

    secrets = {" ".join(line.split()) for path in notebook_paths(notebooks_dir)
               for line in solution_lines(nbformat.read(path, as_version=4))}
    leaks = [(page.name, "the instructor guide") for page in Path(html).rglob("INSTRUCTOR*.html")]
    for page in sorted(Path(html).rglob("*.html")):
        text = page_text(page)
        leaks += [(page.name, line) for line in sorted(secrets) if line in text]
    return leaks
