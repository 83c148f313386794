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
