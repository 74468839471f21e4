"""``seba serve`` tells printed links where it answers."""

from __future__ import annotations

import socket

import pytest

from seba.cli import served_at


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8061, "http://127.0.0.1:8061"),
        ("seba.local", 80, "http://seba.local:80"),
        ("::1", 8000, "http://[::1]:8000"),
    ],
)
def test_the_address_served_is_the_address_printed(host: str, port: int, url: str) -> None:
    assert served_at(host, port) == url


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::"])
def test_every_interface_is_named_by_the_machine(wildcard: str) -> None:
    assert served_at(wildcard, 8000) == f"http://{socket.getfqdn()}:8000"
