"""Checkpoints: signed notes as the Go reference writes them, and every forgery refused.

The reference vector is the example of golang.org/x/mod/sumdb/note (note.go's
package documentation and note_test.go): the PeterNeumann signer and verifier
keys and the note they sign. Ed25519 signatures are deterministic (RFC 8032),
so signing its text with its key must give its signature byte for byte.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest

from sidecar.audit import checkpoints
from sidecar.audit.checkpoints import BadKey, Checkpoint, CheckpointConflict, CheckpointRefused

GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIGNATURE = (
    "\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
HEAD = Checkpoint(
    "pva.example/audit", 8, bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
)


def test_the_reference_keys_and_signature_are_reproduced() -> None:
    """The Go signer key parses, derives the Go verifier key, and signs the Go text with the Go signature."""
    signer = checkpoints.parse_signer(GO_SIGNER)
    assert str(signer.verifier) == GO_VERIFIER
    assert str(checkpoints.parse_verifier(GO_VERIFIER)) == GO_VERIFIER
    assert signer.signature_line(GO_TEXT) == GO_SIGNATURE


def test_the_reference_note_verifies_and_an_edit_of_it_does_not() -> None:
    """The Go note's signature checks (its text then is no checkpoint); one letter changed, it does not."""
    note = GO_TEXT + "\n" + GO_SIGNATURE
    verifier = checkpoints.parse_verifier(GO_VERIFIER)
    with pytest.raises(CheckpointRefused, match="not a checkpoint"):  # past the signature, at the body
        checkpoints.open_checkpoint(note, verifier)
    with pytest.raises(CheckpointRefused, match="does not verify"):
        checkpoints.open_checkpoint(note.replace("cryptography", "cryptographY"), verifier)


def test_a_signed_checkpoint_has_the_c2sp_layout_and_opens() -> None:
    """Origin, size and base64 root, a blank line, one signature line; it opens to the same head."""
    signer = checkpoints.parse_signer(GO_SIGNER)
    note = checkpoints.sign(HEAD, signer)
    lines = note.split("\n")
    assert lines[:4] == ["pva.example/audit", "8", base64.b64encode(HEAD.root).decode(), ""]
    assert lines[4].startswith("\u2014 PeterNeumann ")
    assert base64.b64decode(lines[4].split(" ")[2])[:4] == bytes.fromhex("c74f20a3")
    assert checkpoints.open_checkpoint(note, signer.verifier) == HEAD


def test_a_new_key_round_trips() -> None:
    """``new_signer_key`` writes a key that parses back, under the name given."""
    signer = checkpoints.parse_signer(checkpoints.new_signer_key("firm.example/pva"))
    assert signer.name == "firm.example/pva"
    assert checkpoints.parse_verifier(str(signer.verifier)) == signer.verifier
    note = checkpoints.sign(HEAD, signer)
    assert checkpoints.open_checkpoint(note, signer.verifier) == HEAD


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda n: n.replace("\n8\n", "\n9\n"), "does not verify"),
        (lambda n: n.replace("pva.example", "pvb.example"), "does not verify"),
        (lambda n: n.replace("XcnaeacG", "XcnaeacH"), "does not verify"),
        (lambda n: n.replace("PeterNeumann", "Someone"), "no signature of the key"),
        (lambda n: n.split("\n\n")[0] + "\n", "no blank line"),
        (lambda n: n.replace("\u2014 ", "-- "), "malformed signature line"),
        (lambda n: n.replace("\n8\n", "\n08\n"), "does not verify"),
    ],
)
def test_an_edited_checkpoint_is_refused(edit: Callable[[str], str], reason: str) -> None:
    """Editing the size, origin or root, or the signature line, is refused with the reason."""
    signer = checkpoints.parse_signer(GO_SIGNER)
    note = checkpoints.sign(HEAD, signer)
    edited = edit(note)
    assert edited != note
    with pytest.raises(CheckpointRefused, match=reason):
        checkpoints.open_checkpoint(edited, signer.verifier)


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    """A checkpoint forged with another key of the same name has the wrong key hash: refused."""
    forger = checkpoints.parse_signer(checkpoints.new_signer_key("PeterNeumann"))
    note = checkpoints.sign(HEAD, forger)
    with pytest.raises(CheckpointRefused, match="no signature of the key PeterNeumann"):
        checkpoints.open_checkpoint(note, checkpoints.parse_verifier(GO_VERIFIER))


def test_a_forged_signature_under_the_right_key_hash_is_refused() -> None:
    """Another key's signature relabelled with the right key hash does not verify."""
    forger = checkpoints.parse_signer(checkpoints.new_signer_key("PeterNeumann"))
    line = forger.signature_line(HEAD.body())
    blob = base64.b64decode(line.split(" ")[2])
    forged = (
        HEAD.body()
        + "\n\u2014 PeterNeumann "
        + base64.b64encode(bytes.fromhex("c74f20a3") + blob[4:]).decode()
        + "\n"
    )
    with pytest.raises(CheckpointRefused, match="edited or forged"):
        checkpoints.open_checkpoint(forged, checkpoints.parse_verifier(GO_VERIFIER))


@pytest.mark.parametrize(
    "text",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong hash
        "Peter+Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # '+' in the name
        "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type 0x02
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short
        "PeterNeumann",
    ],
)
def test_malformed_verifier_keys_are_refused(text: str) -> None:
    """A verifier key with a wrong hash, a bad name, another type or a short key is a BadKey."""
    with pytest.raises(BadKey):
        checkpoints.parse_verifier(text)


def test_a_verifier_key_is_not_a_signer_key() -> None:
    """A public key given where the private one belongs is refused."""
    with pytest.raises(BadKey, match="PRIVATE"):
        checkpoints.parse_signer(GO_VERIFIER)


def test_publishing_writes_once_and_refuses_a_different_checkpoint(tmp_path: Path) -> None:
    """The same checkpoint published twice is one file; another of the same size is a conflict."""
    signer = checkpoints.parse_signer(GO_SIGNER)
    note = checkpoints.sign(HEAD, signer)
    path = checkpoints.publish(note, HEAD, tmp_path / "out")
    assert path == tmp_path / "out" / "000000000008.checkpoint"
    assert path.read_text(encoding="utf-8") == note
    assert checkpoints.publish(note, HEAD, tmp_path / "out") == path
    other = Checkpoint(HEAD.origin, 8, bytes(32))
    with pytest.raises(CheckpointConflict, match="different checkpoint of 8 events"):
        checkpoints.publish(checkpoints.sign(other, signer), other, tmp_path / "out")
    assert path.read_text(encoding="utf-8") == note
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
