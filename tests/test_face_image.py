"""Portrait loading: formats, channel layouts, bit depths, EXIF orientation, unreadable files."""

import numpy as np
import pytest
from PIL import Image

from vasa_bridge.errors import ImageReadError
from vasa_bridge.face.image import from_array, load_image


def _gradient(h=40, w=60):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 4, y * 6, (x + y) * 2], -1).astype(np.uint8)


@pytest.mark.parametrize("ext", ["png", "jpg", "webp"])
def test_formats_load_as_rgb(tmp_path, ext):
    img = _gradient()
    path = tmp_path / f"p.{ext}"
    Image.fromarray(img).save(path, quality=95) if ext != "png" else Image.fromarray(img).save(path)
    got = load_image(path)
    assert got.rgb.shape == (40, 60, 3) and got.rgb.dtype == np.uint8
    assert np.abs(got.rgb.astype(int) - img).mean() < 6  # lossy formats are close
    assert got.alpha is None


def test_rgba_keeps_alpha(tmp_path):
    img = np.dstack([_gradient(), np.full((40, 60), 77, np.uint8)])
    Image.fromarray(img, "RGBA").save(tmp_path / "a.png")
    got = load_image(tmp_path / "a.png")
    assert np.array_equal(got.rgb, img[..., :3]) and np.all(got.alpha == 77)


def test_grey_and_16_bit(tmp_path):
    grey = _gradient()[..., 0]
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    got = load_image(tmp_path / "g.png")
    assert got.rgb.shape == (40, 60, 3) and np.array_equal(got.rgb[..., 1], grey)
    deep = grey.astype(np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "d.png")
    got16 = load_image(tmp_path / "d.png")
    assert np.abs(got16.rgb[..., 0].astype(int) - grey).max() <= 1


def test_exif_orientation_is_applied(tmp_path):
    img = _gradient()  # 40 x 60, landscape
    im = Image.fromarray(img)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 CW to display
    im.save(tmp_path / "r.jpg", exif=exif, quality=95)
    got = load_image(tmp_path / "r.jpg")
    assert got.rgb.shape == (60, 40, 3)


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError, match="could not be decoded"):
        load_image(bad)
    with pytest.raises(ImageReadError, match="does not exist"):
        load_image(tmp_path / "missing.jpg")


def test_arrays_float_and_wrong_shape():
    got = from_array(np.full((4, 5, 3), 0.5, np.float32))
    assert got.rgb.dtype == np.uint8 and int(got.rgb[0, 0, 0]) == 128
    with pytest.raises(ImageReadError, match="shape"):
        from_array(np.zeros((4, 5, 7)))
