"""Visible "AI-generated" label."""

import numpy as np
import pytest
from skimage import data

from vasa_bridge.errors import ConfigError
from vasa_bridge.provenance.label import CORNERS, label
from vasa_bridge.provenance.watermark import Detector, WatermarkConfig, Watermarker


def _changed_box(a, b):
    ys, xs = np.nonzero(np.any(a != b, axis=2))
    return ys.min(), ys.max(), xs.min(), xs.max()


@pytest.mark.parametrize("corner", CORNERS)
def test_label_is_small_and_in_its_corner(corner):
    frame = np.full((512, 512, 3), 90, np.uint8)
    out = label(frame, corner=corner)
    np.testing.assert_array_equal(frame, 90)  # input untouched
    y0, y1, x0, x1 = _changed_box(frame, out)
    assert (y1 - y0 + 1) * (x1 - x0 + 1) < 0.03 * 512 * 512  # under 3% of the frame
    assert (y0 < 40) == corner.startswith("top") and (y1 > 470) == corner.startswith("bottom")
    assert (x0 < 40) == corner.endswith("left") and (x1 > 470) == corner.endswith("right")
    box = out[y0:y1 + 1, x0:x1 + 1]
    assert box.max() > 200 and box.min() < 60  # white text on a darkened box: legible


def test_label_rgba_box_is_opaque_and_inplace():
    frame = np.zeros((256, 384, 4), np.uint8)
    out = label(frame, text="AI", inplace=True)
    assert out is frame
    assert (frame[..., 3] == 255).sum() > 100
    assert frame[:100, :100, 3].max() == 0  # only the corner


def test_label_then_watermark_still_detects():
    wm = Watermarker(WatermarkConfig())
    marked = wm.embed(label(np.ascontiguousarray(data.astronaut())))
    det = Detector().detect(marked)
    assert det.present and det.payload == WatermarkConfig().payload


def test_label_bad_input():
    with pytest.raises(ConfigError, match="corner"):
        label(np.zeros((64, 64, 3), np.uint8), corner="middle")
    with pytest.raises(ConfigError, match="HxWx3"):
        label(np.zeros((64, 64), np.uint8))
    with pytest.raises(ConfigError, match="needs"):
        label(np.zeros((8, 8, 3), np.uint8), text="AI-generated content")
