"""Start real ``seba serve`` processes for tests that need the HTTP server itself."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def running_server(
    database_url: str,
    *,
    tmp_path: Path,
    redis_url: str | None = None,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    # Generous: on a busy 2-core machine importing the app alone has taken 20 s.
    timeout_s: float = 180.0,
) -> Iterator[Server]:
    """Serve ``database_url`` (already migrated) on a free port; stop it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "SEBA_DATABASE_URL": database_url,
        "SEBA_ENV": "test",
        "SEBA_SECRET_KEY": "test-secret",
        **(extra_env or {}),
    }
    # ``extra_env={"SEBA_SECRET_KEY": ""}`` starts a server with no key set at all.
    env = {k: v for k, v in env.items() if not (k == "SEBA_SECRET_KEY" and v == "")}
    env.pop("SEBA_REDIS_URL", None)
    if redis_url:
        env["SEBA_REDIS_URL"] = redis_url
    log_path = tmp_path / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seba.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so stopping it also stops granian's worker processes.
            start_new_session=True,
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"seba serve exited early:\n{server.log()}")
            try:
                if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"seba serve did not start in {timeout_s}s:\n{server.log()}")
            time.sleep(0.1)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def servers(n: int, database_url: str, tmp_path: Path, **options) -> Iterator[list[Server]]:
    """Start ``n`` servers at once (each start is mostly imports) and stop them all after."""
    managers = [running_server(database_url, tmp_path=tmp_path, **options) for _ in range(n)]
    with contextlib.ExitStack() as stack:
        with ThreadPoolExecutor(n) as pool:
            futures = [pool.submit(m.__enter__) for m in managers]
            started, failure = [], None
            for manager, future in zip(managers, futures, strict=True):
                try:
                    started.append(future.result())
                    stack.push(manager.__exit__)  # stop whichever did start, even on a failure
                except Exception as exc:
                    failure = failure or exc
        if failure is not None:
            raise failure
        yield started
