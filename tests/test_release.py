"""The student release: nbgrader stubs every solution and clears every output; the release runs 01 → 06 end to end
with every exercise unsolved (each check shows its guidance, not a traceback, and fails for the autograder); and
nbgrader's grading workflow gives points only for the solved exercises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import small_parameters

from aulib.course import pipeline
from aulib.course.release import BEGIN, END, solution_lines


def test_the_release_holds_no_solution_and_no_output(student_release):
    _, paths = student_release
    assert [p.name for p in paths] == [p.name for p in pipeline.notebook_paths()]
    # the course guide every notebook's title links to travels with them, as it is
    assert (paths[0].parent / "COURSE.md").read_text() == (pipeline.NOTEBOOKS_DIR / "COURSE.md").read_text()
    for source, released in zip(pipeline.notebook_paths(), paths, strict=True):
        original, stubbed = nbformat.read(source, as_version=4), nbformat.read(released, as_version=4)
        solutions = solution_lines(original)
        assert len(solutions) >= 2, f"{source.name} has no exercise"
        code = "\n".join(c.source for c in stubbed.cells)
        assert BEGIN not in code and END not in code
        assert not [line for line in solutions if line in code], f"{released.name} leaks a solution"
        solution_cells = [c for c in stubbed.cells if c.metadata.get("nbgrader", {}).get("solution")
                          and c.cell_type == "code"]
        assert solution_cells and all("raise NotImplementedError()" in c.source for c in solution_cells)
        checks = [c for c in stubbed.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
        assert len(checks) == len(solution_cells) >= 2  # 2-4 exercises a notebook, each with its check
        # written answers (predictions, discussions, "why"): graded by hand, emptied for the student
        answers = [c for c in stubbed.cells
                   if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")]
        assert all(c.source.strip() == "YOUR ANSWER HERE" for c in answers)
        assert all(c.outputs == [] for c in stubbed.cells if c.cell_type == "code")
        parameters = next(c for c in stubbed.cells if "parameters" in c.metadata.get("tags", []))
        assert 'RUN_DIR = "runs"' in parameters.source and 'FIG_DIR = "figures"' in parameters.source


def test_the_release_points_to_no_page_the_student_book_leaves_out(student_release):
    # A student reads the release, or the student book built from it; a page that only the instructor's book
    # publishes (the results, the benchmarks, the instructor guide) is a dead reference there. The two tables of
    # contents say which pages those are; the graded answers are stubbed, so only what the student sees is read.
    from aulib.course.book import TOCS, toc_files

    left_out = {Path(page).name for page in toc_files(TOCS["instructor"])} - {
        Path(page).name for page in toc_files(TOCS["student"])}
    assert {"RESULTS", "BENCHMARKS", "INSTRUCTOR"} <= left_out
    _, paths = student_release
    for released in paths:
        for index, cell in enumerate(nbformat.read(released, as_version=4).cells):
            named = [page for page in left_out if f"{page}.md" in cell.source]
            assert not named, f"{released.name}, cell {index}, points to {named}, which the student book leaves out"
            assert "instructor guide" not in cell.source.lower(), f"{released.name}, cell {index}"


def test_the_release_runs_end_to_end_with_every_exercise_unsolved(student_release, student_run):
    _, paths = student_release
    root, records = student_run  # its own data, runs and figures: notebook 01 prepared the data unsolved
    assert [r["notebook"] for r in records] == [p.stem for p in paths]  # all six ran to their last cell
    assert (root / "prepared" / "meta.json").is_file() and (root / "runs" / "hourglass" / "best.pt").is_file()
    for record in records:
        executed = nbformat.read(record["output"], as_version=4)
        checks = [i for i, c in enumerate(executed.cells)
                  if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
        assert checks and all("raises-exception" in executed.cells[i].metadata.get("tags", []) for i in checks)
        errors = pipeline.failed_cells(record["output"])
        # every check failed (so the autograder gives no point), and no other cell did
        assert [cell for cell, _, _ in errors] == checks == record["unsolved"], record["notebook"]
        for cell, ename, evalue in errors:
            assert ename == "ExerciseFeedback" and evalue.startswith("Not written yet"), (record["notebook"], cell)
            (shown,) = [o for o in executed.cells[cell].outputs if o.output_type == "error"]
            # guidance, not a traceback: the error output papermill and nbgrader see is the one-line message
            assert shown.traceback == [f"✗ {shown.evalue}"]
        last = executed.cells[-1]
        assert last.cell_type == "markdown" or last.get("execution_count")  # it got to the end


def test_the_instructor_notebooks_still_fail_on_a_wrong_answer(pipeline_run, tmp_path):
    root, _ = pipeline_run
    folder = tmp_path / "notebooks"
    folder.mkdir()
    for path in pipeline.notebook_paths():  # all six (the params file names them), only 02 is run
        nbformat.write(nbformat.read(path, as_version=4), folder / path.name)
    source = next(p for p in pipeline.notebook_paths() if p.name.startswith("02_"))
    notebook = nbformat.read(source, as_version=4)
    (solution,) = [c for c in notebook.cells if "def sigma_for_map" in c.source]
    body = solution.source.split(BEGIN)[1].split(END)[0]
    # the paper's σ on every map size: wrong on the live model's 24×24 maps
    solution.source = solution.source.replace(body, "\n    return 4.0 + 8.0 * intensity / 5\n    ")
    nbformat.write(notebook, folder / source.name)
    values = small_parameters(root) | {"RUN_DIR": str(tmp_path / "runs"), "FIG_DIR": str(tmp_path / "figures")}
    failure = r"02_heatmap_targets.ipynb failed in cell \d+ .*ExerciseFeedback"
    with pytest.raises(pipeline.NotebookFailed, match=failure):
        pipeline.run_notebooks("smoke", only=["02"], notebooks_dir=folder, overrides=values,
                               output_dir=tmp_path / "executed", progress=False)
    (record,) = pipeline.run_notebooks("smoke", only=["02"], notebooks_dir=folder, overrides=values,
                                       output_dir=tmp_path / "executed", progress=False, allow_unsolved=True)
    assert len(record["unsolved"]) == 1  # the wrong one; the other two exercises pass


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(bin_dir / "nbgrader"), *args], cwd=course, env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def _released_assignment(course: Path, source: Path, student: str) -> nbformat.NotebookNode:
    """nbgrader's course folder for one notebook: the source, the config, ``generate_assignment``, a student;
    returns the released notebook."""
    (course / "source" / "aulib").mkdir(parents=True)
    nbformat.write(nbformat.read(source, as_version=4), course / "source" / "aulib" / source.name)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'aulib'\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course / 'gradebook.db'}'\nc.Execute.timeout = 600\n")
    _nbgrader(course, "generate_assignment", "aulib", "--force")
    _nbgrader(course, "db", "student", "add", student)
    return nbformat.read(course / "release" / "aulib" / source.name, as_version=4)


def _submit_and_autograde(course: Path, source: Path, released: nbformat.NotebookNode, student: str,
                          values: dict) -> None:
    """The student points the parameters cell at their data (the cell is theirs), submits, and nbgrader grades."""
    declared = pipeline.declared_parameters(source)
    parameters = next(c for c in released.cells if "parameters" in c.metadata.get("tags", []))
    parameters.source += "\n" + "\n".join(f"{k} = {v!r}" for k, v in values.items() if k in declared)
    submitted = course / "submitted" / student / "aulib"
    submitted.mkdir(parents=True)
    nbformat.write(released, submitted / source.name)
    _nbgrader(course, "autograde", "aulib", "--force")


def test_nbgrader_autograde_gives_points_only_for_the_solved_exercises(pipeline_run, tmp_path):
    """The grading workflow end to end: generate the assignment, a student fills in one of notebook 02's three
    exercises, ``nbgrader autograde`` runs the submission, and the gradebook holds 1 point of 4 (three checks and
    a written answer for a person to grade)."""
    from nbgrader.api import Gradebook

    root, _ = pipeline_run
    course = tmp_path / "grading"
    source = next(p for p in pipeline.notebook_paths() if p.name.startswith("02_"))
    released = _released_assignment(course, source, "alice")

    # Alice solves the Gaussian exercise only, and points the notebook at her data.
    instructor = nbformat.read(source, as_version=4)
    (solved,) = [c for c in instructor.cells if "def gaussian_target" in c.source]
    (stub,) = [c for c in released.cells if "def gaussian_target" in c.source]
    stub.source = "\n".join(line for line in solved.source.splitlines() if line.strip() not in (BEGIN, END))
    values = small_parameters(root) | {"RUN_DIR": str(tmp_path / "runs"), "FIG_DIR": str(tmp_path / "figures")}
    _submit_and_autograde(course, source, released, "alice", values)

    checks = {c.metadata["nbgrader"]["grade_id"]: c.source for c in released.cells
              if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    written = sum(c.metadata["nbgrader"]["points"] for c in released.cells
                  if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "markdown")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission("aulib", "alice")
        assert submission.max_score == len(checks) + written == 4  # three checks, one written answer
        assert submission.score == 1  # the written answer waits for a person; autograde gave it nothing
        notebook = gradebook.find_submission_notebook(source.stem, "aulib", "alice")
        scores = {grade.name: grade.score for grade in notebook.grades if grade.name in checks}
    assert sorted(scores.values()) == [0, 0, 1]
    (point,) = [cell for cell, score in scores.items() if score == 1]
    assert "check.gaussian(" in checks[point]  # the point is the solved exercise's


@pytest.mark.parametrize(("number", "exercise"), [
    ("01", "ex01_affine"), ("03", "ex03_loss"), ("04", "ex04_icc"), ("05", "ex05_iod"), ("06", "ex06_scale")])
def test_nbgrader_autograde_of_every_other_notebook_counts_the_one_solved_exercise(pipeline_run, tmp_path, number,
                                                                                   exercise):
    """The grading workflow on each other notebook: the student solves one exercise only (notebook 03's the
    foreground-weighted loss), ``nbgrader autograde`` runs the submission on the course's small data (a copy of the
    earlier notebooks' runs, so it grades what the student's own course produced), and the gradebook gives that
    exercise's check (``<exercise>_check``) its points and every other check none; the written answers wait for a
    person."""
    import json
    import shutil

    from nbgrader.api import Gradebook

    root, _ = pipeline_run
    course = tmp_path / "grading"
    source = next(p for p in pipeline.notebook_paths() if p.name.startswith(f"{number}_"))
    released = _released_assignment(course, source, "bob")
    instructor = nbformat.read(source, as_version=4)
    (stub,) = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise]
    (solved,) = [c for c in instructor.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise]
    assert "raise NotImplementedError()" in stub.source
    stub.source = "\n".join(line for line in solved.source.splitlines() if line.strip() not in (BEGIN, END))
    runs = tmp_path / "runs"
    shutil.copytree(root / "runs", runs)  # notebook 04-06 read notebook 03's runs and write beside them
    for config in runs.rglob("config.json"):  # a run's settings name its folder: the copies are in another place
        settings = json.loads(config.read_text())
        if "out" in settings:
            settings["out"] = settings["out"].replace(str(root / "runs"), str(runs))
            config.write_text(json.dumps(settings, indent=2))
    values = small_parameters(root) | {"RUN_DIR": str(runs), "FIG_DIR": str(tmp_path / "figures")}
    if number == "01":  # notebook 01 makes the data: its own folders
        values |= {"DATA_DIR": str(tmp_path / "synthau"), "PREPARED_DIR": str(tmp_path / "prepared")}
    _submit_and_autograde(course, source, released, "bob", values)

    graded = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]
    checks = {c.metadata["nbgrader"]["grade_id"]: c for c in graded if c.cell_type == "code"}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission("aulib", "bob")
        assert submission.max_score == sum(c.metadata["nbgrader"]["points"] for c in graded)
        notebook = gradebook.find_submission_notebook(source.stem, "aulib", "bob")
        scores = {grade.name: grade.score for grade in notebook.grades if grade.name in checks}
        written = [grade.score for grade in notebook.grades if grade.name not in checks]
    assert len(scores) == len(checks) >= 2 and all(score in (0, None) for score in written)
    point = f"{exercise}_check"
    assert scores[point] == checks[point].metadata["nbgrader"]["points"] >= 1, scores
    assert all(score == 0 for name, score in scores.items() if name != point), scores
    # and nothing else failed: only the unsolved exercises' checks show an error in the graded notebook
    graded_copy = nbformat.read(course / "autograded" / "bob" / "aulib" / source.name, as_version=4)
    failed = {c.metadata.get("nbgrader", {}).get("grade_id", f"cell {k}") for k, c in enumerate(graded_copy.cells)
              if c.cell_type == "code" and any(o.output_type == "error" for o in c.get("outputs", []))}
    assert failed == set(checks) - {point}, failed
