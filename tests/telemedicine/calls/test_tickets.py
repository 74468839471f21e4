"""Call tickets (signed, short-lived, bound to user, consult and party) and coturn's TURN REST
credentials, checked against a vector computed independently of this code."""

from __future__ import annotations

import pytest

from seba.settings import Settings
from seba.telemedicine.calls import tickets

SECRET = "test-secret"
TICKET = tickets.Ticket(user_id=7, consult_id=12, party="doctor", expires_at=1_000_060)


def test_a_signed_ticket_reads_back():
    text = tickets.sign_ticket(SECRET, TICKET)
    assert tickets.read_ticket(SECRET, text, consult_id=12, now_s=1_000_000) == TICKET


@pytest.mark.parametrize(
    ("text", "consult_id", "now_s", "reason"),
    [
        (None, 12, 1_000_000, "missing"),
        ("", 12, 1_000_000, "missing"),
        ("no-dot-here", 12, 1_000_000, "invalid"),
        ("a.b.c", 12, 1_000_000, "invalid"),
        ("x" * 500, 12, 1_000_000, "invalid"),
        # Genuine, but a minute and a second old.
        (tickets.sign_ticket(SECRET, TICKET), 12, 1_000_061, "expired"),
        # Genuine, but for another consult.
        (tickets.sign_ticket(SECRET, TICKET), 13, 1_000_000, "wrong_consult"),
        # Signed with another key (another deployment, or a guess).
        (tickets.sign_ticket("other-secret", TICKET), 12, 1_000_000, "invalid"),
    ],
)
def test_a_ticket_is_refused(text, consult_id, now_s, reason):
    with pytest.raises(tickets.TicketRefused) as refused:
        tickets.read_ticket(SECRET, text, consult_id=consult_id, now_s=now_s)
    assert refused.value.reason == reason


def test_a_changed_payload_breaks_the_signature():
    payload, signature = tickets.sign_ticket(SECRET, TICKET).split(".")
    other = tickets.sign_ticket(
        SECRET, tickets.Ticket(user_id=8, consult_id=12, party="doctor", expires_at=1_000_060)
    ).split(".")[0]
    with pytest.raises(tickets.TicketRefused) as refused:
        tickets.read_ticket(SECRET, f"{other}.{signature}", consult_id=12, now_s=1_000_000)
    assert refused.value.reason == "invalid"
    assert payload != other


def test_turn_credentials_match_coturns_shared_secret_form():
    # Computed with OpenSSL, not with this code:
    #   echo -n "1700000000:42" | openssl dgst -sha1 -hmac "north-bengal-turn-secret" -binary \
    #     | base64
    username, credential = tickets.turn_credentials("north-bengal-turn-secret", 42, 1_700_000_000)
    assert username == "1700000000:42"
    assert credential == "AzcZB67GC2AwoOvZa+VljoiQ1CA="
    #   echo -n "1433895918:bob" | openssl dgst -sha1 -hmac "secret" -binary | base64
    assert tickets.turn_credentials("secret", "bob", 1433895918) == (  # type: ignore[arg-type]
        "1433895918:bob",
        "KbMMjah8XWO/RaqFnx3Lzs6zLQk=",
    )


def test_ice_servers_from_settings():
    none = Settings(env="test", secret_key=SECRET)
    assert tickets.ice_servers(none, 5, 1000.0) == []
    stun_only = Settings(env="test", secret_key=SECRET, stun_urls=["stun:turn.example.in:3478"])
    assert tickets.ice_servers(stun_only, 5, 1000.0) == [{"urls": ["stun:turn.example.in:3478"]}]
    # TURN URLs without a secret would be useless to the browser: left out.
    no_secret = Settings(env="test", secret_key=SECRET, turn_urls=["turn:turn.example.in:3478"])
    assert tickets.ice_servers(no_secret, 5, 1000.0) == []
    full = Settings(
        env="test",
        secret_key=SECRET,
        stun_urls=["stun:turn.example.in:3478"],
        turn_urls=["turn:turn.example.in:3478?transport=udp", "turns:turn.example.in:5349"],
        turn_secret="s3cret",
        turn_ttl_s=3600,
    )
    servers = tickets.ice_servers(full, 5, 1000.0)
    assert servers[1]["urls"] == full.turn_urls
    assert servers[1]["username"] == "4600:5"
    assert servers[1]["credential"] == tickets.turn_credentials("s3cret", 5, 4600)[1]


def test_the_call_test_hooks_are_refused_in_production():
    key = "k" * 64
    with pytest.raises(ValueError, match="SEBA_CALL_TEST_HOOKS"):
        Settings(env="prod", secret_key=key, call_test_hooks=True)
    assert not Settings(env="prod", secret_key=key).call_test_hooks
