"""Running the real ``seba`` command in tests, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys


def seba_command(db_url: str, *args: str, env: dict[str, str] | None = None, stdin: str = ""):
    """Run the real ``seba`` command in a fresh interpreter against the test database."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SEBA_")}
    environ.update({"SEBA_DATABASE_URL": db_url, "SEBA_ENV": "test", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "seba.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )
