import dataclasses
import io
import logging
import zipfile

import numpy as np
import pytest

from vasa_bridge.face import cache as C
from vasa_bridge.face.portrait import PortraitConfig, analyse_portrait
from vasa_bridge.motion.frame import MotionFrame
from vasa_bridge.render.base import RenderConfig, get_backend
from vasa_bridge.samples import builtin_portrait

PHOTO = str(builtin_portrait())
CONFIG = PortraitConfig(size=256)


@pytest.fixture(scope="module")
def fresh():
    return analyse_portrait(PHOTO, CONFIG)


def same(a, b):
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if dataclasses.is_dataclass(x):
            same(x, y)
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


def test_a_second_analysis_comes_from_disk_and_renders_the_same(tmp_path, fresh):
    cache = C.PortraitCache(tmp_path)
    first = cache.analyse(PHOTO, CONFIG)
    assert (cache.hits, cache.misses) == (0, 1) and len(list(tmp_path.glob("*.npz"))) == 1
    second = C.PortraitCache(tmp_path)
    again = second.analyse(PHOTO, CONFIG)
    assert (second.hits, second.misses) == (1, 0)  # read back from disk, not analysed again
    same(first, fresh)
    same(again, fresh)
    renderer = get_backend("cpu", RenderConfig())
    frame = MotionFrame(np.full(52, 0.2), np.array([3.0, -5.0, 1.0]), np.zeros(3), 0.0)
    np.testing.assert_array_equal(renderer.render(renderer.prepare(again, CONFIG), frame),
                                  renderer.render(renderer.prepare(PHOTO, CONFIG), frame))


def test_the_key_follows_pixels_config_and_version(tmp_path, monkeypatch, fresh):
    from vasa_bridge.face.image import load_image
    loaded = load_image(PHOTO)
    key = C.cache_key(loaded, CONFIG)
    assert C.cache_key(load_image(PHOTO), CONFIG) == key
    assert C.cache_key(loaded, dataclasses.replace(CONFIG, size=512)) != key
    assert C.cache_key(loaded, dataclasses.replace(CONFIG, open_mouth_ok=True)) != key
    changed = dataclasses.replace(loaded, rgb=loaded.rgb.copy())
    changed.rgb[0, 0, 0] ^= 1
    assert C.cache_key(changed, CONFIG) != key
    monkeypatch.setattr(C, "CACHE_VERSION", C.CACHE_VERSION + 1)
    assert C.cache_key(loaded, CONFIG) != key


def test_a_broken_entry_is_analysed_again(tmp_path, caplog, fresh):
    from vasa_bridge.face.image import load_image
    key = C.cache_key(load_image(PHOTO), CONFIG)
    tmp_path.joinpath(f"{key}.npz").write_bytes(b"not an npz")
    cache = C.PortraitCache(tmp_path)
    with caplog.at_level(logging.WARNING, "vasa_bridge.face"):
        same(cache.analyse(PHOTO, CONFIG), fresh)
    assert cache.misses == 1 and "unreadable" in caplog.text
    assert C.PortraitCache(tmp_path).load(key) is not None  # rewritten


def test_the_cache_lives_in_the_users_cache_folder(tmp_path):
    assert C.default_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == \
        tmp_path / "vasa-bridge" / "portraits"
    assert C.default_cache_dir({}).parts[-3:] == (".cache", "vasa-bridge", "portraits")


def _entry(tmp_path, fresh):
    cache = C.PortraitCache(tmp_path)
    key = C.cache_key(C.load_image(PHOTO), CONFIG)
    cache.save(key, fresh)
    return cache, key, cache.path(key)


def test_damaged_entries_are_analysed_again_not_a_crash(tmp_path, fresh):
    # found by tests/test_fuzz_files.py (issue 16): a flipped data byte (zip CRC) raised
    # BadZipFile, a header claiming 3 TB raised MemoryError, NaN landmarks were returned
    cache, key, path = _entry(tmp_path, fresh)
    good = path.read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    path.write_bytes(bytes(flipped))
    assert cache.load(key) is None
    with np.load(io.BytesIO(good)) as z:
        arrays = {k: z[k] for k in z.files}
    for change in ({"landmarks": arrays["landmarks"] * np.nan},
                   {"person_alpha": arrays["person_alpha"][:5]},
                   {"image": arrays["image"][..., 0]}):
        buf = io.BytesIO()
        np.savez(buf, **{**arrays, **change})
        path.write_bytes(buf.getvalue())
        assert cache.load(key) is None, list(change)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in arrays.items():
            member = io.BytesIO()
            if k == "image":
                np.lib.format.write_array_header_1_0(member, {"descr": "|u1", "shape": (
                    2**20, 2**20, 3), "fortran_order": False})
                member.write(b"\0" * 64)
            else:
                np.save(member, v)
            z.writestr(f"{k}.npy", member.getvalue())
    path.write_bytes(buf.getvalue())
    assert cache.load(key) is None
    assert cache.analyse(PHOTO, CONFIG).image.shape == fresh.image.shape  # and analysed again
