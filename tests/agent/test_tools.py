"""Tool definitions (generated from the plan schema) and the dispatcher, against a real sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from planner.agent.snapshot import scan_tree
from planner.agent.tools import HINTS, ToolBox, definitions, tools
from planner.cli.main import main
from planner.client.http_client import PvaClient
from planner.core.report import Code
from planner.core.schema import plan_json_schema
from sidecar.settings import Settings
from tests.agent.conftest import MATTER
from tests.support.tokens import create_tokens

SCHEMA_EXAMPLES = Path(__file__).parents[2] / "schema" / "examples"
INBOX = f"{MATTER}/discovery/inbox"
GOOD = {
    "pva": "plan/v1",
    "title": "File one e-mail",
    "scope": [MATTER],
    "ops": [
        {"op": "mkdir", "path": f"{MATTER}/alice"},
        {
            "op": "move",
            "src": f"{INBOX}/0001.eml",
            "dst": f"{MATTER}/alice/0001.eml",
            "reason": "From: Alice",
        },
    ],
}


def test_every_code_has_a_hint() -> None:
    """Each diagnostic code an agent can meet comes with a hint on how to fix it."""
    assert set(HINTS) == set(Code)


@pytest.mark.parametrize("form", ["openai", "anthropic"])
def test_definitions_name_the_tools_and_no_approval(form: str) -> None:
    """Both formats list verify, submit, status, list, read, search, history, holds; none approves."""
    found = definitions(form)  # type: ignore[arg-type]
    names = [d["function"]["name"] if form == "openai" else d["name"] for d in found]
    assert names == [
        "pva_verify_plan",
        "pva_submit_plan",
        "pva_plan_status",
        "pva_list_folder",
        "pva_read_file",
        "pva_search_names",
        "pva_document_history",
        "pva_list_holds",
    ]
    assert not [n for n in names if "approve" in n or "apply" in n or "reject" in n]


def test_plan_parameter_accepts_exactly_what_the_schema_accepts() -> None:
    """On every example plan of schema/examples, the tool's plan parameter and the plan schema agree."""
    parameters = tools()[0].parameters
    jsonschema.Draft202012Validator.check_schema(parameters)
    tool = jsonschema.Draft202012Validator(parameters)
    schema = jsonschema.Draft202012Validator(plan_json_schema())
    plans = [json.loads(p.read_text()).get("plan") for p in sorted(SCHEMA_EXAMPLES.glob("*/*.json"))]
    plans = [plan for plan in plans if plan is not None]
    verdicts = [(schema.is_valid(plan), tool.is_valid({"plan": plan})) for plan in plans]
    assert all(by_schema == by_tool for by_schema, by_tool in verdicts)
    assert {by_schema for by_schema, _ in verdicts} == {True, False}


def test_cli_prints_the_definitions(capsys: pytest.CaptureFixture[str]) -> None:
    """``pva tools --format anthropic`` prints the same definitions as the Python helper."""
    assert main(["tools", "--format", "anthropic"]) == 0
    assert json.loads(capsys.readouterr().out) == definitions("anthropic")


def test_verify_answers_diagnostics_with_hints(as_: dict[str, PvaClient]) -> None:
    """A plan moving a missing file verifies not ok, with the code, op index and hint for the error."""
    plan = {**GOOD, "ops": [{"op": "delete", "path": f"{INBOX}/nothing.eml"}]}
    answer = ToolBox(as_["agent"]).call("pva_verify_plan", json.dumps({"plan": plan}))
    assert answer["ok"] is False
    (error,) = answer["diagnostics"]
    assert error["code"] == "not_found"
    assert error["op"] == 0
    assert error["hint"] == HINTS[Code.NOT_FOUND]


def test_submit_then_status(as_: dict[str, PvaClient]) -> None:
    """A good plan submitted through the tools is pending, and its status reads back by id."""
    box = ToolBox(as_["agent"])
    verified = box.call("pva_verify_plan", {"plan": GOOD})
    assert verified["ok"] is True
    submitted = box.call("pva_submit_plan", {"plan": GOOD})
    assert submitted["state"] == "pending"
    assert submitted["id"] == verified["digest"]
    status = box.call("pva_plan_status", {"id": submitted["id"][:12]})
    assert (status["id"], status["state"]) == (submitted["id"], "pending")


def test_malformed_plan_is_an_answer_not_an_exception(as_: dict[str, PvaClient]) -> None:
    """A plan that fails the schema comes back as invalid_plan with each problem's location."""
    broken = {"pva": "plan/v1", "title": "No dst", "scope": [MATTER], "ops": [{"op": "move", "src": "x"}]}
    answer = ToolBox(as_["agent"]).call("pva_submit_plan", {"plan": broken})
    assert answer["ok"] is False
    assert answer["error"]["code"] == "invalid_plan"
    assert any(problem.startswith("/ops/0") for problem in answer["error"]["problems"])


def test_refusals_and_unknown_tools_are_answers(as_: dict[str, PvaClient]) -> None:
    """An out-of-scope plan, a bad id and an unknown tool each answer ok false with a code."""
    box = ToolBox(as_["agent"])
    outside = {**GOOD, "scope": ["matters/other"], "ops": [{"op": "mkdir", "path": "matters/other/x"}]}
    assert box.call("pva_submit_plan", {"plan": outside})["error"]["code"] == "not_allowed"
    assert box.call("pva_plan_status", {"id": "XYZ"})["error"]["code"] == "invalid_id"
    assert box.call("pva_approve_plan", {"id": "abc"})["error"]["code"] == "unknown_tool"
    assert box.call("pva_plan_status", "{not json")["error"]["code"] == "invalid_arguments"


def test_list_folder_from_a_local_tree_or_the_sidecar(as_: dict[str, PvaClient], store: Path) -> None:
    """pva_list_folder lists the agent's own tree when it has one, else the sidecar's listing, alike."""
    local = ToolBox(as_["agent"], tree=scan_tree(store)).call("pva_list_folder", {"path": INBOX})
    remote = ToolBox(as_["agent"]).call("pva_list_folder", {"path": INBOX})
    assert [e["name"] for e in local["entries"]] == [e["name"] for e in remote["entries"]]
    first = local["entries"][0]
    assert first["name"] == "0001.eml"
    assert first["kind"] == "file"
    assert len(first["sha256"]) == 64
    missing = ToolBox(as_["agent"], tree=scan_tree(store)).call("pva_list_folder", {"path": "nowhere"})
    assert missing["error"]["code"] == "not_found"


def test_read_file_answers_text_up_to_a_cap(as_: dict[str, PvaClient], store: Path) -> None:
    """pva_read_file gives a file's text, cut at max_bytes with 'truncated'; out of scope is an answer."""
    box = ToolBox(as_["agent"])
    text = (store / INBOX / "0001.eml").read_text(encoding="utf-8")
    whole = box.call("pva_read_file", {"path": f"{INBOX}/0001.eml"})
    assert whole == {"ok": True, "path": f"{INBOX}/0001.eml", "text": text, "truncated": False}
    cut = box.call("pva_read_file", {"path": f"{INBOX}/0001.eml", "max_bytes": 10})
    assert cut["text"] == text.encode()[:10].decode("utf-8", "replace")
    assert cut["truncated"] is True
    assert box.call("pva_read_file", {"path": "matters/other/x.txt"})["error"]["code"] == "not_allowed"
    assert box.call("pva_read_file", {"path": f"{INBOX}/0001.eml", "max_bytes": 0})["ok"] is False


def test_read_file_says_a_binary_file_is_binary_and_reads_utf16_text(
    as_: dict[str, PvaClient], store: Path
) -> None:
    """A PDF is named as one, not poured into the model's context as U+FFFD; UTF-16 reads as text."""
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Filter /FlateDecode >>\nstream\n" + bytes(range(256))
    (store / INBOX / "scan.pdf").write_bytes(pdf)
    (store / INBOX / "export.txt").write_bytes("Bates,Custodian\r\nACME-0001,Alice\r\n".encode("utf-16"))
    (store / INBOX / "note.txt").write_bytes("Grüße aus Köln\n".encode())
    box = ToolBox(as_["agent"])
    answer = box.call("pva_read_file", {"path": f"{INBOX}/scan.pdf"})
    assert answer == {
        "ok": True,
        "path": f"{INBOX}/scan.pdf",
        "binary": True,
        "media": "PDF document",
        "next": answer["next"],
    }
    assert "not shown" in answer["next"]
    exported = box.call("pva_read_file", {"path": f"{INBOX}/export.txt"})
    assert exported["text"] == "Bates,Custodian\r\nACME-0001,Alice\r\n"
    cut = box.call("pva_read_file", {"path": f"{INBOX}/note.txt", "max_bytes": 4})
    assert (cut["text"], cut["truncated"]) == ("Grü", True)
    inside = box.call("pva_read_file", {"path": f"{INBOX}/note.txt", "max_bytes": 3})  # ends inside the ü
    assert inside["text"] == "Gr"


def test_search_names_matches_a_glob_below_a_folder(as_: dict[str, PvaClient], store: Path) -> None:
    """pva_search_names finds the names matching a glob below a folder, case-insensitively."""
    answer = ToolBox(as_["agent"]).call("pva_search_names", {"path": MATTER, "pattern": "0001.EML"})
    assert [m["path"] for m in answer["matches"]] == [f"{INBOX}/0001.eml"]
    every = ToolBox(as_["agent"]).call("pva_search_names", {"path": MATTER, "pattern": "discovery/inbox/*"})
    assert {m["path"] for m in every["matches"]} == {f"{INBOX}/{p.name}" for p in (store / INBOX).iterdir()}


def test_holds_are_listed_and_a_held_move_is_on_hold_with_its_hint(
    server: str, tokens: dict[str, str], settings: Settings
) -> None:
    """pva_list_holds lists the holds in scope; verifying a move of a held file is on_hold, with a hint."""
    counsel = create_tokens(settings.database_url, {"counsel": ("counsel", [MATTER])})["counsel"]
    with PvaClient(server, counsel) as client:
        hold = client.place_hold([INBOX], matter="Acme", reason="litigation")
    with PvaClient(server, tokens["agent"]) as agent:
        box = ToolBox(agent)
        assert box.call("pva_list_holds", {})["holds"] == [{"id": hold.id, "paths": [INBOX]}]
        answer = box.call("pva_verify_plan", {"plan": GOOD})
    assert answer["ok"] is False
    (diagnostic,) = answer["diagnostics"]
    assert (diagnostic["code"], diagnostic["hint"]) == ("on_hold", HINTS[Code.ON_HOLD])
