"""Reference data shipped inside the package (``README.md`` says what each file is and where it
comes from), so a clone works without the steering repository beside it."""

from __future__ import annotations

import csv
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent


def read_csv(name: str) -> list[dict[str, str]]:
    """The rows of one of the shipped CSV files, as dicts keyed by its header."""
    with (DATA_DIR / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
