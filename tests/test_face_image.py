"""Portrait loading: formats, channel layouts, bit depths, EXIF orientation, unreadable files."""

import numpy as np
import pytest
from PIL import Image

from vasa_bridge.errors import ImageReadError
from vasa_bridge.face.image import decode_image, from_array, load_image


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


def test_uploaded_bytes_are_read_as_a_file_is(tmp_path):
    # (the web panel's and load_portrait's image bytes were decoded apart: a phone photo's EXIF
    # orientation was ignored, a 16-bit greyscale PNG came out white)
    im = Image.fromarray(_gradient())
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "r.jpg", exif=exif, quality=95)
    deep = _gradient()[..., 0].astype(np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "d.png")
    for name in ("r.jpg", "d.png"):
        got = decode_image((tmp_path / name).read_bytes())
        want = load_image(tmp_path / name)
        assert got.source == "uploaded image"
        assert np.array_equal(got.rgb, want.rgb), name
    assert decode_image((tmp_path / "r.jpg").read_bytes()).rgb.shape == (60, 40, 3)
    with pytest.raises(ImageReadError, match="^portrait 'uploaded image' is not an image Pillow "
                                             "can identify: expected a PNG, JPEG or WebP image$"):
        decode_image(b"RIFF....WAVEfmt ")


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError, match="is not an image Pillow can identify") as e:
        load_image(bad)
    assert str(bad) in str(e.value) and "BytesIO" not in str(e.value)
    with pytest.raises(ImageReadError, match="does not exist"):
        load_image(tmp_path / "missing.jpg")


def test_arrays_float_and_wrong_shape():
    got = from_array(np.full((4, 5, 3), 0.5, np.float32))
    assert got.rgb.dtype == np.uint8 and int(got.rgb[0, 0, 0]) == 128
    with pytest.raises(ImageReadError, match="shape"):
        from_array(np.zeros((4, 5, 7)))


# --- regressions found by tests/test_fuzz_files.py (issue 16) -------------------------------------


def _png_declaring(width: int, height: int) -> bytes:
    import io
    import struct
    import zlib
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    png = buf.getvalue()
    body = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return png[:12] + body + struct.pack(">I", zlib.crc32(body)) + png[33:]


@pytest.mark.parametrize("width,height", [(65535, 65535), (20000, 20000), (12000, 9000)])
def test_header_declaring_too_many_pixels_is_refused_before_decoding(tmp_path, width, height):
    p = tmp_path / "huge.png"
    p.write_bytes(_png_declaring(width, height))
    with pytest.raises(ImageReadError, match=r"'.*huge\.png' is .*expected at most 80 megapixels"):
        load_image(p)  # was Pillow's DecompressionBombError (not an ImageReadError)


def test_chunk_length_does_not_size_a_read(tmp_path):
    import io
    import tracemalloc
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG")
    png = buf.getvalue()
    p = tmp_path / "length.png"
    p.write_bytes(png[:33] + b"\xff\xff\xff\xff" + png[37:])  # IDAT claims 4 GiB
    tracemalloc.start()
    try:
        try:
            load_image(p)
        except ImageReadError:
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # was a 4 GiB read buffer
