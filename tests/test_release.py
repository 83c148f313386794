"""The student release: nbgrader stubs every solution, clears every output, and a student notebook runs up to its first
exercise, whose check then asks for the missing code with its guidance, not a traceback."""

from __future__ import annotations

import nbformat
import pytest
from conftest import small_parameters
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from aulib.course import pipeline
from aulib.course.release import BEGIN, END, release, solution_lines


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student"
    return out, release(out)


def test_the_release_holds_no_solution_and_no_output(student):
    _, paths = student
    assert [p.name for p in paths] == [p.name for p in pipeline.notebook_paths()]
    for source, released in zip(pipeline.notebook_paths(), paths, strict=True):
        original, stubbed = nbformat.read(source, as_version=4), nbformat.read(released, as_version=4)
        solutions = solution_lines(original)
        assert len(solutions) >= 2, f"{source.name} has no exercise"
        code = "\n".join(c.source for c in stubbed.cells)
        assert BEGIN not in code and END not in code
        assert not [line for line in solutions if line in code], f"{released.name} leaks a solution"
        solution_cells = [c for c in stubbed.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert solution_cells and all("raise NotImplementedError()" in c.source for c in solution_cells)
        checks = [c for c in stubbed.cells if c.metadata.get("nbgrader", {}).get("grade")]
        assert len(checks) == len(solution_cells) >= 2  # 2-4 exercises a notebook, each with its check
        assert all(c.outputs == [] for c in stubbed.cells if c.cell_type == "code")
        parameters = next(c for c in stubbed.cells if "parameters" in c.metadata.get("tags", []))
        assert 'RUN_DIR = "runs"' in parameters.source and 'FIG_DIR = "figures"' in parameters.source


def _parameters_cell(notebook: nbformat.NotebookNode, values: dict) -> None:
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in values.items())))


def test_every_student_notebook_runs_to_its_first_exercise_and_asks_for_it(student, pipeline_run, tmp_path):
    out, paths = student
    root, _ = pipeline_run
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        # The course run's data and trained runs, so that every notebook has its inputs; its own outputs go here.
        values = small_parameters(root) | {"RUN_DIR": str(tmp_path / "runs"), "FIG_DIR": str(tmp_path / "figures")}
        declared = pipeline.declared_parameters(pipeline.NOTEBOOKS_DIR / path.name)
        _parameters_cell(notebook, {k: v for k, v in values.items() if k in declared})
        first_check = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade"))
        client = NotebookClient(notebook, kernel_name="python3", resources={"metadata": {"path": str(out)}},
                                timeout=1800)
        with pytest.raises(CellExecutionError) as failure:
            client.execute()
        error = failure.value
        assert error.ename == "ExerciseFeedback", f"{path.name} failed before its first exercise: {error}"
        assert "Not written yet" in error.evalue
        failed = next(i for i, c in enumerate(notebook.cells)
                      if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
        assert failed == first_check, f"{path.name}: the first failing cell is {failed}, its first check {first_check}"
        (shown,) = [o for o in notebook.cells[failed].outputs if o.output_type == "error"]
        # guidance, not a traceback: the error output papermill and nbgrader see is the one-line message
        assert shown.ename == "ExerciseFeedback" and shown.traceback == [f"✗ {shown.evalue}"]
        assert shown.evalue.startswith("Not written yet")
