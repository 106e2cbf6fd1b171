"""Signed checkpoints of the audit's Merkle tree: C2SP tlog-checkpoint bodies in C2SP signed notes.

A checkpoint's body is three lines: the log's origin, its tree size in
decimal, and its root hash in base64. A signed note is the body, a blank line,
and one line per signature: an em dash, a space, the key's name, a space, and
base64 of the 4-byte key hash followed by the 64-byte Ed25519 signature of the
body. Keys are written as golang.org/x/mod/sumdb/note writes them::

    verifier:  <name>+<key hash, 8 hex digits>+<base64(0x01 || public key)>
    signer:    PRIVATE+KEY+<name>+<key hash>+<base64(0x01 || private seed)>

key hash = the first 4 bytes (big-endian) of sha256(name || 0x0A || 0x01 ||
public key). Only parsing, signing and checking are here, and ``publish``,
which writes a signed checkpoint into a folder and never replaces one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sidecar.audit.merkle import HASH_SIZE
from sidecar.errors import AuditError

ED25519 = b"\x01"  # the signed-note signature type of Ed25519
SIGNER_PREFIX = "PRIVATE+KEY+"
DASH = "\u2014 "  # a signature line begins with an em dash and a space
MAX_NOTE_BYTES = 64 * 1024  # a checkpoint is a few hundred bytes; anything far larger is not one
_NAME = re.compile(r"[^\s+]+")  # non-empty, no spaces (Unicode ones included), no '+'


class CheckpointError(AuditError):
    """A checkpoint key that cannot be used, or a checkpoint that cannot be written (exit 2)."""

    exit_code = 2


class BadKey(CheckpointError):
    """A signer or verifier key that does not parse; the message names which and why."""


class CheckpointRefused(CheckpointError):
    """A checkpoint that does not verify: forged, signed by another key, or not a checkpoint (exit 1)."""

    exit_code = 1


class CheckpointConflict(CheckpointError):
    """The folder holds another checkpoint of this size: the log was rewritten, or the key changed."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: the log's origin, its size (events) and its RFC 6962 root hash."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The C2SP tlog-checkpoint text the signature covers, its final newline included."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode('ascii')}\n"

    def to_json(self) -> dict[str, object]:
        return {"origin": self.origin, "size": self.size, "root": base64.b64encode(self.root).decode("ascii")}


@dataclass(frozen=True, slots=True)
class Verifier:
    """A public key that checks signatures of one name."""

    name: str
    key_hash: bytes  # 4 bytes
    public: Ed25519PublicKey

    def __str__(self) -> str:
        return _key_text(self.name, self.key_hash, _raw_public(self.public))

    def verifies(self, body: bytes, signature: bytes) -> bool:
        try:
            self.public.verify(signature, body)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Signer:
    """A private key that signs under one name; ``verifier`` is what to publish."""

    name: str
    private: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        public = self.private.public_key()
        return Verifier(self.name, key_hash(self.name, _raw_public(public)), public)

    def signature_line(self, body: str) -> str:
        signature = self.private.sign(body.encode("utf-8"))
        encoded = base64.b64encode(self.verifier.key_hash + signature).decode("ascii")
        return f"{DASH}{self.name} {encoded}\n"


def key_hash(name: str, public: bytes) -> bytes:
    """The 4-byte key hash of an Ed25519 key: sha256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public).digest()[:4]


def new_signer_key(name: str) -> str:
    """A fresh private key, written as a signer key for PVA_CHECKPOINT_KEY."""
    _check_name(name)
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    return SIGNER_PREFIX + _key_text(name, key_hash(name, _raw_public(private.public_key())), seed)


def parse_signer(text: str) -> Signer:
    """The signer a ``PRIVATE+KEY+...`` text names; BadKey when it is not one, or its hash is wrong."""
    if not text.startswith(SIGNER_PREFIX):
        raise BadKey(f"a signer key begins with {SIGNER_PREFIX}")
    name, stated, material = _key_parts(text.removeprefix(SIGNER_PREFIX), "signer")
    try:
        private = Ed25519PrivateKey.from_private_bytes(material)
    except ValueError:
        raise BadKey("the signer key does not hold an Ed25519 private key") from None
    signer = Signer(name, private)
    if signer.verifier.key_hash != stated:
        raise BadKey("the signer key's hash does not match its name and key")
    return signer


def parse_verifier(text: str) -> Verifier:
    """The verifier a ``name+hash+key`` text names; BadKey when it is not one, or its hash is wrong."""
    name, stated, material = _key_parts(text, "verifier")
    try:
        public = Ed25519PublicKey.from_public_bytes(material)
    except ValueError:
        raise BadKey("the verifier key does not hold an Ed25519 public key") from None
    if key_hash(name, material) != stated:
        raise BadKey("the verifier key's hash does not match its name and key")
    return Verifier(name, stated, public)


def sign(checkpoint: Checkpoint, signer: Signer) -> str:
    """The signed note of a checkpoint."""
    if not checkpoint.origin or any(c in checkpoint.origin for c in "\r\n"):
        raise CheckpointError(
            f"{checkpoint.origin!r} cannot be a log's origin: it must be one non-empty line"
        )
    body = checkpoint.body()
    return body + "\n" + signer.signature_line(body)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint a signed note holds, once ``verifier``'s signature on it checks.

    CheckpointRefused, with the reason, when the note is not one, carries no
    signature of this key, or its signature does not verify (a forged or edited
    checkpoint).
    """
    body, signatures = _split_note(note)
    found = [sig for name, sig in signatures if name == verifier.name and sig[:4] == verifier.key_hash]
    if not found:
        raise CheckpointRefused(
            f"the checkpoint carries no signature of the key {verifier.name}+{verifier.key_hash.hex()}"
        )
    if not verifier.verifies(body.encode("utf-8"), found[0][4:]):
        raise CheckpointRefused(
            f"the signature of {verifier.name} does not verify: the checkpoint was edited or forged"
        )
    return parse_body(body)


def parse_body(body: str) -> Checkpoint:
    """The origin, size and root of a checkpoint body (extension lines after the third are allowed)."""
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointRefused("not a checkpoint: it needs an origin, a size and a root hash, one a line")
    origin, size, root = lines[:3]
    if not origin or not re.fullmatch(r"0|[1-9][0-9]{0,18}", size):
        raise CheckpointRefused(
            "not a checkpoint: its first lines must be an origin and a tree size in decimal"
        )
    decoded = _base64(root)
    if decoded is None or len(decoded) != HASH_SIZE:
        raise CheckpointRefused("not a checkpoint: its third line must be a base64 sha256 root hash")
    return Checkpoint(origin, int(size), decoded)


class Destination(Protocol):
    """Where checkpoints are published besides a folder (a GCS prefix): files created once, never replaced."""

    def where(self, name: str) -> str:
        """The file's address, for people."""
        ...

    def create(self, name: str, data: bytes) -> bytes | None:
        """Create ``name`` holding ``data``: None when made, else the bytes a file of that name holds."""
        ...


def publish(note: str, checkpoint: Checkpoint, folder: Path | Destination) -> Path | str:
    """Write a signed checkpoint into ``folder`` as ``<size>.checkpoint``; return where.

    A file of that name is never replaced: holding the same note it is left
    as is (signing a head twice gives the same bytes), holding another one
    it is a CheckpointConflict. The write is whole or absent (in a folder, a
    temporary file linked into place; in a bucket, an object created once).
    """
    data = note.encode("utf-8")
    where, found = create_once(folder, f"{checkpoint.size:012d}.checkpoint", data)
    if found is not None and found != data:
        raise CheckpointConflict(
            f"{where} already holds a different checkpoint of {checkpoint.size} events: "
            "the log was rewritten since, or another key signed it"
        )
    return where


def publish_timestamp(reply: bytes, checkpoint: Checkpoint, folder: Path | Destination) -> Path | str:
    """Write a checkpoint's RFC 3161 timestamp beside it as ``<size>.checkpoint.tsr``; the first one stays."""
    return create_once(folder, f"{checkpoint.size:012d}.checkpoint.tsr", reply)[0]


def create_once(folder: Path | Destination, name: str, data: bytes) -> tuple[Path | str, bytes | None]:
    """Create ``name`` holding ``data`` unless it exists: where, and None, or the bytes it already held."""
    if not isinstance(folder, Path):
        return folder.where(name), folder.create(name, data)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".checkpoint.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, target)
        except FileExistsError:
            return target, target.read_bytes()
    finally:
        os.unlink(temporary)
    return target, None


def _split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The signed text and the (name, key hash || signature) of each signature line."""
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES or not note.endswith("\n"):
        raise CheckpointRefused("not a signed checkpoint: it must end with its signature lines")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckpointRefused("not a signed checkpoint: no blank line before its signatures")
    body, lines = note[: cut + 1], note[cut + 2 :].removesuffix("\n").split("\n")
    signatures = []
    for line in lines:
        name, _, encoded = line.removeprefix(DASH).partition(" ")
        decoded = _base64(encoded)
        if not line.startswith(DASH) or not _NAME.fullmatch(name) or decoded is None or len(decoded) < 5:
            raise CheckpointRefused(f"not a signed checkpoint: a malformed signature line {line[:60]!r}")
        signatures.append((name, decoded))
    return body, signatures


def _key_parts(text: str, kind: str) -> tuple[str, bytes, bytes]:
    """(name, key hash, key material) of ``name+hash+base64(0x01 || key)``."""
    name, hash_hex, encoded = [*text.split("+", 2), "", ""][:3]
    decoded = _base64(encoded)
    if not _NAME.fullmatch(name) or not re.fullmatch(r"[0-9a-f]{8}", hash_hex) or decoded is None:
        raise BadKey(f"a {kind} key is written name+hash+key (name, 8 hex digits, base64)")
    if decoded[:1] != ED25519 or len(decoded) != 33:
        raise BadKey(f"the {kind} key is not an Ed25519 key (type 0x01, 32 bytes)")
    return name, bytes.fromhex(hash_hex), decoded[1:]


def _key_text(name: str, hashed: bytes, material: bytes) -> str:
    return f"{name}+{hashed.hex()}+{base64.b64encode(ED25519 + material).decode('ascii')}"


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes_raw()


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise BadKey(f"{name!r} cannot name a log or a key: it must be non-empty, without spaces or '+'")


def _base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
