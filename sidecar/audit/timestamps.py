"""RFC 3161 timestamps of signed checkpoints: asking a time-stamping authority, and checking its answer.

A checkpoint says what the audit held, not when. A timestamp from an
authority outside the firm (a TSA, RFC 3161) over the checkpoint's signed
note says it existed by then: ``stamp`` sends the TSA the note's sha256 with
a fresh nonce and returns its DER ``TimeStampResp`` once the answer is
granted, for this note, with this nonce; ``check`` verifies one against the
TSA's root certificates (``rfc3161-client``: the signature, the chain, the
imprint) and gives the time it states.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import httpx
from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from sidecar.audit.checkpoints import CheckpointError

QUERY = "application/timestamp-query"
MAX_REPLY = 64 * 1024  # a reply is a few kilobytes (a token and its certificates)


class TimestampError(CheckpointError):
    """The TSA did not answer with a timestamp of this checkpoint, or a timestamp does not verify (exit 1)."""

    exit_code = 1


def stamp(url: str, data: bytes, *, timeout: float = 10.0) -> bytes:
    """The TSA's DER TimeStampResp over ``data``, checked: granted, of ``data``, for this request."""
    request = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    try:
        reply = httpx.post(url, content=request.as_bytes(), headers={"Content-Type": QUERY}, timeout=timeout)
    except httpx.HTTPError as error:
        raise TimestampError(f"the TSA at {url} did not answer: {error}") from None
    if reply.status_code != 200 or len(reply.content) > MAX_REPLY:
        raise TimestampError(f"the TSA at {url} answered {reply.status_code}, not a timestamp")
    try:
        response = decode_timestamp_response(reply.content)
    except ValueError as error:
        raise TimestampError(f"the TSA at {url} answered with no timestamp: {error}") from None
    if response.status != PKIStatus.GRANTED:
        raise TimestampError(
            f"the TSA at {url} refused: {'; '.join(response.status_string) or response.status}"
        )
    info = response.tst_info
    if info.message_imprint.message != hashlib.sha256(data).digest() or info.nonce != request.nonce:
        raise TimestampError(f"the TSA at {url} answered a timestamp of something else (imprint or nonce)")
    return reply.content


def check(reply: bytes, data: bytes, roots: list[x509.Certificate]) -> datetime:
    """The time a TimeStampResp states for ``data``, once it verifies against ``roots``."""
    if not roots:
        raise TimestampError("no TSA root certificate to check the timestamp against")
    try:
        response = decode_timestamp_response(reply)
    except ValueError as error:
        raise TimestampError(f"not a timestamp: {error}") from None
    builder = VerifierBuilder()
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify_message(response, data)
    except VerificationError as error:
        raise TimestampError(f"the timestamp does not verify: {error}") from None
    return response.tst_info.gen_time


def load_roots(pem: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM bundle (the TSA's roots)."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError as error:
        raise TimestampError(f"the TSA roots are not PEM certificates: {error}") from None
