"""Maintainers only: make aulib's copy of the Face Research Lab London Set from the public repository.

Users never run this: its output is committed in ``aulib/data/london/``. It reads the 102 neutral and 102 smiling
1350-pixel photos and ``london_info.csv`` from a clone (or a bare mirror) of ``debruine/webmorphR.stim``, writes
640-pixel JPEG copies (Lanczos downsampling, quality 90, no metadata), the demographic table with aulib's column
names, and the dev/test split of :func:`aulib.data.london.make_split`.

    python tools/london_photos.py --repo /path/to/webmorphR.stim[.git]
"""

from __future__ import annotations

import argparse
import io
import subprocess
from pathlib import Path

import pandas as pd
from PIL import Image

from aulib.data import london

SIZE = 640
QUALITY = 90
FOLDERS = {"neutral": "inst/neutral_front", "smiling": "inst/smiling_front"}


def read_blob(repo: Path, path: str) -> bytes:
    """A file at HEAD of a git repository (bare mirrors have no work tree)."""
    return subprocess.run(["git", f"--git-dir={repo}", "show", f"HEAD:{path}"], check=True,
                          capture_output=True).stdout


def git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").exists() else repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="clone or bare mirror of debruine/webmorphR.stim")
    parser.add_argument("--out", type=Path, default=london.FOLDER)
    args = parser.parse_args()
    repo = git_dir(args.repo)
    raw = pd.read_csv(io.BytesIO(read_blob(repo, "data-raw/london_info.csv")), dtype={"face_id": str})
    info = raw.rename(columns={"face_age": "age", "face_gender": "gender", "face_eth": "ethnicity"})
    info = info[["face_id", "age", "gender", "ethnicity"]].sort_values("face_id")
    info["age"] = info.age.astype("Int64")  # two sitters gave no age
    photos = args.out / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    for face_id in info.face_id:
        for condition, suffix in london.CONDITIONS.items():
            name = f"{face_id}_{suffix}.jpg"
            image = Image.open(io.BytesIO(read_blob(repo, f"{FOLDERS[condition]}/{name}"))).convert("RGB")
            image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
            image.save(photos / name, quality=QUALITY, optimize=True)
    info.to_csv(args.out / "info.csv", index=False)
    split = london.make_split(london.read_info(args.out / "info.csv"))
    split.rename_axis("face_id").reset_index().to_csv(args.out / "split.csv", index=False)
    size = sum(p.stat().st_size for p in photos.glob("*.jpg"))
    print(f"wrote {len(info) * 2} photos ({size / 1e6:.1f} MB), info.csv and split.csv to {args.out}")


if __name__ == "__main__":
    main()
