"""How the client reports refusals and failures: the API's code and status, and the CLI's exit code."""

from __future__ import annotations

import socket

import httpx
import pytest

from planner.client.http_client import ClientError, InvalidArgument, PvaClient, SidecarUnreachable
from tests.client.conftest import BROKEN, FILE_IT, URL

Clients = dict[str, PvaClient]
UNKNOWN_SECRET = "pva_" + "A" * 43


def refusal(call: object) -> ClientError:
    assert callable(call)
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def test_an_unknown_token_is_401(http: httpx.Client) -> None:
    """A well-formed but unknown token is refused as unauthenticated, exit code 2."""
    error = refusal(lambda: PvaClient(URL, UNKNOWN_SECRET, http=http).list())
    assert (error.status, error.code, error.exit_code) == (401, "unauthenticated", 2)
    assert "HTTP 401" in str(error)


def test_a_role_that_may_not_is_403(as_: Clients) -> None:
    """An agent reading the audit, or approving its own plan, is refused with 403."""
    assert refusal(as_["agent"].audit).status == 403
    submitted = as_["agent"].submit(FILE_IT)
    error = refusal(lambda: as_["agent"].approve(submitted.id, "mine"))
    assert (error.status, error.exit_code) == (403, 2)


def test_an_unknown_or_unseen_plan_is_404(as_: Clients) -> None:
    """A plan that does not exist, or that the token may not see, is not_found."""
    assert refusal(lambda: as_["agent"].get("0" * 64)).code == "not_found"
    submitted = as_["agent"].submit(FILE_IT)
    error = refusal(lambda: as_["outsider"].get(submitted.id))
    assert (error.status, error.code) == (404, "not_found")


def test_applying_a_pending_plan_is_409(as_: Clients) -> None:
    """Applying a plan nobody approved is a 409 conflict with the plan's state, exit code 2."""
    submitted = as_["agent"].submit(FILE_IT)
    error = refusal(lambda: as_["agent"].apply(submitted.id))
    assert (error.status, error.exit_code) == (409, 2)
    assert error.code in {"not_approved", "illegal_transition"}


def test_a_malformed_plan_is_422_with_problems(as_: Clients) -> None:
    """A plan that fails the schema is 422 invalid_request, with every problem's JSON location."""
    error = refusal(lambda: as_["agent"].submit(BROKEN))
    assert (error.status, error.code, error.exit_code) == (422, "invalid_request", 2)
    assert any(problem.location.startswith("/ops/0") for problem in error.problems)


def test_a_bad_filter_is_422(as_: Clients) -> None:
    """A path filter that is not a store path, or an unknown state, is refused before any query."""
    assert refusal(lambda: as_["alice"].list(path="../x")).code == "invalid_path"
    with pytest.raises(ValueError, match="frozen"):
        as_["alice"].list(state="frozen")


def test_a_malformed_plan_id_is_refused_before_sending(as_: Clients) -> None:
    """An id that is not 8+ lowercase hex digits never reaches the sidecar: InvalidArgument, exit 2."""
    for bad in ("abc", "../../healthz", "ABCDEF0123"):
        error = refusal(lambda bad=bad: as_["agent"].get(bad))
        assert isinstance(error, InvalidArgument)
        assert (error.status, error.exit_code) == (None, 2)


def test_from_env_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """from_env says which variable is unset, and reads both when they are."""
    monkeypatch.delenv("PVA_URL", raising=False)
    monkeypatch.delenv("PVA_TOKEN", raising=False)
    with pytest.raises(InvalidArgument, match="PVA_URL"):
        PvaClient.from_env()
    monkeypatch.setenv("PVA_URL", "http://127.0.0.1:9")
    with pytest.raises(InvalidArgument, match="PVA_TOKEN"):
        PvaClient.from_env()
    monkeypatch.setenv("PVA_TOKEN", UNKNOWN_SECRET)
    with PvaClient.from_env() as client:
        assert client.url == "http://127.0.0.1:9"


def test_a_closed_port_is_unreachable() -> None:
    """No sidecar listening is SidecarUnreachable, exit code 3, naming the URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with PvaClient(url, UNKNOWN_SECRET, timeout=5) as client:
        error = refusal(client.list)
    assert isinstance(error, SidecarUnreachable)
    assert error.exit_code == 3
    assert url in str(error)


def test_what_a_proxy_says_is_a_server_failure() -> None:
    """A 502 page from a proxy, or a 200 that is not JSON, is a ClientError with exit code 3 (an operator)."""

    def proxy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/plans":
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        return httpx.Response(200, text="<html>login</html>")

    with httpx.Client(transport=httpx.MockTransport(proxy)) as http:
        client = PvaClient(URL, UNKNOWN_SECRET, http=http)
        gateway = refusal(client.list)
        assert (gateway.status, gateway.code, gateway.exit_code) == (502, "http_error", 3)
        assert refusal(lambda: client.history("m")).code == "bad_answer"


def test_snapshot_refusal_surfaces_on_first_read(as_: Clients) -> None:
    """A snapshot outside the token's scope is refused when the stream is first read."""
    lines = as_["agent"].snapshot("elsewhere")
    error = refusal(lambda: next(lines))
    assert error.status in {403, 404}


def test_a_given_transport_stays_open(http: httpx.Client, tokens: dict[str, str]) -> None:
    """Closing the client leaves a transport the caller passed open for the caller's other uses."""
    with PvaClient(URL, tokens["agent"], http=http) as client:
        client.list()
    assert PvaClient(URL, tokens["agent"], http=http).list() == []
