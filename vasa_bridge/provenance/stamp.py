"""What every frame and file we make carries: the invisible watermark (always), the visible
"AI-generated" label (on by default for files, a choice for live output), and, for files, signed
C2PA content credentials."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .credentials import (MIME_TYPES, SIGNING_IDENTITY, CredentialsError, SigningConfig,
                          default_identity_dir, ensure_local_identity, sign_file)
from .label import label
from .payload import Payload, new_session_payload
from .watermark import Watermarker, WatermarkConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StampConfig:
    label: bool = True  # draw the visible "AI-generated" mark
    credentials: bool = True  # sign written files with C2PA
    cert_chain: Path | None = None  # the user's PEM chain (leaf first); None = local identity
    private_key: Path | None = None  # the leaf's PEM key
    identity_dir: Path | None = None  # where the local identity lives (default: user config dir)


class Stamp:
    """One per session: a fixed payload, so the watermark pattern is computed once."""

    def __init__(self, config: StampConfig = StampConfig(), payload: Payload | None = None):
        self.config = config
        self.payload = payload or new_session_payload()
        self._wm = Watermarker(WatermarkConfig(payload=self.payload))
        log.debug("watermark payload: %s", self.payload)  # (commands print it in their own line)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Label (when on), then watermark: the mark survives the label."""
        if self.config.label:
            frame = label(frame)
        return self._wm.embed(frame)

    def signing_config(self) -> SigningConfig:
        c = self.config
        if c.cert_chain and c.private_key:
            return SigningConfig(Path(c.cert_chain), Path(c.private_key))
        if c.identity_dir is None:
            return ensure_local_identity(default_identity_dir())
        return ensure_local_identity(Path(c.identity_dir))

    def check(self) -> None:
        """Sign a tiny PNG with the identity that will sign the file, so a certificate or key
        C2PA refuses fails in one line before a render, not after it (milliseconds)."""
        if not self.config.credentials:
            return
        from PIL import Image
        config = self.signing_config()
        with tempfile.TemporaryDirectory() as tmp:
            probe = Path(tmp) / "probe.png"
            Image.new("RGB", (8, 8)).save(probe)
            try:
                sign_file(probe, Path(tmp) / "signed.png", config, watermark=self.payload)
            except CredentialsError as e:  # (sign_file's refusals carry c2pa's `reason`)
                hint = ""
                key = Path(config.private_key).read_bytes()[:64]
                if b"BEGIN EC PRIVATE KEY" in key or b"BEGIN RSA PRIVATE KEY" in key:
                    hint = (" (the key is not PKCS#8: convert it with `openssl pkcs8 -topk8 "
                            "-nocrypt -in KEY -out KEY8`; C2PA signs with ES256 on P-256 only)")
                raise CredentialsError(
                    f"C2PA signing with certificate {str(config.cert_chain)!r} and key "
                    f"{str(config.private_key)!r} failed ({e.reason}): expected "
                    f"{SIGNING_IDENTITY}{hint}; checked before rendering, nothing was "
                    f"written") from None

    def sign_in_place(self, path: Path, title: str | None = None) -> bool:
        """Embed signed credentials into `path` (rewritten through a temporary file); `title`:
        the manifest's (default: the file's name). Returns False, with one log line, for
        formats C2PA cannot carry (e.g. WebM)."""
        path = Path(path)
        if not self.config.credentials:
            return False
        if path.suffix.lower() not in MIME_TYPES:  # (named as the user knows it: `title`)
            log.warning("%s: content credentials cannot be embedded in %s files; the frames still "
                        "carry the watermark", title or path, path.suffix)
            return False
        fd, tmp = tempfile.mkstemp(suffix=path.suffix, dir=path.parent)
        os.close(fd)
        try:
            os.replace(path, tmp)
            sign_file(Path(tmp), path, self.signing_config(), watermark=self.payload,
                      title=title)
        except BaseException:
            if not path.exists():
                os.replace(tmp, path)
            raise
        finally:
            Path(tmp).unlink(missing_ok=True)
        return True
