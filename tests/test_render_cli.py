"""`vasa-bridge render` through its add_cli parser: MP4 + audio, WebM alpha, PNGs, bad output."""

import argparse

import numpy as np
import pytest
import skimage.data
from PIL import Image

from vasa_bridge.errors import RenderError
from vasa_bridge.motion import MotionTrack, save
from vasa_bridge.render.cli import add_cli


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


def test_alpha_in_mp4_is_refused(inputs):
    with pytest.raises(RenderError, match="no alpha"):
        _run(["render", "--image", str(inputs / "face.png"), "--motion",
              str(inputs / "track.npz"), "-o", str(inputs / "x.mp4"), "--alpha"])
