"""docs/api.md's curl examples, run with the real curl against a real sidecar, in the document's order.

The sidecar (``pva serve``) serves the document's example store (its
``json manifest`` and ``json files`` blocks) over a migrated SQLite database.
The shell that runs each ``$ curl ...`` line has ``PVA_URL`` and one token
per role (``$AGENT``, ``$APPROVER``, ``$AUDITOR``, ``$COUNSEL``, ``$ADMIN``;
agents and counsel scoped to ``matters/acme``, approver and auditor to
``matters``), and the
document's ``file=`` blocks in its folder. Each command's output must be
the JSON shown below it, compared as JSON: with ``vary=time`` any date-time
matches any date-time, with ``vary=hash`` any 64-digit hex any other; an
object shown with a key ``"..."`` may hold more keys than it shows, and a
list ending in ``"..."`` may hold more items. JSON lines (a manifest) are
compared line by line. Other output (metrics) must start with the lines shown.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar import db
from sidecar.audit.checkpoints import new_signer_key
from sidecar.tokens import TokenStore
from tests.docs.test_docs_examples import BLOCKS, ROOT, VARYING, Block, _files_of, _tree_for, _vary
from tests.servers import sidecar
from tests.support.apps import migrated_sqlite

API_DOC = ROOT / "docs" / "api.md"
ELIDED = "..."
ROLES = {
    "AGENT": ("agent", "intake-agent", ["matters/acme"]),
    "APPROVER": ("approver", "alice", ["matters"]),
    "AUDITOR": ("auditor", "records", ["matters"]),
    "COUNSEL": ("counsel", "lee", ["matters/acme"]),
    "ADMIN": ("admin", "ops", []),
}

PUBLIC_URL = "https://pva.firm.example"  # PVA_PUBLIC_URL: the plans' pages shown in api.md are under it


def _curl_blocks() -> list[Block]:
    return [b for b in BLOCKS if b.document == API_DOC and b.language == "console" and b.kind == "curl"]


def _steps(block: Block) -> Iterator[tuple[str, str]]:
    for chunk in re.split(r"^\$ ", block.text, flags=re.MULTILINE)[1:]:
        command, _, output = chunk.partition("\n")
        assert command.startswith("curl "), f"{block.id}: {command!r} is not a curl command"
        yield command, output.strip()


def _same(shown: Any, actual: Any, vary: set[str], where: str) -> list[str]:
    """Where ``actual`` differs from ``shown`` (empty when it matches)."""
    if isinstance(shown, dict) and isinstance(actual, dict):
        partial = shown.get(ELIDED) == ELIDED
        keys = set(shown) - {ELIDED}
        problems = [] if partial or keys == set(actual) else [f"{where}: keys {sorted(actual)}"]
        for key in sorted(keys):
            if key not in actual:
                problems.append(f"{where}/{key}: missing")
            else:
                problems += _same(shown[key], actual[key], vary, f"{where}/{key}")
        return problems
    if isinstance(shown, list) and isinstance(actual, list):
        partial = bool(shown) and shown[-1] == ELIDED
        items = shown[:-1] if partial else shown
        if len(actual) < len(items) or (not partial and len(actual) != len(items)):
            return [f"{where}: {len(actual)} items, shown {len(items)}"]
        return [p for i, item in enumerate(items) for p in _same(item, actual[i], vary, f"{where}/{i}")]
    if isinstance(shown, str) and isinstance(actual, str):
        for kind in vary:
            if re.fullmatch(VARYING[kind], shown) and re.fullmatch(VARYING[kind], actual):
                return []
    if shown == actual and type(shown) is type(actual):
        return []
    return [f"{where}: {actual!r}, shown {shown!r}"]


def _json(text: str) -> Any:
    """One JSON document, or JSON lines (a manifest) as a list; ValueError for other text."""
    try:
        return json.loads(text)
    except ValueError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("api-doc")
    store = folder / "store"
    files = _files_of(API_DOC)
    for entry in _tree_for(API_DOC).walk():
        target = store / entry.path
        if entry.is_dir:
            target.mkdir(parents=True)
        else:
            target.write_bytes(files.get(entry.path, bytes(entry.size or 0)))
    url = migrated_sqlite(folder, "pva.db")
    with db.opened(TokenStore, url) as tokens:
        env = {name: tokens.create(role, label, scopes)[1] for name, (role, label, scopes) in ROLES.items()}
    for block in BLOCKS:
        if block.document == API_DOC and "file" in block.options:
            (folder / block.options["file"]).write_text(block.text + "\n", encoding="utf-8")
    key = new_signer_key("firm.example/pva")  # signs the custody reports
    with sidecar(
        Path("store"), url, folder / "serve.log", cwd=folder, checkpoint_key=key, public_url=PUBLIC_URL
    ) as address:
        yield folder, env | {"PVA_URL": address}


def _template(path: str) -> str:
    """The OpenAPI path a curl example calls: plan, token and webhook ids and file paths as parameters."""
    path = re.sub(r"/[0-9a-f]{8,64}(?=/|$)", "/{plan_id}", path)
    path = re.sub(r"/tok_[0-9a-f]{12}(?=/|$)", "/{token_id}", path)
    path = re.sub(r"/writes/\d+$", "/writes/{index}", path)
    path = re.sub(r"/whk_[0-9a-f]{12}$", "/{webhook_id}", path)
    return re.sub(r"^/v1/files/.+", "/v1/files/{path}", path)


def test_api_doc_shows_every_operation() -> None:
    """Every operation of the OpenAPI document has a curl example in docs/api.md."""
    from sidecar.app import create_app
    from sidecar.settings import Settings

    document = create_app(Settings()).openapi()
    paths = set(document["paths"])
    shown = {
        _template(match.group(1))
        for block in _curl_blocks()
        for command, _ in _steps(block)
        # A hold's id comes from an earlier answer, by a command substitution: it stands for {hold_id}.
        for match in [re.search(r'\$PVA_URL(/[^?" ]*)', re.sub(r"\$\([^)]*\)", "{hold_id}", command))]
        if match
    }
    assert paths <= shown, f"docs/api.md shows no curl example of: {sorted(paths - shown)}"


@pytest.mark.parametrize("block", _curl_blocks(), ids=lambda block: block.id)
def test_api_doc_curl_block(block: Block, server: tuple[Path, dict[str, str]]) -> None:
    """A curl example prints what the document shows, against a live sidecar."""
    folder, env = server
    for command, shown in _steps(block):
        environment = os.environ | env
        run = subprocess.run(
            ["bash", "-c", command], cwd=folder, env=environment, capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, f"{block.id}: {command} failed: {run.stderr}"
        try:
            actual, expected = _json(run.stdout), _json(shown)
        except ValueError:
            assert run.stdout.startswith(shown), f"{block.id}: {command} printed:\n{run.stdout[:2000]}"
            continue
        problems = _same(expected, actual, _vary(block), "")
        assert not problems, f"{block.id}: {command}\n" + "\n".join(problems) + f"\nprinted:\n{run.stdout}"
