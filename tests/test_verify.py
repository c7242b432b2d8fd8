"""`vasa-bridge verify`: exit codes and reports on marked/unmarked images and videos."""

import json

import av
import cv2
import numpy as np
import pytest
from skimage import data

from vasa_bridge.cli import main
from vasa_bridge.cli.provenance import EXIT_ERROR, EXIT_MARKED, EXIT_NOT_MARKED
from vasa_bridge.provenance.payload import Payload
from vasa_bridge.provenance.watermark import WatermarkConfig, Watermarker

PAYLOAD = Payload(0x5B, 0x5E5510)


def _write_mp4(path, marker=None, frames=20):
    """A 512x512 clip panning over the astronaut, libx264 defaults (crf 23)."""
    big = cv2.resize(data.astronaut(), (600, 600))
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width = s.height = 512
        s.pix_fmt = "yuv420p"
        for t in range(frames):
            f = np.ascontiguousarray(big[2 * t:2 * t + 512, 3 * t:3 * t + 512])
            out.mux(s.encode(av.VideoFrame.from_ndarray(marker.embed(f) if marker else f, format="rgb24")))
        out.mux(s.encode())


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("verify")
    marker = Watermarker(WatermarkConfig(payload=PAYLOAD))
    chelsea = np.ascontiguousarray(data.chelsea())
    cv2.imwrite(str(d / "marked.png"), marker.embed(chelsea)[..., ::-1])
    cv2.imwrite(str(d / "plain.png"), chelsea[..., ::-1])
    _write_mp4(d / "marked.mp4", marker)
    _write_mp4(d / "plain.mp4")
    (d / "junk.mp4").write_bytes(b"not a video" * 50)
    return d


def test_marked_png_and_mp4_exit_0(files, capsys):
    assert main(["verify", str(files / "marked.png"), str(files / "marked.mp4"), "--no-credentials"]) == EXIT_MARKED
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all("PRESENT generator=0x5B session=0x5E5510" in line for line in out)
    assert "frames=20/20" in out[1]  # every frame, B-frames included, decodes on its own


@pytest.mark.slow
def test_unmarked_exit_1(files, capsys):
    assert main(["verify", str(files / "plain.png")]) == EXIT_NOT_MARKED
    assert main(["verify", str(files / "marked.png"), "--no-credentials",
                 "--require-credentials"]) == 2  # was 1: "not marked", for a marked file
    assert main(["verify", str(files / "plain.mp4")]) == EXIT_NOT_MARKED
    assert main(["verify", str(files / "marked.png"), str(files / "plain.mp4")]) == EXIT_NOT_MARKED
    assert "not found" in capsys.readouterr().out


def test_errors_exit_2(files, capsys):
    assert main(["verify", str(files / "missing.png")]) == EXIT_ERROR
    assert main(["verify", str(files / "junk.mp4"), str(files / "marked.png")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "missing.png: no such file" in err and "junk.mp4: not a readable image or video" in err
    assert main(["verify", "--max-frames", "0", str(files / "marked.png")]) == EXIT_ERROR


def test_trust_anchors_that_are_not_certificates_are_refused_once_before_any_file(
        files, tmp_path, capsys):
    """Base64 garbage between BEGIN/END CERTIFICATE lines: c2pa took it (the files read
    'Valid', trusting nothing); now one line, exit 2, before any file is read."""
    trust = tmp_path / "roots.pem"
    trust.write_bytes(b"-----BEGIN CERTIFICATE-----\n" + b"A" * 64 + b"\n"
                      b"-----END CERTIFICATE-----\n")
    assert main(["verify", "--trust", str(trust), str(files / "marked.png"),
                 str(files / "missing.png")]) == EXIT_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"vasa-bridge verify: error: trust anchors {str(trust)!r} are "
                                f"refused: certificate 1 of 1 (line 1) is not an X.509 "
                                f"certificate: expected PEM X.509 root certificates"]


def test_json_report(files, capsys):
    assert main(["verify", "--json", "--max-frames", "5", str(files / "marked.mp4")]) == EXIT_MARKED
    (report,) = json.loads(capsys.readouterr().out)
    assert report["present"] and report["kind"] == "video"
    assert report["payload"] == {"generator_id": 0x5B, "session_id": 0x5E5510}
    assert report["frames_checked"] == 5 and 0.5 < report["confidence"] <= 1.0
    assert report["c2pa"]["found"] is False


def test_sign_then_verify_with_credentials(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    signed = tmp_path / "signed.mp4"
    assert main(["sign", str(files / "marked.mp4"), "-o", str(signed)]) == 0
    root = tmp_path / "config" / "vasa_bridge" / "c2pa" / "root.pem"
    assert root.is_file()
    capsys.readouterr()
    assert main(["verify", "--require-credentials", str(signed)]) == EXIT_MARKED
    assert "c2pa: Valid, AI-generated (trainedAlgorithmicMedia) by vasa_bridge" in capsys.readouterr().out
    assert main(["verify", "--trust", str(root), str(signed)]) == EXIT_MARKED
    assert "c2pa: Trusted" in capsys.readouterr().out
    # marked but without credentials fails --require-credentials
    assert main(["verify", "--require-credentials", str(files / "marked.mp4")]) == EXIT_NOT_MARKED
    data_ = bytearray(signed.read_bytes())
    data_[len(data_) // 2] ^= 0x55
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data_))
    assert main(["verify", "--require-credentials", str(tampered)]) == EXIT_NOT_MARKED
    assert "c2pa: Invalid" in capsys.readouterr().out


# --- regressions found by tests/test_fuzz_files.py (issue 16) -------------------------------------


def _png(path, side):
    cv2.imwrite(str(path), cv2.resize(data.astronaut(), (side, side)))
    return path


def test_small_images_and_videos_get_a_clear_answer(tmp_path, capsys):
    assert main(["verify", "--no-credentials", str(_png(tmp_path / "s60.png", 60))]) == \
        EXIT_NOT_MARKED  # was IndexError
    assert main(["verify", "--no-credentials", str(_png(tmp_path / "s40.png", 40))]) == EXIT_ERROR
    assert "s40.png: 40x40 pixels: expected at least 48x48" in capsys.readouterr().err
    video = tmp_path / "tiny.mp4"
    with av.open(str(video), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width = s.height = 32
        s.pix_fmt = "yuv420p"
        for _ in range(3):
            for p in s.encode(av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8),
                                                         format="rgb24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    assert main(["verify", "--no-credentials", str(video)]) == EXIT_ERROR  # was IndexError
    assert "expected at least 48x48" in capsys.readouterr().err


def test_huge_or_empty_images_are_refused_before_decoding(tmp_path, capsys):
    import struct
    import zlib
    png = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    body = b"IHDR" + struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png[:12] + body + struct.pack(">I", zlib.crc32(body)) + png[33:])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert main(["verify", "--no-credentials", str(bomb)]) == EXIT_ERROR  # took 2.6 GiB, > 10 s
    err = capsys.readouterr().err
    assert "bomb.png: " in err and "400000000 pixels" in err and "expected at most 80 megapixels" \
        in err
    assert main(["verify", "--no-credentials", str(empty)]) == EXIT_ERROR  # was cv2.error
    assert "empty.png: not a readable .png image: expected" in capsys.readouterr().err
