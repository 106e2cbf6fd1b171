"""A small discovery set for the custodian example: e-mails and named files in a matter's inbox."""

from __future__ import annotations

from pathlib import Path

DOCUMENTS = {
    "0001.eml": "From: Alice Smith <alice@acme.example>\nSubject: contract draft\n\nSee attached.\n",
    "0002.eml": "From: Bob Jones <bob@acme.example>\nSubject: Re: contract draft\n\nLooks fine.\n",
    "0003.eml": "From: alice@acme.example\nSubject: signed copy\n\nSigned.\n",
    "bob--board-minutes.pdf": "%PDF-1.4 minutes of the board meeting\n",
    "scan-0004.pdf": "%PDF-1.4 an unlabelled scan\n",
}


def seed(store: Path, subtree: str) -> list[str]:
    """Create ``subtree/discovery/inbox`` below the store folder ``store``; return the paths made."""
    inbox = store / subtree / "discovery" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    made = []
    for name, text in DOCUMENTS.items():
        (inbox / name).write_text(text, encoding="utf-8")
        made.append(f"{subtree}/discovery/inbox/{name}")
    return made
