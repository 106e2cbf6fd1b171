"""The built wheel works alone: in a clean virtualenv outside the checkout, it migrates and applies.

A checkout hides packaging mistakes (files read from beside the package, data
not declared): here nothing of the checkout is importable. The wheel is built
from a copy of the sources, installed with the ``sidecar`` extra into a new
virtualenv, and from a folder elsewhere ``pva db upgrade`` makes the database,
``pva token create`` makes tokens, and a ``pva serve`` of that install takes a
plan through submit, approval and apply, and shows its sign-in page.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import sidecar

ROOT = Path(__file__).resolve().parents[2]
BUILD_SECONDS = 900  # pip fetches the build backend and the sidecar's dependencies (cached after once)
LEFT_IN_CHECKOUT = shutil.ignore_patterns(
    ".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def _run(*command: str | Path, cwd: Path) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PVA_", "VIRTUAL_ENV"))}
    env["PYTHONPATH"] = ""  # nothing of the checkout
    done = subprocess.run(
        [str(part) for part in command],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_SECONDS,
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a clean virtualenv holding the wheel built from these sources."""
    work = tmp_path_factory.mktemp("wheel")
    sources = work / "sources"
    shutil.copytree(ROOT, sources, symlinks=True, ignore=LEFT_IN_CHECKOUT)
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", work / "dist", sources, cwd=work)
    (wheel,) = (work / "dist").glob("pva-*.whl")
    _run(sys.executable, "-m", "venv", work / "venv", cwd=work)
    _run(work / "venv/bin/python", "-m", "pip", "install", "-q", f"{wheel}[sidecar]", cwd=work)
    return work / "venv/bin"


def test_the_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = _run(installed / "python", "-c", "import sidecar.db; print(sidecar.db.MIGRATIONS)", cwd=tmp_path)
    migrations = Path(where.strip())
    assert migrations.is_relative_to(installed.parent), migrations
    assert not migrations.is_symlink()
    assert {path.name for path in (migrations / "versions").glob("*.py")} == {
        path.name for path in (ROOT / "migrations/versions").glob("*.py")
    }


def test_the_wheel_migrates_and_applies_a_plan(installed: Path, tmp_path: Path) -> None:
    pva = installed / "pva"
    url = f"sqlite:///{tmp_path / 'pva.db'}"
    upgraded = _run(pva, "db", "upgrade", "--db", url, cwd=tmp_path)
    assert "is at revision" in upgraded

    def token(role: str, name: str) -> str:
        made = _run(pva, "token", "create", "--db", url, "--role", role, "--name", name, "--scope", "cases",
                    "--json", cwd=tmp_path)  # fmt: skip
        return str(json.loads(made)["secret"])

    agent, approver = token("agent", "paralegal-bot"), token("approver", "partner")
    store = tmp_path / "projects"
    (store / "cases/inbox").mkdir(parents=True)
    (store / "cases/inbox/memo.txt").write_text("privileged\n")
    plan = {
        "pva": "plan/v1",
        "title": "file the memo",
        "scope": ["cases"],
        "ops": [
            {"op": "mkdir", "path": "cases/filed"},
            {"op": "move", "src": "cases/inbox/memo.txt", "dst": "cases/filed/memo.txt"},
        ],
    }
    with (
        sidecar(store, url, tmp_path / "serve.log", cwd=tmp_path, pva=pva) as base,
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        submitted = http.post("/v1/plans", json=plan, headers={"Authorization": f"Bearer {agent}"})
        assert submitted.status_code in (200, 201), submitted.text
        plan_id = submitted.json()["id"]
        approved = http.post(
            f"/v1/plans/{plan_id}/approve",
            json={"comment": "filed as asked"},
            headers={"Authorization": f"Bearer {approver}"},
        )
        assert approved.status_code == 202, approved.text  # queued: the serve's worker applies it
        state = _settled(http, plan_id, approver)
        page = http.get("/sign-in")  # the approval page's templates came with the wheel
    assert state == "applied"
    assert (store / "cases/filed/memo.txt").read_text() == "privileged\n"
    assert not (store / "cases/inbox/memo.txt").exists()
    assert page.status_code == 200
    assert 'name="token"' in page.text


def _settled(http: httpx.Client, plan_id: str, token: str) -> str:
    """The plan's state once it is no longer on its way (approved, applying)."""
    deadline = time.monotonic() + 120
    while True:
        state = str(
            http.get(f"/v1/plans/{plan_id}", headers={"Authorization": f"Bearer {token}"}).json()["state"]
        )
        if state not in ("approved", "applying") or time.monotonic() > deadline:
            return state
        time.sleep(0.1)
