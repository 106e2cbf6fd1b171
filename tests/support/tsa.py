"""A local fake RFC 3161 time-stamping authority: a root CA, a TSA certificate, and an HTTP server.

It answers ``application/timestamp-query`` POSTs with a granted
``TimeStampResp`` whose token is a CMS SignedData over a TSTInfo (the
request's message imprint and nonce, the server's clock), signed by the TSA
key with the attributes RFC 5816 asks for (content type, message digest,
signing certificate v2). The DER is written by hand below: only the few
types a token needs. ``answer`` lets a test make it misbehave.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from rfc3161_client._rust import parse_timestamp_request

SHA256 = "2.16.840.1.101.3.4.2.1"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"
TST_INFO = "1.2.840.113549.1.9.16.1.4"
SIGNED_DATA = "1.2.840.113549.1.7.2"
CONTENT_TYPE = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"
POLICY = "1.3.6.1.4.1.57264.2"


# -- DER, by hand -----------------------------------------------------------------


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(parts)))  # DER sorts a SET OF by encoding


def integer(n: int) -> bytes:
    return tlv(0x02, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


def oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([first * 40 + second])
    for arc in rest:
        chunk, left = [arc & 0x7F], arc >> 7
        while left:
            chunk.append(0x80 | (left & 0x7F))
            left >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def context(n: int, content: bytes) -> bytes:
    """[n] constructed: EXPLICIT around one encoding, or IMPLICIT given the inner contents."""
    return tlv(0xA0 + n, content)


def generalized_time(when: datetime) -> bytes:
    return tlv(0x18, when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii"))


# -- the authority ----------------------------------------------------------------------


@dataclass
class Authority:
    """A root CA and a TSA certificate it issued, and the clock the TSA stamps with."""

    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    serials: Iterator[int] = field(default_factory=lambda: iter(range(1, 1 << 30)))

    def __post_init__(self) -> None:
        # Valid from a day before the earlier of now and the TSA's clock (a test's fixed time), for
        # 30 days after the later: a certificate made from "now" alone rejects a fixed time of yesterday.
        stamped = self.clock()
        now = min(datetime.now(UTC), stamped) - timedelta(days=1)
        until = max(datetime.now(UTC), stamped) + timedelta(days=30)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pva test TSA root")])
        self.root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(self.root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .sign(self.root_key, hashes.SHA256())
        )
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pva test TSA")]))
            .issuer_name(root_name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(_usage(digital_signature=True), critical=True)
            .sign(self.root_key, hashes.SHA256())
        )

    @property
    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def respond(self, request: bytes) -> bytes:
        """The granted TimeStampResp to a DER TimeStampReq."""
        asked = parse_timestamp_request(request)
        imprint = asked.message_imprint.message
        tst = seq(
            integer(1),
            oid(POLICY),
            seq(seq(oid(asked.message_imprint.hash_algorithm.dotted_string)), octets(imprint)),
            integer(next(self.serials)),
            generalized_time(self.clock()),
            *([integer(asked.nonce)] if asked.nonce is not None else []),
        )
        return seq(seq(integer(0)), self.token(tst))

    def token(self, tst: bytes) -> bytes:
        """A ContentInfo holding the SignedData of a TSTInfo, signed by the TSA key."""
        cert = self.cert.public_bytes(serialization.Encoding.DER)
        attributes = set_of(
            seq(oid(CONTENT_TYPE), set_of(oid(TST_INFO))),
            seq(oid(MESSAGE_DIGEST), set_of(octets(hashlib.sha256(tst).digest()))),
            seq(oid(SIGNING_CERTIFICATE_V2), set_of(seq(seq(seq(octets(hashlib.sha256(cert).digest())))))),
        )
        signature = self.key.sign(attributes, ec.ECDSA(hashes.SHA256()))
        signer = seq(
            integer(1),
            seq(self.cert.issuer.public_bytes(), integer(self.cert.serial_number)),
            seq(oid(SHA256)),
            context(0, attributes[_header(attributes) :]),  # [0] IMPLICIT SET OF Attribute
            seq(oid(ECDSA_SHA256)),
            octets(signature),
        )
        signed = seq(
            integer(3),
            set_of(seq(oid(SHA256))),
            seq(oid(TST_INFO), context(0, octets(tst))),
            context(0, cert),
            set_of(signer),
        )
        return seq(oid(SIGNED_DATA), context(0, signed))


def _usage(**set_: bool) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{name: set_.get(name, False) for name in names})


def _header(encoded: bytes) -> int:
    """How many bytes an encoding's tag and length take."""
    return 2 if encoded[1] < 0x80 else 2 + (encoded[1] & 0x7F)


@contextmanager
def serving(authority: Authority) -> Iterator[str]:
    """The authority over HTTP on 127.0.0.1: yields its URL; stopped after."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            answer = authority.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-tsa", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
