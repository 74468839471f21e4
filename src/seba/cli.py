"""The ``seba`` command: serve, demo, db upgrade, user add, import facilities | ambulances."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import socket
import sys
import typing
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from seba.core.errors import DomainError
from seba.settings import Settings, get_settings
from seba.telemedicine.simulation.cli import simulate

app = typer.Typer(
    help="Seba (সেবা): West Bengal public-health service platform.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk imports (all or nothing).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
doctor_app = typer.Typer(help="Teleconsultation doctors.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(doctor_app, name="doctor")

console = Console(stderr=True)
T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def _with_runtime(work: Callable[[Any], Awaitable[T]]) -> T:
    # Every table on the metadata before the first flush (foreign keys name other domains').
    import seba.models  # noqa: F401
    from seba.core.runtime import build_runtime

    async def main() -> T:
        rt = build_runtime(_settings())
        try:
            return await work(rt)
        finally:
            await rt.close()

    try:
        return asyncio.run(main())
    except DomainError as exc:
        console.print(f"[red]error[/red] {exc.code}: {exc.message}")
        if exc.details:
            console.print_json(json.dumps(exc.details, ensure_ascii=False, default=str))
        raise typer.Exit(1) from None


def _settings() -> Settings:
    """The settings, or a clear refusal (not a traceback) when they cannot be used."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()))
            message = error["msg"].removeprefix("Value error, ")
            console.print(f"[red]error[/red] {where + ': ' if where else ''}{message}")
        raise typer.Exit(2) from None


def upgrade_database(url: str | None = None) -> None:
    from alembic import command
    from alembic.config import Config

    url = url or _settings().database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")


def _password_from_stdin(password_stdin: bool) -> str:
    """A password never comes as an argument (shell history, ``ps``): only on standard input."""
    if not password_stdin:
        console.print("[red]error[/red] give the password on standard input with --password-stdin")
        raise typer.Exit(2)
    return sys.stdin.readline().rstrip("\r\n")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to SEBA_DATABASE_URL."""
    upgrade_database()
    console.print("[green]database is up to date[/green]")


@app.command()
def demo() -> None:
    """Migrate and load demo data (idempotent). Refused when SEBA_ENV=prod."""
    if _settings().env == "prod":
        console.print("[red]error[/red] demo data and demo accounts are refused when SEBA_ENV=prod")
        raise typer.Exit(1)
    upgrade_database()
    from seba.demo import load_demo

    with console.status("loading demo data…"):
        result = _with_runtime(load_demo)
    console.print(f"[green]demo ready[/green] {result}")


def served_at(host: str, port: int) -> str:
    """The base URL a server listening on ``host``:``port`` is reached at from elsewhere."""
    if host in ("0.0.0.0", "::", ""):  # every interface: name the machine, not the wildcard
        host = socket.getfqdn()
    elif ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{port}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Serve the app with granian."""
    from granian import Granian
    from granian.constants import Interfaces

    # Workers are separate processes: tell them how many there are (versions, see core/versions).
    os.environ["SEBA_WORKERS"] = str(workers)
    # Links printed for people (the QR on a prescription) point where this server answers
    # unless a public address is configured: a demo on port 8061 must not print :8000.
    os.environ.setdefault("SEBA_PUBLIC_BASE_URL", served_at(host, port))
    settings = _settings()
    if "SEBA_SECRET_KEY" not in os.environ:
        # Dev without a key: one random key for this run, the same in every worker, so a form
        # signed by one worker is accepted by another.
        os.environ["SEBA_SECRET_KEY"] = settings.secret_key
    Granian(
        "seba.app:asgi",
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        log_access=False,
        backlog=2048,
    ).serve()


@app.command()
def worker() -> None:
    """Deliver outbox messages (SMS) with retries, and release expired bed holds. Ctrl-C stops."""
    import signal

    from seba.notifications.worker import run_worker

    async def main(rt) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        console.print("[green]worker running[/green]")
        await run_worker(rt, stop=stop)

    _with_runtime(main)


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[
        str,
        typer.Option(
            help="state_admin, district_admin, control_room, hospital_staff, viewer, cho, "
            "doctor, counsellor"
        ),
    ],
    scope: Annotated[
        str, typer.Option(help="state | district:CODE | facility:CODE | spoke:CODE | hub:CODE")
    ] = "state",
    full_name: Annotated[str, typer.Option("--name")] = "",
    mobile: Annotated[
        str,
        typer.Option(help="Indian mobile for the SMS alerts of the user's facility (staff)"),
    ] = "",
    counsellor: Annotated[
        int | None,
        typer.Option(help="role counsellor: the id of the counsellor row this login is theirs"),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a staff account (a counsellor's linked to their counsellor row: --counsellor)."""
    from seba.accounts import service as account_service
    from seba.core.access import SYSTEM

    password = _password_from_stdin(password_stdin)
    if role == "counsellor":
        from seba.helpline import counsellor_work

        if counsellor is None:
            console.print("[red]error[/red] a counsellor's login needs --counsellor ID")
            raise typer.Exit(1)
        user = _with_runtime(
            lambda rt: counsellor_work.add_login(
                rt,
                actor=SYSTEM,
                counsellor_id=counsellor,
                username=username,
                password=password,
                full_name=full_name,
            )
        )
        console.print(f"[green]created[/green] {user.username} (counsellor {counsellor})")
        return
    user = _with_runtime(
        lambda rt: account_service.create_user(
            rt,
            actor=SYSTEM,
            username=username,
            password=password,
            role=role,
            scope=scope,
            full_name=full_name,
            mobile=mobile or None,
        )
    )
    console.print(f"[green]created[/green] {user.username} ({user.role}, {scope})")


@doctor_app.command("add")
def doctor_add(
    username: str,
    hub: Annotated[list[str], typer.Option(help="hub code; repeat for more hubs, home hub first")],
    registration: Annotated[
        str, typer.Option(help='council and number, e.g. "WBMC 12345" (TPG 2020: required)')
    ],
    specialty: Annotated[list[str], typer.Option(help="repeatable")] = ["general_medicine"],  # noqa: B006
    language: Annotated[list[str], typer.Option(help="repeatable: bn, en, hi, ne, ur, sat")] = [  # noqa: B006
        "bn"
    ],
    name: Annotated[str, typer.Option(help="as printed on prescriptions")] = "",
    qualification: Annotated[str, typer.Option()] = "MBBS",
    sex: Annotated[str, typer.Option(help="female, male or other")] = "other",
    hpr: Annotated[str | None, typer.Option(help="HPR ID, 14 digits")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Add a hub doctor: a login (role doctor) with registration, specialties and languages."""
    from seba.core.access import SYSTEM
    from seba.telemedicine import doctors

    password = _password_from_stdin(password_stdin)
    data = doctors.DoctorIn(
        username=username,
        password=password,
        name=name or username,
        qualification=qualification,
        registration=registration,
        hub_codes=tuple(hub),
        specialties=tuple(specialty),
        languages=tuple(language),
        sex=sex,
        hpr_id=hpr,
    )
    doctor = _with_runtime(lambda rt: doctors.add_doctor(rt, actor=SYSTEM, data=data))
    console.print(f"[green]created[/green] doctor {username} ({doctor.registration}, hub {hub[0]})")


@import_app.command("facilities")
def import_facilities(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Create or update facilities from a CSV file; any bad line and nothing is written."""
    from seba.core.access import SYSTEM
    from seba.places import service as place_service

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        console.print("[red]error[/red] the file is not UTF-8 text")
        raise typer.Exit(1) from None
    try:
        report = _with_runtime(
            lambda rt: place_service.import_facilities(rt, actor=SYSTEM, text=text)
        )
    except typer.Exit:
        raise
    console.print(f"[green]imported[/green] {report.created} created, {report.updated} updated")


@import_app.command("ambulances")
def import_ambulances(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Create or update ambulances from a CSV file; any bad line and nothing is written."""
    from seba.ambulances import service as fleet
    from seba.core.access import SYSTEM

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        console.print("[red]error[/red] the file is not UTF-8 text")
        raise typer.Exit(1) from None
    report = _with_runtime(lambda rt: fleet.import_ambulances(rt, actor=SYSTEM, text=text))
    console.print(f"[green]imported[/green] {report.created} created, {report.updated} updated")


# The simulators are pure Python (no database): cheap to import with the CLI.
# ``seba simulate [OPTIONS]`` is the consult day (as before); ``seba simulate ambulances`` the
# ambulance day. The group's callback is the consult simulator, run when no subcommand is named.
simulate_app = typer.Typer(help="Simulated days: consults (the default) or ambulances.")
app.add_typer(simulate_app, name="simulate")


def _consults_unless_subcommand(func: Callable[..., Any]) -> Callable[..., Any]:
    hints = typing.get_type_hints(func, include_extras=True)
    signature = inspect.signature(func)
    parameters = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        *(p.replace(annotation=hints[p.name]) for p in signature.parameters.values()),
    ]

    def callback(ctx: typer.Context, **options: Any) -> None:
        if ctx.invoked_subcommand is None:
            func(**options)

    callback.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    callback.__annotations__ = {"ctx": typer.Context, **{k: v for k, v in hints.items()}}
    callback.__doc__ = "Run the real routing code over a simulated day, beside Erlang C."
    return callback


simulate_app.callback(invoke_without_command=True)(_consults_unless_subcommand(simulate))


@simulate_app.command("ambulances")
def simulate_ambulances(
    district: Annotated[str, typer.Option(help="The district's code.")] = "bankura",
    fleet: Annotated[int, typer.Option(help="Ambulances in the district.")] = 10,
    requests: Annotated[int, typer.Option(help="Requests in the day.")] = 30,
    seed: Annotated[int, typer.Option(help="Same seed, same day, same results.")] = 2021,
) -> None:
    """A day of ambulance requests in one district: nearest-free dispatch (the real ranking)
    against the ambulance of the patient's block. Exit code 2 on a bad option."""
    from seba.ambulances.simulation import simulate_day

    try:
        figures = simulate_day(district, fleet=fleet, requests=requests, seed=seed)
    except ValueError as exc:
        console.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    print(f"district {district}, {fleet} ambulances, {requests} requests, seed {seed}")
    print(f"{'policy':<14}{'p50 min':>9}{'p90 min':>9}{'within promise':>16}")
    for policy, f in figures.items():
        print(f"{policy:<14}{f['p50_min']:>9}{f['p90_min']:>9}{f['within_promise']:>16.1%}")


if __name__ == "__main__":
    app()
