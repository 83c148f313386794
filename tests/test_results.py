"""RESULTS.md quotes the committed result files: its generated tables are what ``tools/results_tables.py`` computes
from ``models/reference/`` (the reference runs and their London readings) and MediaPipe's committed readings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_results_tables_are_recomputed_from_the_committed_files():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "results_tables.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (ROOT / "RESULTS.md").read_text()
    for block in ("reference-icc", "reference-robustness", "london-au12", "london-au06", "london-others",
                  "london-groups"):
        assert f"<!-- generated: {block} -->" in text and f"<!-- end: {block} -->" in text, block


def test_the_data_size_table_summarises_several_seeds_by_hand(tmp_path, monkeypatch):
    import importlib.util

    import pandas as pd

    spec = importlib.util.spec_from_file_location("results_tables", ROOT / "tools" / "results_tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    pd.DataFrame({"train_subjects": [10, 10, 102], "train_frames": [480, 480, 4896], "seed": [0, 1, 0],
                  "hourglass_icc": [0.78, 0.80, 0.888], "pooled_icc": [0.77, 0.76, 0.883],
                  "difference": [-0.01, -0.04, -0.005], "low": [-0.03, -0.06, -0.016], "high": [0.01, -0.02, 0.004],
                  "verdict": ["level", "worse", "level"], "test_subjects": 30, "steps": 1224}
                 ).to_csv(tmp_path / "paired.csv", index=False)
    monkeypatch.setattr(tables, "DATA_SIZE", tmp_path)
    lines = tables.reference_data_size().splitlines()
    # by hand: means 0.790, 0.765, -0.025; sample sds 0.0141, 0.0071, 0.0212
    assert ("| **10**: mean ± sd over seeds | 0, 1 | 0.790 ± 0.014 | 0.765 ± 0.007 | "
            "-0.025 ± 0.021 (1 level, 1 worse) |") in lines
    assert not any(line.startswith("| **102**") for line in lines)  # one seed: its own row says it all
    assert "| 10 (480) | 1 | 0.800 | 0.760 | -0.040 [-0.060, -0.020] worse |" in lines
