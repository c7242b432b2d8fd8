"""Content credentials: local identity, sign -> Valid/Trusted, tampered -> Invalid."""

import av
import cv2
import numpy as np
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from vasa_bridge.errors import ConfigError
from vasa_bridge.provenance.credentials import (CredentialsError, SigningConfig, ensure_local_identity,
                                                read_credentials, sign_file)
from vasa_bridge.provenance.payload import Payload

PAYLOAD = Payload(0x5B, 0x0BEEF1)


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    return ensure_local_identity(tmp_path_factory.mktemp("identity"))


def _mp4(path, frames=10):
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width = s.height = 128
        s.pix_fmt = "yuv420p"
        for _ in range(frames):
            img = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
            out.mux(s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(s.encode())


def _asset(tmp_path, ext):
    path = tmp_path / f"in.{ext}"
    if ext == "mp4":
        _mp4(path)
    else:
        cv2.imwrite(str(path), np.random.default_rng(1).integers(0, 255, (96, 128, 3), dtype=np.uint8))
    return path


def test_local_identity_profile(identity, tmp_path):
    pems = identity.cert_chain.read_bytes()
    leaf, root = x509.load_pem_x509_certificates(pems)
    assert leaf.issuer == root.subject and root.issuer == root.subject
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert leaf.public_key().curve.name == "secp256r1"
    assert identity.private_key.stat().st_mode & 0o777 == 0o600
    # a second call reuses the identity instead of minting a new one
    again = ensure_local_identity(identity.cert_chain.parent)
    assert again.cert_chain.read_bytes() == pems


@pytest.mark.parametrize("ext", ["mp4", "jpg", "png"])
def test_sign_then_read_valid_trusted_invalid(identity, tmp_path, ext):
    src = _asset(tmp_path, ext)
    signed = tmp_path / f"signed.{ext}"
    sign_file(src, signed, identity, watermark=PAYLOAD)

    report = read_credentials(signed)
    assert report.found and report.state == "Valid"  # intact, but the local root is not trusted
    assert report.ai_generated and report.generator == "vasa_bridge"
    assert report.watermark == PAYLOAD and report.errors == ()

    root = identity.cert_chain.parent / "root.pem"
    assert read_credentials(signed, trust_anchors=root).state == "Trusted"

    data = bytearray(signed.read_bytes())
    data[len(data) // 2 if ext == "mp4" else -100] ^= 0x55  # change one byte of the content
    tampered = tmp_path / f"tampered.{ext}"
    tampered.write_bytes(bytes(data))
    bad = read_credentials(tampered)
    assert bad.found and bad.state == "Invalid" and bad.errors

    assert not read_credentials(src).found


def test_sign_errors(identity, tmp_path):
    src = _asset(tmp_path, "png")
    with pytest.raises(ConfigError, match="extension"):
        sign_file(tmp_path / "x.gif", tmp_path / "y.gif", identity)
    with pytest.raises(ConfigError, match="certificate"):
        sign_file(src, tmp_path / "o.png", SigningConfig(tmp_path / "none.pem", tmp_path / "none.key"))
    # a key that does not belong to the certificate: c2pa refuses, the error names the source file
    other = ensure_local_identity(tmp_path / "other")
    with pytest.raises(CredentialsError, match="in.png"):
        sign_file(src, tmp_path / "o.png", SigningConfig(identity.cert_chain, other.private_key))
    assert not (tmp_path / "o.png").exists()


# --- regressions found by tests/test_fuzz_files.py (issue 16) -------------------------------------


def _sign_with_watermark_data(identity, source, dest, data):
    """Sign with a hand-made org.vasa_bridge.watermark assertion, as any third party could."""
    import c2pa

    from vasa_bridge.provenance.credentials import WATERMARK_ASSERTION, manifest_definition
    manifest = manifest_definition(identity, dest.name)
    manifest["assertions"].append({"label": WATERMARK_ASSERTION, "data": data})
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.cert_chain.read_bytes(),
                               identity.private_key.read_bytes(), None)
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
        with open(source, "rb") as src, open(dest, "wb") as dst:
            builder.sign(signer, "image/jpeg", src, dst)


@pytest.mark.parametrize("data", [{}, {"generator_id": "x", "session_id": "y"},
                                  {"generator_id": 10**30, "session_id": -1},
                                  {"generator_id": [1], "session_id": None}])
def test_malformed_watermark_assertion_is_reported_not_raised(identity, tmp_path, data):
    signed = tmp_path / "odd.jpg"
    _sign_with_watermark_data(identity, _asset(tmp_path, "jpg"), signed, data)
    report = read_credentials(signed)  # were KeyError, ValueError and ConfigError
    assert report.found and report.state == "Valid" and report.watermark is None
    assert "org.vasa_bridge.watermark malformed" in report.errors


@pytest.mark.parametrize("content,message", [
    (None, "do not exist: expected a PEM file"),
    (b"-----BEGIN CERTIFICATE-----\n\xe9\n", "are not PEM text: expected"),
    (b"", "hold no certificate"),
    (b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
     "hold no certificate: expected '-----BEGIN CERTIFICATE-----' blocks"),  # was accepted
    (b"-----BEGIN CERTIFICATE-----\n" + b"A" * 64 + b"\n-----END CERTIFICATE-----\n",
     r"are refused: certificate 1 of 1 \(line 1\) is not an X\.509 certificate: expected PEM "
     r"X\.509 root certificates"),  # was accepted: the file read 'Valid', trusting nothing
])
def test_bad_trust_anchors_are_a_credentials_error(identity, tmp_path, content, message):
    signed = tmp_path / "signed.jpg"
    sign_file(_asset(tmp_path, "jpg"), signed, identity)
    trust = tmp_path / "trust.pem"
    if content is not None:
        trust.write_bytes(content)
    with pytest.raises(CredentialsError, match=message):
        read_credentials(signed, trust)  # were FileNotFoundError, UnicodeDecodeError, C2paError


def test_signing_failure_names_the_certificate_and_key(identity, tmp_path):
    cert = tmp_path / "mine.pem"
    cert.write_bytes(identity.cert_chain.read_bytes())
    other = ensure_local_identity(tmp_path / "other")  # a key that is not the certificate's
    with pytest.raises(CredentialsError, match=r"certificate '.*mine\.pem' and key .* failed "
                                               r"\(.*\): expected a PEM chain"):
        sign_file(_asset(tmp_path, "jpg"), tmp_path / "out.jpg",
                  SigningConfig(cert, other.private_key))


GARBAGE = (b"-----BEGIN CERTIFICATE-----\n" + b"A" * 64 + b"\nAAAA\n"
           b"-----END CERTIFICATE-----\n")  # base64 that is not a certificate


def _blocks(pem: bytes) -> list:
    end = b"-----END CERTIFICATE-----\n"
    return [b + end for b in pem.split(end) if b.strip()]


@pytest.mark.parametrize("make,message", [
    (lambda leaf, root: GARBAGE, r"certificate 1 of 1 \(line 1\) is not an X\.509"),
    (lambda leaf, root: leaf + GARBAGE, r"certificate 2 of 2 \(line 14\) is not"),  # was signed
    (lambda leaf, root: leaf + root + GARBAGE, r"certificate 3 of 3 .* is not"),  # was signed
    (lambda leaf, root: (leaf + root)[:40], "holds no complete '-----BEGIN CERTIFICATE-----'"),
], ids=["garbage", "leaf+garbage", "chain+garbage", "cut-short"])
def test_a_chain_that_is_not_x509_is_refused_naming_the_file(identity, tmp_path, make, message):
    leaf, root = _blocks(identity.cert_chain.read_bytes())
    cert = tmp_path / "mine.pem"
    cert.write_bytes(make(leaf, root))
    out = tmp_path / "out.jpg"
    with pytest.raises(ConfigError, match=rf"certificate '.*mine\.pem' is refused: .*{message}"
                                          rf".*: expected a PEM X\.509 certificate chain"):
        sign_file(_asset(tmp_path, "jpg"), out, SigningConfig(cert, identity.private_key))
    assert not out.exists()
