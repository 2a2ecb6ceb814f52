"""`python -m engine credentials init`: a local certificate authority and a signing certificate.

C2PA validators refuse a self-signed leaf, so an owner without a certificate from a public
authority gets a two-level chain of their own: `ca.pem` (the root, to hand to anyone who should
trust the bot's clips) and `signer.pem` + `signer.key` (what the bot signs with). The leaf carries
what c2pa-rs checks for: an organisation in its subject (else `claimSignature.mismatch`),
CA:FALSE, a digitalSignature key usage, an emailProtection / documentSigning extended key usage,
and an authority key identifier pointing at the root. Keys are P-256, for ES256.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

CA_FILE = "ca.pem"
CERT_FILE = "signer.pem"
KEY_FILE = "signer.key"

# id-kp-documentSigning (RFC 9336); c2pa-rs accepts it beside emailProtection.
_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"
CA_YEARS = 10
SIGNER_YEARS = 3


class AuthorityExists(Exception):
    """The folder already holds credentials; replacing them would orphan every clip signed so far."""


@dataclass(frozen=True)
class Authority:
    """Where `make_authority` wrote the three files."""

    ca: Path
    cert: Path
    key: Path


def make_authority(folder: Path, *, organisation: str = "Promptreel", force: bool = False) -> Authority:
    """Write a new root (`ca.pem`) and a leaf signed by it (`signer.pem`, `signer.key`) to `folder`.

    The root's private key is not kept: nothing else is ever signed with it, so there is no
    key to steal that could mint more signers. The key file is created owner-readable only.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    paths = Authority(folder / CA_FILE, folder / CERT_FILE, folder / KEY_FILE)
    existing = [p for p in (paths.ca, paths.cert, paths.key) if p.exists()]
    if existing and not force:
        raise AuthorityExists(
            f"{existing[0]} already exists; clips signed with it would stop verifying if it were "
            "replaced. Pass --force to replace it anyway, or --dir for another folder."
        )
    folder.mkdir(parents=True, exist_ok=True)

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)  # a little slack for clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} local authority"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(x509, cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    leaf_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{organisation} clip signer"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(leaf_name)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * SIGNER_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(x509, cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier(_DOCUMENT_SIGNING)]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    _write(paths.ca, ca_cert.public_bytes(pem), mode=0o644)
    # The chain a validator needs, leaf first; the root stays out (a validator brings its own).
    _write(paths.cert, leaf.public_bytes(pem), mode=0o644)
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write(paths.key, key_pem, mode=0o600)
    return paths


def _key_usage(x509: object, *, cert_sign: bool) -> object:
    return x509.KeyUsage(  # type: ignore[attr-defined]
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, data: bytes, *, mode: int) -> None:
    """Whole or not at all, with its mode from the start (a key must never be world-readable)."""
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
