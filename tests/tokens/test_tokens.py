"""TokenStore and Principal: secrets hashed, authentication, revocation, expiry, scopes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from sidecar.db import make_engine
from sidecar.errors import NotMigrated
from sidecar.tokens import (
    LAST_USED_RESOLUTION,
    InvalidTokenRequest,
    Principal,
    Role,
    TokenInfo,
    TokenNameTaken,
    TokenStore,
    UnknownToken,
)
from tests.support.clocks import StillClock

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> StillClock:
    """A clock that stands still until a test moves it."""
    return StillClock(START)


@pytest.fixture
def tokens(url: str, clock: StillClock) -> Iterator[TokenStore]:
    store = TokenStore.open(url, clock=clock)
    yield store
    store.close()


def rows(url: str) -> list[dict[str, object]]:
    """Every row of the tokens table, read behind the store's back."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [dict(row) for row in connection.execute(text("SELECT * FROM tokens")).mappings()]
    finally:
        engine.dispose()


def principal(*scopes: str) -> Principal:
    return Principal("tok_000000000000", "p", Role.AGENT, scopes)


# -- secrets ------------------------------------------------------------------


def test_only_the_sha256_of_a_secret_is_stored(tokens: TokenStore, url: str) -> None:
    """create returns a pva_ secret of 256 random bits; the table holds its sha256 and never the secret."""
    token_id, secret = tokens.create("agent", "ci-agent", ["matters/acme"])
    assert secret.startswith("pva_")
    assert len(secret) == 4 + 43
    (row,) = rows(url)
    assert row["id"] == token_id
    assert row["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) or secret[4:] in str(value) for value in row.values())


def test_two_tokens_never_share_a_secret_or_an_id(tokens: TokenStore) -> None:
    """Each create draws a fresh id and secret."""
    first = tokens.create("agent", "a1", ["m"])
    second = tokens.create("agent", "a2", ["m"])
    assert first[0] != second[0]
    assert first[1] != second[1]


def test_authenticate_gives_the_principal(tokens: TokenStore) -> None:
    """The secret authenticates as its token: id, name, role and scopes."""
    token_id, secret = tokens.create("approver", "partner", ["matters/b", "matters/acme"])
    assert tokens.authenticate(secret) == Principal(
        token_id, "partner", Role.APPROVER, ("matters/acme", "matters/b")
    )


@pytest.mark.parametrize(
    "guess",
    [
        pytest.param(lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"), id="last-char-changed"),
        pytest.param(lambda s: s[4:], id="without-prefix"),
        pytest.param(lambda s: s + "x", id="one-char-longer"),
        pytest.param(lambda s: s.upper(), id="upper-case"),
        pytest.param(lambda s: hashlib.sha256(s.encode()).hexdigest(), id="the-stored-hash"),
        pytest.param(lambda _s: "", id="empty"),
        pytest.param(lambda _s: "pva_" + "A" * 43, id="well-formed-unknown"),
        pytest.param(lambda s: s + "\x00" * 1_000_000, id="padded-megabyte"),
    ],
)
def test_a_wrong_secret_authenticates_nobody(tokens: TokenStore, guess: Callable[[str], str]) -> None:
    """Anything but the exact secret, its stored hash included, gives None."""
    _, secret = tokens.create("admin", "root-ish")
    assert tokens.authenticate(guess(secret)) is None
    assert tokens.authenticate(secret) is not None


def test_a_revoked_token_fails_at_once(tokens: TokenStore) -> None:
    """After revoke, the secret authenticates nobody."""
    token_id, secret = tokens.create("agent", "bot", ["m"])
    tokens.revoke(token_id)
    assert tokens.authenticate(secret) is None


def test_an_expired_token_fails(tokens: TokenStore, clock: StillClock) -> None:
    """A token authenticates until its expiry and never from that instant on."""
    _, secret = tokens.create("agent", "temp", ["m"], expires=START + timedelta(hours=1))
    clock.now = START + timedelta(minutes=59)
    assert tokens.authenticate(secret) is not None
    clock.now = START + timedelta(hours=1)
    assert tokens.authenticate(secret) is None
    assert tokens.get("temp").status == "expired"


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        (START, "not in the future"),
        (START - timedelta(days=1), "not in the future"),
        (datetime(2027, 1, 1), "needs a time zone"),  # noqa: DTZ001  # the naive time under test
    ],
)
def test_an_expiry_must_be_a_future_aware_time(tokens: TokenStore, expires: datetime, message: str) -> None:
    """An expiry now or past, or without a time zone, is refused and no token is made."""
    with pytest.raises(InvalidTokenRequest, match=message):
        tokens.create("agent", "temp", ["m"], expires=expires)
    assert tokens.list() == []


def test_last_used_is_recorded_at_most_once_a_minute(tokens: TokenStore, clock: StillClock) -> None:
    """Authentication records when a token was last used, rewriting it only when a minute has passed."""
    _, secret = tokens.create("agent", "busy", ["m"])
    assert tokens.get("busy").last_used is None
    tokens.authenticate(secret)
    assert tokens.get("busy").last_used == START
    clock.now = START + LAST_USED_RESOLUTION - timedelta(seconds=1)
    tokens.authenticate(secret)
    assert tokens.get("busy").last_used == START
    clock.now = START + LAST_USED_RESOLUTION
    tokens.authenticate(secret)
    assert tokens.get("busy").last_used == clock.now


# -- listing and revoking ------------------------------------------------------


def test_list_never_shows_a_secret_or_its_hash(tokens: TokenStore) -> None:
    """Listed tokens carry no secret and no hash, in their fields, repr or JSON view."""
    _, secret = tokens.create("auditor", "reader", ["matters"])
    hashed = hashlib.sha256(secret.encode()).hexdigest()
    (info,) = tokens.list()
    shown = f"{info!r} {info.to_json()}"
    assert secret not in shown
    assert hashed not in shown
    assert not any("secret" in field or "hash" in field for field in TokenInfo.__dataclass_fields__)


def test_list_shows_every_token_with_its_status(tokens: TokenStore, clock: StillClock) -> None:
    """list gives all tokens oldest first, each active, revoked or expired, with who made and revoked it."""
    tokens.create("admin", "boss", created_by="alice")
    clock.now += timedelta(seconds=1)
    tokens.create("agent", "gone", ["m"])
    clock.now += timedelta(seconds=1)
    tokens.create("agent", "brief", ["m"], expires=clock.now + timedelta(seconds=1))
    tokens.revoke("gone", revoked_by="bob")
    clock.now += timedelta(seconds=5)
    listed = tokens.list()
    assert [(t.name, t.status) for t in listed] == [
        ("boss", "active"),
        ("gone", "revoked"),
        ("brief", "expired"),
    ]
    assert listed[0].created_by == "alice"
    assert listed[0].scopes == ("*",)
    assert (listed[1].revoked, listed[1].revoked_by) == (START + timedelta(seconds=2), "bob")


def test_revoke_by_id_and_by_name(tokens: TokenStore) -> None:
    """revoke takes a token's id or its name and revokes that token only."""
    first_id, first = tokens.create("agent", "first", ["m"])
    _, second = tokens.create("agent", "second", ["m"])
    _, third = tokens.create("agent", "third", ["m"])
    assert tokens.revoke(first_id).name == "first"
    assert tokens.revoke("second").status == "revoked"
    assert [tokens.authenticate(s) is None for s in (first, second, third)] == [True, True, False]


def test_revoking_again_keeps_the_first_revocation(tokens: TokenStore, clock: StillClock) -> None:
    """A second revoke changes nothing: the first time and actor stay."""
    tokens.create("agent", "bot", ["m"])
    tokens.revoke("bot", revoked_by="alice")
    clock.now += timedelta(hours=1)
    again = tokens.revoke("bot", revoked_by="bob")
    assert (again.revoked, again.revoked_by) == (START, "alice")


@pytest.mark.parametrize(
    ("ref", "message"),
    [("nobody", "no token named 'nobody'"), ("tok_0123456789ab", "no token with id tok_0123456789ab")],
)
def test_an_unknown_token_cannot_be_revoked(tokens: TokenStore, ref: str, message: str) -> None:
    """Revoking or getting an id or name no token has raises UnknownToken, saying which."""
    tokens.create("agent", "bot", ["m"])
    with pytest.raises(UnknownToken, match=message):
        tokens.revoke(ref)
    with pytest.raises(UnknownToken, match=message):
        tokens.get(ref)


def test_a_name_stays_taken_after_revocation(tokens: TokenStore) -> None:
    """Names are unique for good, since the audit names actors by them."""
    tokens.create("agent", "bot", ["m"])
    tokens.revoke("bot")
    with pytest.raises(TokenNameTaken, match="a token named 'bot' exists"):
        tokens.create("agent", "bot", ["m"])


# -- roles, names, scopes ----------------------------------------------------


def test_every_role_can_be_stored(tokens: TokenStore) -> None:
    """The database's role constraint accepts each Role, and authentication gives it back."""
    for role in Role:
        _, secret = tokens.create(role, f"{role}-1", ["m"])
        found = tokens.authenticate(secret)
        assert found is not None
        assert found.role is role


def test_the_database_refuses_an_unknown_role(url: str) -> None:
    """A row with a role outside Role cannot be written, even behind the store's back."""
    engine = make_engine(url)
    insert = text(
        "INSERT INTO tokens (id, name, role, scopes, secret_sha256, created, created_by)"
        " VALUES ('tok_000000000000', 'x', 'root', '[\"*\"]', :hash, :now, 'me')"
    )
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"hash": "0" * 64, "now": START.replace(tzinfo=None)})
    finally:
        engine.dispose()


def test_an_unknown_role_is_refused(tokens: TokenStore) -> None:
    """A role outside agent, approver, auditor, counsel and admin is refused, naming the five."""
    roles = "agent, approver, auditor, counsel, admin"
    with pytest.raises(InvalidTokenRequest, match=f"unknown role 'root': {roles}"):
        tokens.create("root", "x")


@pytest.mark.parametrize(
    "name", ["", " lead", "two words", "a/b", "x" * 101, "-dash", "tok_x", "pva_" + "A" * 43, "é"]
)
def test_a_bad_name_is_refused(tokens: TokenStore, name: str) -> None:
    """Names are short and plain, and never look like a token id or a secret."""
    with pytest.raises(InvalidTokenRequest, match="token name"):
        tokens.create("agent", name, ["m"])


def test_a_refused_secret_like_name_is_not_echoed(tokens: TokenStore) -> None:
    """A secret pasted as a name is refused without repeating it in the message."""
    pasted = "pva_" + "Q" * 43
    with pytest.raises(InvalidTokenRequest) as caught:
        tokens.create("agent", pasted, ["m"])
    assert "Q" * 8 not in str(caught.value)


@pytest.mark.parametrize("role", ["agent", "approver", "auditor"])
def test_a_role_other_than_admin_needs_a_scope(tokens: TokenStore, role: str) -> None:
    """Agents, approvers and auditors must name their scope; nothing is made without one."""
    with pytest.raises(InvalidTokenRequest, match=f"role {role} needs at least one scope"):
        tokens.create(role, "x")
    assert tokens.list() == []


def test_an_admin_defaults_to_the_whole_store_and_may_be_narrowed(tokens: TokenStore) -> None:
    """An admin without scopes gets '*'; an admin given scopes keeps them."""
    _, wide = tokens.create("admin", "wide")
    _, narrow = tokens.create("admin", "narrow", ["matters/acme"])
    assert tokens.get("wide").scopes == ("*",)
    assert tokens.get("narrow").scopes == ("matters/acme",)
    admins = tokens.authenticate(wide), tokens.authenticate(narrow)
    assert [a is not None and a.may_touch("matters/other") for a in admins] == [True, False]


@pytest.mark.parametrize(
    "scope",
    [
        "/etc",
        "../outside",
        "matters/../..",
        "matters/./acme",
        "matters//acme",
        "matters/acme/",
        ".pva",
        ".pva/journal",
        ".PVA/trash",
        "matters\\acme",
        "matters/acme\x00",
        "matters/\u202eevil",
        "matters/zero\u200bwidth",
        "matters/CON",
        "matters/a:b",
        "**",
        "matters/*",
    ],
)
def test_a_hostile_scope_is_refused(tokens: TokenStore, scope: str) -> None:
    """A scope must be a store path: traversal, absolute, reserved and invisible spellings are refused."""
    with pytest.raises(InvalidTokenRequest, match="scope refused: "):
        tokens.create("agent", "x", ["matters/ok", scope])
    assert tokens.list() == []


def test_an_empty_scope_is_refused_not_read_as_the_root(tokens: TokenStore) -> None:
    """'' is refused (an unset variable must not grant the whole store); '*' is how to say it."""
    with pytest.raises(InvalidTokenRequest, match=r"empty scope: give a store path, or '\*'"):
        tokens.create("agent", "x", [""])


def test_a_single_string_is_not_a_list_of_scopes(tokens: TokenStore) -> None:
    """Passing one string where a list belongs is refused, not read as one scope per character."""
    with pytest.raises(InvalidTokenRequest, match="not one string"):
        tokens.create("agent", "x", "matters/acme")


def test_scopes_are_kept_minimal_and_sorted(tokens: TokenStore) -> None:
    """Duplicates and scopes inside another scope are dropped; '*' absorbs every other scope."""
    tokens.create(
        "agent", "a", ["matters/b", "matters/acme/x", "matters/acme", "matters/b", "matters/acme-x"]
    )
    tokens.create("agent", "b", ["matters/acme", "*"])
    assert tokens.get("a").scopes == ("matters/acme", "matters/acme-x", "matters/b")
    assert tokens.get("b").scopes == ("*",)


# -- may_touch ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("matters/acme", True),
        ("matters/acme/inbox/1.pdf", True),
        ("matters/acme-evil", False),
        ("matters/acme-evil/1.pdf", False),
        ("matters/acmex", False),
        ("matters", False),
        ("", False),
        ("matters/acme/../other", False),
        ("matters/acme/./x", False),
        ("matters/acme//x", False),
        ("matters/acme/", False),
        ("/matters/acme", False),
        ("matters/ACME", False),
    ],
)
def test_may_touch_is_decided_segment_by_segment(path: str, allowed: bool) -> None:
    """matters/acme covers itself and paths below it, never matters/acme-evil, a parent, or a bad spelling."""
    assert principal("matters/acme").may_touch(path) is allowed


def test_the_whole_store_covers_every_valid_path_and_no_invalid_one() -> None:
    """A '*' principal may touch the root and any store path, but still no invalid path."""
    everyone = principal("*")
    assert everyone.whole_store
    assert everyone.may_touch("")
    assert everyone.may_touch("anything/at/all.pdf")
    assert not everyone.may_touch("../escape")
    assert not everyone.may_touch(".pva/journal")


segment = st.text(alphabet="ab-", min_size=1, max_size=3)


@given(st.lists(segment, min_size=1, max_size=3), st.lists(segment, min_size=1, max_size=4))
def test_may_touch_agrees_with_a_segment_prefix(scope: list[str], path: list[str]) -> None:
    """For any scope and path, may_touch is true exactly when the scope's segments begin the path's."""
    assert principal("/".join(scope)).may_touch("/".join(path)) is (path[: len(scope)] == scope)


def test_an_unmigrated_database_is_refused(empty_url: str) -> None:
    """Opening the token store on a database that was never migrated says to run pva db upgrade."""
    with pytest.raises(NotMigrated, match="pva db upgrade"):
        TokenStore.open(empty_url)
