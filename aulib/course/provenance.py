"""The provenance records of committed reference folders (``provenance.json``): what an added run keeps of the
earlier commands' records (:func:`aulib.course.reference.build_reference`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def kept_timings(earlier: dict[str, Any], runs: Sequence[str], seeds: Sequence[int]) -> dict[str, Any]:
    """The earlier command's timings of every run and seed this command does not train: ``--runs hourglass-small
    --seeds 1`` keeps seed 0's, so the top-level ``seconds`` cover every committed run folder."""
    kept = {}
    for key, value in earlier.get("seconds", {}).items():
        run, _, rest = key.partition("/")  # "hourglass-small/seed0" or "hourglass-small/seed0 training images/s"
        if run not in runs or int(rest.split(" ")[0].removeprefix("seed")) not in seeds:
            kept[key] = value
    return kept


def earlier_records(previous: dict[str, Any]) -> list[dict[str, Any]]:
    """The provenance of every earlier command, oldest first, each with its own machine (the runs of one folder may
    come from several machines: AVX-512 trains in bf16, AVX2 in fp32)."""
    records = previous.get("earlier") or []
    if isinstance(records, dict):  # the first format: one merged record of the earlier commands
        records = [records]
    own = {key: previous[key] for key in ("command", "machine", "date", "seconds", "seconds_note") if key in previous}
    return [*records, {**own, "runs": previous.get("recipe", {}).get("runs", []),
                       "seeds": previous.get("recipe", {}).get("seeds", [])}]
