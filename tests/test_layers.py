"""The architecture, checked: every module imports only its own layer or the layers below, and no imports go round.

The layers, bottom to top (``aulib/__init__.py`` describes each package):

0. utilities: ``aulib`` (the version), ``aulib.io``, ``aulib.options``;
1. ``aulib.method``: the paper's pure functions (AUs, landmarks, alignment, heatmaps, metrics);
2. ``aulib.models``: the networks;
   ``aulib.detect``: face and landmark detectors (dlib, face-alignment, given landmarks);
3. ``aulib.inference``: running a trained network (:class:`aulib.inference.model.AUModel`);
4. ``aulib.data``: SynthAU, the dataset readers, the prepared format;
5. ``aulib.training``;
6. ``aulib.evaluation``;
7. ``aulib.predict``: real faces;
8. ``aulib.course``: the notebooks' helpers;
9. ``aulib.cli``.

Inference sits below the data on purpose: a trained model runs with nothing but its own files. Imports inside
functions count as much as those at the top of a module. The test reads the source (``ast``); it imports nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aulib"
LAYERS = (
    ("utilities", ("aulib", "aulib.io", "aulib.options")),
    ("method", ("aulib.method",)),
    ("models", ("aulib.models",)),
    ("detect", ("aulib.detect",)),
    ("inference", ("aulib.inference",)),
    ("data", ("aulib.data",)),
    ("training", ("aulib.training",)),
    ("evaluation", ("aulib.evaluation",)),
    ("predict", ("aulib.predict",)),
    ("course", ("aulib.course",)),
    ("cli", ("aulib.cli", "aulib.__main__")),
)
# Beyond the order: running a model never needs the trainer.
FORBIDDEN = {"evaluation": ("training",), "predict": ("training", "evaluation")}
MAX_LINES = 450  # "about 400 lines or less": a module over this must be split, unless it truly holds one job
ONE_JOB = {  # module: (its job, the most lines it may have)
    "aulib.method.metrics": ("ICC(3,1) with its ANOVA, PCC and MAE, per AU with masks", 500),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int:
    best, depth = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            exact = prefix in ("aulib", "aulib.io", "aulib.options", "aulib.__main__")
            if (module == prefix if exact else module == prefix or module.startswith(prefix + ".")) \
                    and len(prefix) > depth:
                best, depth = index, len(prefix)
    if best is None:
        raise AssertionError(f"{module} belongs to no layer: add its package to LAYERS")
    return best


def imports_of(module: str) -> set[str]:
    """The aulib modules ``module`` imports, anywhere in its source (a ``from a import b`` of a submodule is b)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "aulib"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] == "aulib":
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return {name for name in found if name != module}


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer_and_imports_only_real_modules():
    for module, targets in GRAPH.items():
        layer_of(module)
        unknown = [t for t in targets if t not in MODULES]
        assert not unknown, f"{module} imports {unknown}, which do not exist"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_layer(module):
    mine = layer_of(module)
    name = LAYERS[mine][0]
    for target in GRAPH[module]:
        theirs = layer_of(target)
        assert theirs <= mine, f"{module} ({name}) imports {target} ({LAYERS[theirs][0]}), a higher layer"
        assert LAYERS[theirs][0] not in FORBIDDEN.get(name, ()), f"{module} ({name}) must not import {target}"


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1 on the current path, 2 finished

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target):], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])


def test_only_the_cli_parses_arguments():
    parsers = [m for m, p in MODULES.items() if "argparse" in p.read_text() and not m.startswith("aulib.cli")]
    assert not parsers, f"argparse outside aulib.cli: {parsers}"


def test_modules_stay_small():
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    large = {m: n for m, n in sizes.items() if n > ONE_JOB.get(m, ("", MAX_LINES))[1]}
    assert not large, f"modules over {MAX_LINES} lines: {large}"


def test_the_layer_test_would_catch_a_violation(tmp_path):
    # The checks above are only as good as their parsing: a lower layer importing a higher one must be seen.
    source = "def f():\n    from aulib.training.trainer import Trainer\n    import aulib.cli\n"
    sample = tmp_path / "probe.py"
    sample.write_text(source)
    MODULES["aulib.method.probe"] = sample
    try:
        found = imports_of("aulib.method.probe")
    finally:
        del MODULES["aulib.method.probe"]
    assert found == {"aulib.training.trainer", "aulib.cli"}
    assert max(layer_of(t) for t in found) > layer_of("aulib.method.probe")
