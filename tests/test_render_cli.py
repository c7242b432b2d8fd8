"""`vasa-bridge render` through its add_cli parser: MP4 + audio, WebM alpha, PNGs, bad output."""

import argparse
import re

import numpy as np
import pytest
import skimage.data
from PIL import Image

from vasa_bridge import cli
from vasa_bridge.errors import RenderError
from vasa_bridge.motion import MotionTrack, save
from vasa_bridge.cli.render import add_cli


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    Image.fromarray(skimage.data.astronaut()).save(d / "face.png")
    t = 6
    shapes = np.zeros((t, 52), np.float32)
    shapes[:, 17] = np.linspace(0, 1, t)
    audio = (0.2 * np.sin(np.arange(16000 * t // 25) * 0.1)).astype(np.float32)
    save(MotionTrack(shapes, np.zeros((t, 3)), np.zeros((t, 3)), 25, audio, 16000),
         d / "track.npz")
    return d


def _run(argv):
    parser = argparse.ArgumentParser()
    add_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_mp4_with_audio(inputs):
    import av
    out = inputs / "out.mp4"
    assert _run(["render", "--image", str(inputs / "face.png"), "--motion",
                 str(inputs / "track.npz"), "-o", str(out), "--size", "256", "--quiet"]) == 0
    with av.open(str(out)) as c:
        kinds = sorted(s.type for s in c.streams)
        assert kinds == ["audio", "video"]
        frames = list(c.decode(video=0))
        assert len(frames) == 6 and frames[0].width == 256


def test_webm_alpha_and_pngs(inputs):
    import av
    out = inputs / "out.webm"
    _run(["render", "--image", str(inputs / "face.png"), "--motion", str(inputs / "track.npz"),
          "-o", str(out), "--size", "256", "--alpha", "--quiet"])
    with av.open(str(out)) as c:
        assert c.streams.video[0].metadata.get("alpha_mode") == "1"
    pngs = inputs / "frames"
    _run(["render", "--image", str(inputs / "face.png"), "--motion", str(inputs / "track.npz"),
          "-o", str(pngs / "%03d.png"), "--size", "256", "--alpha", "--fps", "50", "--quiet"])
    files = sorted(pngs.glob("*.png"))
    assert len(files) == 12  # resampled to 50 fps
    assert np.array(Image.open(files[0])).shape == (256, 256, 4)


def test_a_webm_without_credentials_is_named_as_the_user_named_it(inputs, caplog):
    """WebM cannot carry C2PA: the one warning names the file asked for, not the temporary
    file it is written to first."""
    out = inputs / "said.webm"
    with caplog.at_level("WARNING"):
        _run(["render", "--image", str(inputs / "face.png"), "--motion",
              str(inputs / "track.npz"), "-o", str(out), "--size", "128", "--alpha", "--quiet"])
    said = [r.getMessage() for r in caplog.records if "cannot be embedded" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("said.webm: ") and "partial" not in said[0]
    assert out.is_file()


def test_alpha_in_mp4_is_refused(inputs):
    with pytest.raises(RenderError, match="no alpha"):
        _run(["render", "--image", str(inputs / "face.png"), "--motion",
              str(inputs / "track.npz"), "-o", str(inputs / "x.mp4"), "--alpha"])


def test_every_frame_of_a_render_carries_the_mark_and_the_file_its_credentials(inputs):
    """Issue #9: frames out of an encoded render carry the watermark (each decoded frame checked
    on its own) and the MP4 carries valid C2PA credentials; --no-label leaves the corner clean."""
    import av
    from vasa_bridge.provenance.verify import VerifyConfig, verify_file
    from vasa_bridge.provenance.watermark import Detector

    out = inputs / "marked.mp4"
    assert _run(["render", "--image", str(inputs / "face.png"), "--motion",
                 str(inputs / "track.npz"), "-o", str(out), "--quiet"]) == 0
    detector = Detector()
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    found = [detector.detect(f) for f in frames]
    assert sum(d.present for d in found) >= len(frames) - 1  # single H.264 frames; verify votes
    payloads = {str(d.payload) for d in found if d.present}
    assert len(payloads) == 1
    result = verify_file(out, detector, VerifyConfig())
    assert result.present and str(result.payload) in payloads
    assert result.credentials.found and result.credentials.state in ("Valid", "Trusted")
    assert result.credentials.ai_generated and str(result.credentials.watermark) in payloads
    corner = frames[0][-30:, -120:].astype(float)
    plain = inputs / "plain.mp4"
    _run(["render", "--image", str(inputs / "face.png"), "--motion", str(inputs / "track.npz"),
          "-o", str(plain), "--quiet", "--no-label", "--no-credentials"])
    with av.open(str(plain)) as c:
        clean = next(iter(c.decode(video=0))).to_ndarray(format="rgb24")[-30:, -120:]
    assert np.abs(corner - clean.astype(float)).mean() > 20  # the label is there, and only there
    assert not verify_file(plain, detector, VerifyConfig()).credentials.found


def test_render_says_what_it_renders_in_a_line_and_its_settings_with_verbose(inputs, capsys):
    """(it printed the portrait and renderer configs' reprs, ~500 characters, and the
    watermark's payload twice: in its own line and as a log message)"""
    out = inputs / "said.mp4"
    argv = ["render", "--image", str(inputs / "face.png"), "--motion", str(inputs / "track.npz"),
            "-o", str(out), "--size", "256", "--quiet"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert re.fullmatch(rf"render: {re.escape(str(inputs))}/face.png \+ {re.escape(str(inputs))}"
                        rf"/track.npz \(6 frames at 25 fps, with sound\) -> {re.escape(str(out))}; "
                        r"watermark generator=0x[0-9A-F]+ session=0x[0-9A-F]+", err[0]), err[0]
    assert err[1] == f"wrote 6 frames to {out}"
    try:
        assert cli.main(["render", "-v", *argv[1:]]) == 0
    finally:
        cli.configure_logging(False)  # -v set the package's loggers (and the native ones) to debug
    shown = [line for line in capsys.readouterr().err.splitlines() if line.startswith("render: ")]
    assert len(shown) == 2 and "PortraitConfig(size=256" in shown[1], shown


def test_render_from_speech_bakes_then_renders_with_the_sound(inputs):
    """`render --audio`: the offline path end to end (bake with the shipped model, render, mux)."""
    import av
    import soundfile as sf
    t = np.arange(int(1.2 * 22050)) / 22050  # an odd rate: resampled on the way in
    burst = (0.3 * np.sin(2 * np.pi * 160 * t) * ((t > 0.3) & (t < 0.9))).astype(np.float32)
    sf.write(inputs / "speech.wav", burst, 22050)
    out = inputs / "speech.mp4"
    assert _run(["render", "--image", str(inputs / "face.png"), "--audio",
                 str(inputs / "speech.wav"), "-o", str(out), "--size", "256", "--quiet"]) == 0
    with av.open(str(out)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video"]
        frames = list(c.decode(video=0))
    assert len(frames) == 30  # 1.2 s at the model's 25 fps


@pytest.mark.parametrize("name", ["x.mp4", "x.webm", "frames", "frames/%03d.png"])
def test_output_folder_that_cannot_be_created_fails_first_in_one_line(inputs, name):
    """Issue #16: -o under a regular file is refused with one line naming the folder, before the
    portrait or the track is even read (both are missing here: their errors would come first
    otherwise)."""
    blocker = inputs / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(RenderError, match=r"output folder '.*a_file/sub.*' cannot be created") \
            as err:
        _run(["render", "--image", str(inputs / "missing.png"), "--motion",
              str(inputs / "missing.npz"), "-o", str(blocker / "sub" / name)])
    assert "\n" not in str(err.value)
def test_builtin_portrait_and_head_framing(inputs, caplog):
    """No --image: the built-in portrait, with no warning about its known parted-lips rest pose;
    --framing head crops tighter round the same face, so the face fills more of the frame (the
    eyes sit further apart in pixels)."""
    import logging

    from vasa_bridge.face import mesh as M
    from vasa_bridge.face.detect import detect_faces

    caplog.set_level(logging.WARNING)
    iod = {}
    for framing in ("bust", "head"):
        pngs = inputs / f"builtin_{framing}"
        assert _run(["render", "--motion", str(inputs / "track.npz"), "-o",
                     str(pngs / "%03d.png"), "--size", "256", "--framing", framing,
                     "--quiet", "--no-label", "--no-credentials"]) == 0
        first = np.array(Image.open(sorted(pngs.glob("*.png"))[0]))
        assert first.shape == (256, 256, 3)
        lm = detect_faces(first, max_faces=1)[0].landmarks
        iod[framing] = np.linalg.norm(lm[M.RIGHT_IRIS[0], :2] - lm[M.LEFT_IRIS[0], :2])
    assert iod["head"] > 1.25 * iod["bust"], iod
    assert not [r for r in caplog.records if "mouth is open" in r.getMessage()]
    with pytest.raises(SystemExit):  # argparse refuses an unknown framing
        _run(["render", "--motion", str(inputs / "track.npz"), "-o", str(inputs / "x.mp4"),
              "--framing", "knees"])


def test_framed_config_refuses_unknown_names():
    from vasa_bridge.face.portrait import PortraitConfig
    with pytest.raises(RenderError, match="framing is 'knees': expected one of"):
        PortraitConfig.framed("knees")
    assert PortraitConfig.framed("head", size=256).crop_scale < PortraitConfig().crop_scale


def test_a_second_shorter_render_into_a_png_folder_leaves_only_its_frames(inputs):
    frames = inputs / "again"
    base = ["render", "--image", str(inputs / "face.png"), "-o", str(frames), "--size", "128",
            "--quiet", "--no-label"]
    assert _run(base + ["--motion", str(inputs / "track.npz"), "--fps", "50"]) == 0
    assert len(list(frames.glob("*.png"))) == 12
    assert _run(base + ["--motion", str(inputs / "track.npz")]) == 0
    assert sorted(p.name for p in frames.glob("*.png")) == [f"{i:06d}.png" for i in range(6)]


def test_an_interrupted_render_leaves_no_file(inputs, tmp_path):
    """Ctrl-C mid-render left a truncated MP4, without audio or credentials, under the name
    asked for (and `verify` called it ours)."""
    from vasa_bridge.render.video import render_file

    class Interrupting:
        seen = 0

        def __call__(self, frame):
            self.seen += 1
            if self.seen == self.at:
                raise KeyboardInterrupt
            return frame

        def sign_in_place(self, path, title=None):
            raise AssertionError("an interrupted render is not signed")

    from vasa_bridge.face.portrait import PortraitConfig
    t = 150  # past the encoder's look-ahead: packets were written before the interruption
    track = MotionTrack(np.zeros((t, 52), np.float32), np.zeros((t, 3)), np.zeros((t, 3)), 25,
                        np.zeros(16000 * t // 25, np.float32), 16000)
    out = tmp_path / "cut.mp4"
    Interrupting.at = 140
    with pytest.raises(KeyboardInterrupt):
        render_file(str(inputs / "face.png"), track, out, progress=False,
                    portrait_config=PortraitConfig(size=128), stamp=Interrupting())
    assert list(tmp_path.iterdir()) == []


def test_a_key_c2pa_refuses_and_a_faceless_photo_fail_before_any_bake(inputs, tmp_path,
                                                                       monkeypatch):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import datetime as dt
    import vasa_bridge.model.bake as bake

    def no_bake(*a, **k):
        raise AssertionError("baked before the inputs were checked")
    monkeypatch.setattr(bake, "bake_file_sound", no_bake)  # what render bakes with
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "me")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(  # "EC PRIVATE KEY", not PKCS#8
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    speech = tmp_path / "s.wav"
    import soundfile as sf
    sf.write(str(speech), np.zeros(16000, np.float32), 16000)
    out = tmp_path / "o.mp4"
    with pytest.raises(Exception, match="openssl pkcs8 .*checked before rendering, nothing "
                                        "was written"):
        _run(["render", "--image", str(inputs / "face.png"), "--audio", str(speech), "-o",
              str(out), "--cert", str(tmp_path / "c.pem"), "--key", str(tmp_path / "k.pem")])
    Image.new("RGB", (256, 256), (90, 120, 200)).save(tmp_path / "plain.png")
    with pytest.raises(Exception, match="no face found"):
        _run(["render", "--image", str(tmp_path / "plain.png"), "--audio", str(speech), "-o",
              str(out)])
    with pytest.raises(Exception, match=r"needs 67x14 pixels, frame is 64x64: expected a "
                                        r"larger frame \(--size\), or no label"):
        _run(["render", "--image", str(inputs / "face.png"), "--audio", str(speech), "-o",
              str(out), "--size", "64"])
    assert not out.exists()


def test_a_certificate_that_is_not_x509_is_refused_in_one_line_before_any_work(
        inputs, tmp_path, monkeypatch, capsys):
    """A chain whose second block is base64 garbage: c2pa signed with it; now it is refused,
    naming the file, before the portrait is read."""
    import vasa_bridge.face.portrait as portrait
    from vasa_bridge.cli import main
    from vasa_bridge.provenance.credentials import ensure_local_identity

    def no_portrait(*a, **k):
        raise AssertionError("the portrait was read before the certificate was checked")
    monkeypatch.setattr(portrait, "analyse_portrait", no_portrait)
    identity = ensure_local_identity(tmp_path / "id")
    leaf = identity.cert_chain.read_bytes().split(b"-----END CERTIFICATE-----\n")[0]
    cert = tmp_path / "mine.pem"
    cert.write_bytes(leaf + b"-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n"
                     + b"A" * 64 + b"\n-----END CERTIFICATE-----\n")
    out = tmp_path / "o.mp4"
    capsys.readouterr()
    assert main(["render", "--image", str(inputs / "face.png"), "--motion",
                 str(inputs / "track.npz"), "-o", str(out), "--size", "128", "--quiet",
                 "--cert", str(cert), "--key", str(identity.private_key)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("INFO")]
    assert err == [f"vasa-bridge render: error: certificate {str(cert)!r} is refused: "
                   f"certificate 2 of 2 (line 14) is not an X.509 certificate: expected a PEM "
                   f"X.509 certificate chain (leaf first, then its CA)"]
    assert not out.exists()


def test_render_from_speech_keeps_the_files_own_sample_rate(inputs, tmp_path):
    """The model hears 16 kHz; the video carried that copy, so a 48 kHz voice lost all above
    8 kHz."""
    import av
    import soundfile as sf
    t = np.arange(48000) / 48000
    voice = (0.2 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
             + 0.05 * np.sin(2 * np.pi * 11000 * t)).astype(np.float32)
    sf.write(str(tmp_path / "v48.wav"), np.stack([voice, voice], 1), 48000)
    out = tmp_path / "v.mp4"
    assert _run(["render", "--image", str(inputs / "face.png"), "--audio",
                 str(tmp_path / "v48.wav"), "-o", str(out), "--size", "128", "--quiet"]) == 0
    with av.open(str(out)) as c:
        stream = c.streams.audio[0]
        assert stream.codec_context.sample_rate == 48000
        sound = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    spectrum = np.abs(np.fft.rfft(sound[:48000]))
    freqs = np.fft.rfftfreq(len(sound[:48000]), 1 / 48000)
    assert spectrum[(freqs > 10900) & (freqs < 11100)].max() > 20 * np.median(spectrum)
