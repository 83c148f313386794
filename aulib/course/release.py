"""The student release: the course notebooks without their solutions, made by nbgrader (``make student``).

The notebooks in ``notebooks/`` are the instructor's: every exercise's solution sits between nbgrader's
``### BEGIN SOLUTION`` and ``### END SOLUTION`` markers, in a cell with nbgrader's solution metadata, and its check
cell is an nbgrader test cell worth one point. :func:`release` runs ``nbgrader generate_assignment`` on them in a
temporary course folder, which replaces each solution with ``raise NotImplementedError()``, clears every output and
locks the check cells, and writes the student notebooks to ``student/`` (git-ignored). The release's runs and figures
go to ``student/runs`` and ``student/figures``, not over the course's own.

Instructors who grade with nbgrader use the same notebooks as their ``source/`` folder: the metadata is in place.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from aulib.course.pipeline import NOTEBOOKS_DIR, RELEASE_OUTPUTS, ROOT, notebook_paths

STUDENT_DIR = ROOT / "student"
COURSE_ID = "aulib"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
# Where a student's runs and figures go (relative to the release folder, as the course's are to notebooks/).
STUDENT_PARAMETERS = {name: f'"{value}"' for name, value in RELEASE_OUTPUTS.items()}


class ReleaseError(RuntimeError):
    """nbgrader failed, or a release still holds solution text."""


def solution_lines(notebook: nbformat.NotebookNode) -> list[str]:
    """What a release must not contain: the non-blank lines between the solution markers of every code cell, and
    every non-blank line of the model answers (markdown cells with nbgrader's solution metadata, which the release
    replaces with "YOUR ANSWER HERE")."""
    lines = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            if cell.metadata.get("nbgrader", {}).get("solution"):
                lines += [line.strip() for line in cell.source.splitlines() if line.strip()]
            continue
        inside = False
        for line in cell.source.splitlines():
            if line.strip() == BEGIN:
                inside = True
            elif line.strip() == END:
                inside = False
            elif inside and line.strip():
                lines.append(line.strip())
    return lines


def _student_parameters(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            for name, value in STUDENT_PARAMETERS.items():
                cell.source = re.sub(rf"^{name} = .*$", f"{name} = {value}", cell.source, flags=re.MULTILINE)
    nbformat.write(notebook, path)


def release(out: str | os.PathLike = STUDENT_DIR, notebooks_dir: str | os.PathLike = NOTEBOOKS_DIR) -> list[Path]:
    """Write the student notebooks to ``out`` (replacing what was there); returns their paths.

    Raises:
        ReleaseError: when nbgrader fails (its output is in the message), or when a solution line survived.
    """
    out = Path(out)
    sources = notebook_paths(notebooks_dir)
    with tempfile.TemporaryDirectory(prefix="aulib-release-") as folder:
        course = Path(folder)
        (course / "source" / COURSE_ID).mkdir(parents=True)
        for path in sources:
            shutil.copy(path, course / "source" / COURSE_ID / path.name)
        (course / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
            "c.CourseDirectory.db_url = 'sqlite:///gradebook.db'\n")
        bin_dir = Path(sys.executable).parent  # nbgrader runs its own tools (alembic) by name
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
        result = subprocess.run([str(bin_dir / "nbgrader"), "generate_assignment", COURSE_ID, "--force"], cwd=course,
                                env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ReleaseError(f"nbgrader generate_assignment failed ({result.returncode}):\n{result.stderr[-3000:]}")
        staged = out.with_name(out.name + ".partial")
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(course / "release" / COURSE_ID, staged)
    for source in sources:
        released = staged / source.name
        _student_parameters(released)
        text = "\n".join(cell.source for cell in nbformat.read(released, as_version=4).cells)
        leaked = [line for line in solution_lines(nbformat.read(source, as_version=4)) if line in text]
        if leaked or BEGIN in text or END in text:
            shutil.rmtree(staged, ignore_errors=True)
            raise ReleaseError(f"{released.name} still holds solution text: {(leaked or [BEGIN])[:3]}")
    guide = Path(notebooks_dir) / "COURSE.md"  # outcomes, glossary, bibliography: every notebook's title links it
    if guide.is_file():
        shutil.copy(guide, staged / guide.name)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staged, out)  # the release appears whole or not at all
    return sorted(out.glob("*.ipynb"))
