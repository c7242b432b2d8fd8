import json

import numpy as np
import pytest

from vasa_bridge.errors import MotionFormatError
from vasa_bridge.motion import ARKIT_NAMES, MotionFrame, MotionTrack, load, save
from vasa_bridge.motion import conversions as conv
from vasa_bridge.motion import names


def random_track(T=50, fps=25.0, seed=0, audio=False):
    rng = np.random.default_rng(seed)
    shapes = rng.uniform(0, 1, (T, 52)).astype(np.float32)
    rot = rng.uniform(-30, 30, (T, 3)).astype(np.float32)
    trans = rng.uniform(-0.05, 0.05, (T, 3)).astype(np.float32)
    kw = {}
    if audio:
        kw = dict(audio=rng.uniform(-0.5, 0.5, int(T / fps * 16000)).astype(np.float32),
                  sample_rate=16000)
    return MotionTrack(shapes, rot, trans, fps, **kw)


def test_names_are_arkit_canonical_order():
    assert ARKIT_NAMES[0] == "eyeBlinkLeft" and ARKIT_NAMES[1] == "eyeLookDownLeft"
    assert ARKIT_NAMES[-2:] == ("noseSneerRight", "tongueOut")
    assert len(set(ARKIT_NAMES)) == 52


def test_apple_raw_names_round_trip_and_keep_directional_names():
    assert names.to_apple_raw("eyeBlinkLeft") == "eyeBlink_L"
    assert names.to_apple_raw("mouthSmileRight") == "mouthSmile_R"
    assert names.to_apple_raw("jawLeft") == "jawLeft"
    assert names.to_apple_raw("mouthRight") == "mouthRight"
    for n in ARKIT_NAMES:
        assert names.from_apple_raw(names.to_apple_raw(n)) == n
    assert names.to_pascal("jawOpen") == "JawOpen"
    with pytest.raises(KeyError, match="'jawopen'"):
        names.to_apple_raw("jawopen")


def test_frame_validation_names_the_value():
    with pytest.raises(MotionFormatError, match=r"blendshapes value 1.5 at index \[17\]"):
        shapes = np.zeros(52)
        shapes[17] = 1.5
        MotionFrame(shapes)
    with pytest.raises(MotionFormatError, match="non-finite"):
        MotionFrame(np.full(52, np.nan))
    with pytest.raises(MotionFormatError, match=r"shape \(51,\)"):
        MotionFrame(np.zeros(51))
    with pytest.raises(MotionFormatError, match="unknown blendshape name 'jaw'"):
        MotionFrame.from_named({"jaw": 0.2})
    f = MotionFrame.from_named({"jawOpen": 0.25}, head_rotation=(1, 2, 3))
    assert f["jawOpen"] == 0.25 and f.as_dict()["eyeBlinkLeft"] == 0.0


def test_track_from_named_reorders_columns():
    order = sorted(ARKIT_NAMES)  # Unity's alphabetical enum order
    T = 4
    vals = np.tile(np.linspace(0, 1, 52, dtype=np.float32), (T, 1))
    tr = MotionTrack.from_named(order, vals, np.zeros((T, 3)), np.zeros((T, 3)), 30)
    for col, name in enumerate(order):
        assert tr.frame(0)[name] == pytest.approx(vals[0, col])


@pytest.mark.parametrize("suffix", [".npz", ".json", ".vasatrack", ".vasab", ".csv"])
def test_files_round_trip(tmp_path, suffix):
    tr = random_track(audio=(suffix == ".npz"))
    back = load(save(tr, tmp_path / f"t{suffix}"))
    assert len(back) == len(tr) and back.fps == pytest.approx(tr.fps)
    np.testing.assert_allclose(back.blendshapes, tr.blendshapes, atol=1e-5)
    np.testing.assert_allclose(back.head_rotation, tr.head_rotation, atol=1e-3)
    np.testing.assert_allclose(back.head_translation, tr.head_translation, atol=1e-5)
    if suffix == ".npz":
        assert back == tr


def test_vasatrack_is_the_json_document_under_the_unity_importers_name(tmp_path):
    tr = random_track()
    unity = save(tr, tmp_path / "line.vasatrack")
    assert unity.read_bytes() == save(tr, tmp_path / "line.json").read_bytes()
    assert json.loads(unity.read_text())["format"] == "vasa-motion"


def test_vasab_is_compact_and_within_its_quantisation(tmp_path):
    tr = random_track(T=100)
    back = load(save(tr, tmp_path / "line.vasab"))
    size = (tmp_path / "line.vasab").stat().st_size
    assert size == 28 + sum(1 + len(n) for n in ARKIT_NAMES) + 100 * (52 * 2 + 24)
    assert size * 5 < save(tr, tmp_path / "line.json").stat().st_size
    assert np.abs(back.blendshapes - tr.blendshapes).max() <= 0.5 / 65535 + 1e-7
    np.testing.assert_array_equal(back.head_rotation, tr.head_rotation)
    np.testing.assert_array_equal(back.head_translation, tr.head_translation)
    assert (back.fps, back.start) == (tr.fps, tr.start)


def test_vasab_errors_say_what_is_wrong(tmp_path):
    good = save(random_track(T=3), tmp_path / "good.vasab").read_bytes()
    bad = tmp_path / "bad.vasab"
    for data, message in [(b"VAS", "3 bytes: expected at least a 28-byte header"),
                          (b"XXXX" + good[4:], "magic is b'XXXX': expected b'VASB'"),
                          (good[:4] + b"\x02\x00" + good[6:], "version is 2: expected 1"),
                          (good[:-1], "bytes of frames: expected 3 x 128"),
                          (good[:30], "name 0 is cut short|bytes of frames")]:
        bad.write_bytes(data)
        with pytest.raises(MotionFormatError, match=message):
            load(bad)


def test_npz_errors_say_what_is_wrong(tmp_path):
    p = tmp_path / "bad.npz"
    tr = random_track()
    np.savez(p, blendshapes=tr.blendshapes, names=np.array(ARKIT_NAMES[::-1]),
             head_rotation=tr.head_rotation, head_translation=tr.head_translation, fps=25.0)
    with pytest.raises(MotionFormatError, match=r"names\[0\] is 'tongueOut': expected 'eyeBlinkLeft'"):
        load(p)
    np.savez(p, blendshapes=tr.blendshapes, names=np.array(ARKIT_NAMES), fps=25.0,
             head_rotation=tr.head_rotation)
    with pytest.raises(MotionFormatError, match="'head_translation' is missing"):
        load(p)
    p.write_bytes(b"not a zip")
    with pytest.raises(MotionFormatError, match="not a readable .npz"):
        load(p)
    with pytest.raises(MotionFormatError, match="suffix '.txt'"):
        load(tmp_path / "x.txt")


def test_euler_quaternion_matrix_agree():
    rng = np.random.default_rng(1)
    e = rng.uniform(-80, 80, (200, 3))
    m = conv.euler_to_matrix(e)

    def R(axis, deg):
        a = np.radians(deg)
        c, s = np.cos(a), np.sin(a)
        return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
                "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
                "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]

    for i in range(len(e)):
        p, y, r = e[i]
        np.testing.assert_allclose(m[i], R("y", y) @ R("x", p) @ R("z", r), atol=1e-9)
    np.testing.assert_allclose(conv.matrix_to_euler(m), e, atol=1e-6)


def test_sign_conventions_match_protocol_doc():
    fwd = np.array([0.0, 0.0, 1.0])  # the face looks at the camera (+z)
    assert (conv.euler_to_matrix([20, 0, 0]) @ fwd)[1] < 0  # pitch > 0 looks down
    assert (conv.euler_to_matrix([0, 20, 0]) @ fwd)[0] > 0  # yaw > 0 turns to viewer's right
    up = np.array([0.0, 1.0, 0.0])
    assert (conv.euler_to_matrix([0, 0, 20]) @ up)[0] < 0  # roll > 0 tilts top to viewer's left


def test_unity_conversion_mirrors_yaw_and_roll():
    q = conv.to_unity_quaternion([10.0, 20.0, 30.0])
    # Unity's Quaternion.Euler(10, -20, -30) follows the same Y-X-Z composition.
    np.testing.assert_allclose(q, conv.euler_to_quat([10.0, -20.0, -30.0]), atol=1e-12)
    np.testing.assert_allclose(conv.to_unity_position([0.1, 0.2, 0.3]), [-0.1, 0.2, 0.3])


def test_slerp_halfway_and_shortest_arc():
    q0 = conv.euler_to_quat([0, 0, 0])
    q1 = conv.euler_to_quat([0, 90, 0])
    mid = conv.quat_to_euler(conv.slerp(q0, q1, 0.5))
    np.testing.assert_allclose(mid, [0, 45, 0], atol=1e-9)
    mid2 = conv.quat_to_euler(conv.slerp(q0, -q1, 0.5))  # same rotation, other hemisphere
    np.testing.assert_allclose(mid2, [0, 45, 0], atol=1e-9)


def test_resample_linear_shapes_and_slerp_rotation():
    T = 11
    shapes = np.zeros((T, 52), np.float32)
    shapes[:, names.INDEX["jawOpen"]] = np.linspace(0, 1, T)
    rot = np.zeros((T, 3), np.float32)
    rot[:, 1] = np.linspace(0, 40, T)
    tr = MotionTrack(shapes, rot, np.zeros((T, 3)), 10.0)
    up = conv.resample(tr, 20.0)
    assert len(up) == 22 and up.fps == 20.0
    jaw = up.blendshapes[:, names.INDEX["jawOpen"]]
    np.testing.assert_allclose(jaw[:21], np.linspace(0, 1, 21), atol=1e-6)
    np.testing.assert_allclose(up.head_rotation[:21, 1], np.linspace(0, 40, 21), atol=1e-3)
    assert up.duration == pytest.approx(tr.duration, abs=1 / 20)
    down = conv.resample(tr, 5.0)
    np.testing.assert_allclose(down.blendshapes[:, names.INDEX["jawOpen"]], [0, .2, .4, .6, .8, 1],
                               atol=1e-6)


def test_vrm_presets():
    f = MotionFrame.from_named({"jawOpen": 0.8, "eyeBlinkLeft": 1.0, "eyeBlinkRight": 0.6,
                                "mouthSmileLeft": 0.4, "mouthSmileRight": 0.4})
    v1 = conv.to_vrm1(f.blendshapes)
    assert set(v1) == set(conv.VRM1_PRESETS)
    assert v1["aa"] == pytest.approx(0.6)
    assert v1["blink"] == pytest.approx(0.6) and v1["blinkLeft"] == pytest.approx(0.4)
    assert v1["blinkRight"] == pytest.approx(0.0)
    assert v1["happy"] == pytest.approx(0.4)
    assert all(0 <= float(x) <= 1 for x in v1.values())
    v0 = conv.to_vrm0(f.blendshapes)
    assert v0["A"] == v1["aa"] and v0["Blink_L"] == v1["blinkLeft"] and v0["Joy"] == v1["happy"]
    rounded = conv.to_vrm1(MotionFrame.from_named({"mouthPucker": 0.9, "jawOpen": 0.2}).blendshapes)
    assert rounded["ou"] > 0.8 and rounded["aa"] == 0.0


def test_audio_for_frame_partitions_audio():
    tr = random_track(T=25, fps=25, audio=True)
    parts = [tr.audio_for_frame(i) for i in range(len(tr))]
    assert sum(len(p) for p in parts) == len(tr.audio)
    np.testing.assert_array_equal(np.concatenate(parts), tr.audio)


# --- regressions found by tests/test_fuzz_files.py (issue 16) -------------------------------------


def _npz_claiming(key: str, shape: tuple) -> bytes:
    """A .npz whose `key` member declares `shape` but holds 64 bytes."""
    import io
    import zipfile
    tr = random_track(T=3)
    arrays = dict(blendshapes=tr.blendshapes, names=np.array(ARKIT_NAMES),
                  head_rotation=tr.head_rotation, head_translation=tr.head_translation,
                  fps=np.float64(25), audio=np.zeros(10, np.float32), sample_rate=np.int64(16000))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in arrays.items():
            member = io.BytesIO()
            if k == key:
                np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "shape": shape,
                                                              "fortran_order": False})
                member.write(b"\0" * 64)
            else:
                np.save(member, v)
            z.writestr(f"{k}.npy", member.getvalue())
    return buf.getvalue()


@pytest.mark.parametrize("key,shape", [("audio", (2**40,)), ("blendshapes", (2**33, 52))])
def test_npz_declaring_terabytes_is_refused_before_allocating(tmp_path, key, shape):
    p = tmp_path / "claim.npz"
    p.write_bytes(_npz_claiming(key, shape))
    with pytest.raises(MotionFormatError, match=rf"claim.npz: array '{key}' declares shape"):
        load(p)  # was MemoryError: Unable to allocate 4 TiB


@pytest.mark.parametrize("field,value,message", [
    ("fps", np.complex128(25 + 1j), "dtype complex128: expected real numbers"),
    ("sample_rate", np.array([16000, 8000]), r"sample_rate has shape \(2,\): expected a scalar"),
    ("sample_rate", np.float64("nan"), "sample_rate is nan: expected a finite number"),
    ("sample_rate", np.float64(16000.5), "expected a whole number of Hz"),
    ("start", np.float64("inf"), "start is inf: expected a finite number"),
    ("start", np.zeros(3), r"start has shape \(3,\): expected a scalar"),
])
def test_npz_scalars_of_the_wrong_kind_are_motion_format_errors(tmp_path, field, value, message):
    tr = random_track(T=3, audio=True)
    arrays = dict(blendshapes=tr.blendshapes, names=np.array(ARKIT_NAMES),
                  head_rotation=tr.head_rotation, head_translation=tr.head_translation,
                  fps=np.float64(25), audio=tr.audio, sample_rate=np.int64(16000),
                  start=np.float64(0))
    arrays[field] = value
    p = tmp_path / "odd.npz"
    np.savez(p, **arrays)
    with pytest.raises(MotionFormatError, match=message):
        load(p)  # were TypeError, ValueError, OverflowError or a track starting at NaN


def test_track_start_must_be_finite():
    tr = random_track(T=2)
    with pytest.raises(MotionFormatError, match="start is nan: expected a finite number"):
        MotionTrack(tr.blendshapes, tr.head_rotation, tr.head_translation, 25.0,
                    start=float("nan"))


def test_vasab_with_nan_start_is_refused(tmp_path):
    import struct
    good = bytearray(save(random_track(T=3), tmp_path / "good.vasab").read_bytes())
    struct.pack_into("<d", good, 20, float("nan"))
    (tmp_path / "nan.vasab").write_bytes(bytes(good))
    with pytest.raises(MotionFormatError, match="start is nan"):
        load(tmp_path / "nan.vasab")  # loaded a track whose times were all NaN


@pytest.mark.parametrize("change,message", [
    (lambda d: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (lambda d: json.dumps({**d, "fps": [25]}), "fps is '\\[25\\]': expected a number"),
    (lambda d: json.dumps({**d, "start": {"s": 1}}), "expected a number"),
    (lambda d: json.dumps({**d, "names": None}), "names is a NoneType: expected a list"),
    (lambda d: json.dumps({**d, "start": 10**400}), "start is inf: expected a finite number"),
    (lambda d: json.dumps(d).replace(f'"start": {d["start"]}', '"start": NaN'),
     "start is nan: expected a finite number"),
])
def test_json_track_damage_is_a_motion_format_error(tmp_path, change, message):
    p = save(random_track(T=3), tmp_path / "t.json")
    doc = json.loads(p.read_text())
    p.write_text(change(doc))
    with pytest.raises(MotionFormatError, match=message):
        load(p)  # were RecursionError, TypeError and OverflowError


def test_csv_track_damage_is_a_motion_format_error(tmp_path):
    p = save(random_track(T=4), tmp_path / "t.csv")
    text = p.read_text()
    lines = text.splitlines()
    cases = {
        "latin1": text.encode()[:50] + b"\xe9" + text.encode()[50:],
        "same_times": "\n".join([lines[0]] + ["0.5," + r.split(",", 1)[1] for r in lines[1:]]
                                ).encode(),
        "huge_cell": "\n".join([lines[0], "1" * 200_000] + lines[1:]).encode(),
        "short_row": "\n".join([lines[0], "0,1,2"] + lines[2:]).encode(),
    }
    messages = {"latin1": "not UTF-8 text", "same_times": "expected finite, increasing times",
                "huge_cell": "not readable CSV", "short_row": "row 2 has 3 cells: expected 59"}
    for name, data in cases.items():
        p.write_bytes(data)
        with pytest.raises(MotionFormatError, match=messages[name]):
            load(p)  # were UnicodeDecodeError, ZeroDivisionError and csv.Error


def test_unsupported_suffix_names_the_file(tmp_path):
    with pytest.raises(MotionFormatError, match=r"'.*x\.txt' has suffix '\.txt': expected"):
        load(tmp_path / "x.txt")
