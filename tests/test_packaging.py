"""Packaging: the conda environment matches pyproject, the console script works, CI runs the README's tests."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirement_name(spec: str) -> str:
    """'face-alignment>=1.4' -> 'face-alignment' (normalised as PEP 503 does)."""
    name = re.split(r"[<>=!~;\[ ]", spec.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_environment_yml_lists_the_same_direct_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {requirement_name(spec) for spec in project["dependencies"]}
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip |= {requirement_name(spec) for spec in entry["pip"] if not spec.startswith("-")}  # not options
        else:
            conda.add(requirement_name(entry))
    listed = (conda | pip) - {"python", "pip"}
    assert listed == runtime, f"only in environment.yml: {listed - runtime}; only in pyproject: {runtime - listed}"


def test_environment_yml_takes_torch_from_the_cpu_index():
    # Binder and laptops build from environment.yml: PyPI's default torch is the CUDA build (several GB)
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    (pip,) = [entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict)]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in pip
    assert pip.index("--extra-index-url https://download.pytorch.org/whl/cpu") < pip.index("torch>=2.2")


def test_aulib_info_reports_presets_and_au_sets():
    result = subprocess.run([sys.executable, "-m", "aulib", "info"], capture_output=True, text=True, check=True)
    assert re.search(r"paper\s+256\s+64\s+1\s+4\s+256\s+bottleneck\s+3416197", result.stdout)
    assert "bp4d: AU06 Cheek raiser, AU10 Upper lip raiser, AU12 Lip corner puller, AU14 Dimpler, AU17" in result.stdout


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and re.search(r"^make test$", ci, re.M)


def test_constraints_pin_every_dependency_and_the_suite_runs_with_them():
    from importlib.metadata import version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {requirement_name(spec) for spec in [*project["dependencies"], *project["optional-dependencies"]["dev"]]}
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            pins[requirement_name(name)] = pinned.strip()
    assert wanted - {"torch"} <= set(pins), f"not pinned: {sorted(wanted - {'torch'} - set(pins))}"
    assert "torch" not in pins  # make installs TORCH_SPEC first (the CPU wheel, or a CUDA build)
    for name in sorted(wanted - {"torch"}):
        assert version(name) == pins[name], f"{name} {version(name)} is installed, constraints.txt pins {pins[name]}"
