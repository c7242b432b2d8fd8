import json

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from vasa_bridge.errors import MessageTooLarge, ProtocolError, VersionError
from vasa_bridge.motion import MotionFrame
from vasa_bridge.protocol import corpus, fixtures, wire

EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
VALID = sorted(n for n, e in EXPECTED.items() if "error" not in e)
MALFORMED = sorted(n for n, e in EXPECTED.items() if "error" in e)
ERRORS = {"version": VersionError, "too_large": MessageTooLarge, "malformed": ProtocolError}


def test_fixture_set_covers_every_kind_and_a_malformed_set():
    kinds = {EXPECTED[n]["kind"] for n in VALID}
    assert kinds == set(wire.KINDS)
    assert len(MALFORMED) >= 10
    on_disk = sorted(p.name for p in FIXTURES.glob("*.bin"))
    assert on_disk == sorted(EXPECTED)


def test_golden_fixtures_are_byte_exact():
    """The encoder today writes exactly the bytes checked in: the wire has not drifted."""
    for name, (parts, expected) in fixtures.build().items():
        on_disk = (FIXTURES / f"{name}.bin").read_bytes()
        assert fixtures.pack_parts(parts) == on_disk, name
        assert EXPECTED[f"{name}.bin"] == json.loads(json.dumps(expected)), name


@pytest.mark.parametrize("name", VALID)
def test_valid_fixture_decodes_to_documented_values(name):
    exp = EXPECTED[name]
    msg = wire.decode(fixtures.read_fixture(FIXTURES / name))
    assert (msg.kind, msg.stream, msg.seq, msg.pts, msg.sent) == \
        (exp["kind"], exp["stream"], exp["seq"], exp["pts"], exp["sent"])
    if msg.kind == "motion":
        frame = msg.motion_frame()
        got = {k: v for k, v in frame.as_dict().items() if v != 0}
        assert got == pytest.approx(exp["blendshapes"])
        np.testing.assert_allclose(frame.head_rotation, exp["head_rotation"], atol=1e-6)
        np.testing.assert_allclose(frame.head_translation, exp["head_translation"], atol=1e-6)
        assert frame.time == exp["pts"] / 1e9
    elif msg.kind == "frame":
        for key in ("width", "height", "stride", "format", "alpha"):
            assert msg.header[key] == exp[key]
        assert msg.image().reshape(-1).tolist() == exp["pixels"]
    elif msg.kind == "audio":
        for key in ("rate", "channels", "format", "samples"):
            assert msg.header[key] == exp[key]
        assert msg.audio_samples().reshape(-1).tolist() == pytest.approx(exp["values"])
    elif msg.kind == "event":
        assert msg.header["name"] == exp["name"] and msg.header["data"] == exp["data"]
    else:
        assert msg.header["streams"] == exp["streams"]
        assert msg.header["publisher"] == exp["publisher"]


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_fixture_is_refused_with_its_category(name):
    with pytest.raises(ERRORS[EXPECTED[name]["error"]]):
        wire.decode(fixtures.read_fixture(FIXTURES / name))


def test_version_error_names_both_versions():
    with pytest.raises(VersionError, match="version 2 is not supported: this build speaks "
                                           "version 1"):
        wire.decode(fixtures.read_fixture(FIXTURES / "malformed_version.bin"))


def test_cap_is_configurable():
    parts = wire.encode_frame(np.zeros((64, 64, 4), np.uint8), stream="a", seq=0, pts=0, sent=0)
    wire.decode(parts)
    with pytest.raises(MessageTooLarge, match="the cap is 1000 bytes"):
        wire.decode(parts, max_bytes=1000)


def test_topics_are_exact_prefixes():
    assert wire.subscription("motion", "npc1") == b"motion/npc1/"
    assert not wire.topic("motion", "npc10").startswith(wire.subscription("motion", "npc1"))
    assert wire.topic("motion", "npc1").startswith(wire.subscription("motion"))
    with pytest.raises(ProtocolError, match="stream id 'a b'"):
        wire.check_stream("a b")
    # a long id is shortened in the message, and a long value that is not a string does not
    # break it (len() of an int raised TypeError)
    with pytest.raises(ProtocolError, match=r"^stream id 'ssss.*\.\.\. \(5000 characters\) is"):
        wire.check_stream("s" * 5000)
    with pytest.raises(ProtocolError, match=r"^stream id 1000.*\.\.\. \(int\) is invalid"):
        wire.check_stream(10 ** 100)


frames = st.builds(
    lambda shapes, rot, trans: MotionFrame(np.array(shapes, np.float32), rot, trans),
    st.lists(st.floats(0, 1, width=32), min_size=52, max_size=52),
    st.lists(st.floats(-180, 180, width=32), min_size=3, max_size=3),
    st.lists(st.floats(-1, 1, width=32), min_size=3, max_size=3))


@settings(max_examples=60, deadline=None)
@given(frames, st.integers(0, 2**63 - 1), st.integers(-2**62, 2**62),
       st.from_regex(wire.STREAM_RE, fullmatch=True))
def test_motion_round_trips(frame, seq, pts, stream):
    msg = wire.decode(wire.encode_motion(frame, stream=stream, seq=seq, pts=pts, sent=1))
    back = msg.motion_frame()
    np.testing.assert_array_equal(back.blendshapes, frame.blendshapes)
    np.testing.assert_allclose(back.head_rotation, frame.head_rotation, rtol=1e-6)
    assert (msg.seq, msg.pts, msg.stream) == (seq, pts, stream)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from(["rgba8", "bgra8"]),
       st.sampled_from(["straight", "premultiplied"]), st.binary(min_size=0, max_size=8))
def test_frame_round_trips(w, h, fmt, alpha, seed):
    rng = np.random.default_rng(list(seed) or [0])
    img = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
    msg = wire.decode(wire.encode_frame(img, stream="s", seq=1, pts=2, sent=3, format=fmt,
                                        alpha=alpha))
    np.testing.assert_array_equal(msg.image(), img)
    assert (msg.header["format"], msg.header["alpha"]) == (fmt, alpha)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1, 1, width=32), min_size=0, max_size=64), st.sampled_from(["s16", "f32"]))
def test_audio_round_trips(values, fmt):
    samples = np.array(values, np.float32)
    msg = wire.decode(wire.encode_audio(samples, stream="s", seq=0, pts=0, sent=0, rate=16000,
                                        format=fmt))
    got = msg.audio_samples()[:, 0]
    if fmt == "f32":
        np.testing.assert_array_equal(got, samples)
    else:
        np.testing.assert_allclose(got / 32767.0, samples, atol=1 / 32767)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=300), min_size=0, max_size=5))
def test_random_bytes_never_crash(parts):
    try:
        wire.decode(parts)
    except ProtocolError:
        pass


header_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats() | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                  max_size=5), max_leaves=20)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VALID)), st.sampled_from(["v", "seq", "stream", "pts", "sent",
                                                          "names", "head_rotation", "width",
                                                          "height", "stride", "format", "alpha",
                                                          "rate", "channels", "samples", "name",
                                                          "streams", "data"]),
       header_values, st.booleans())
def test_mutated_headers_are_decoded_or_refused(name, key, value, delete):
    """Valid messages with one header field replaced by anything (or removed): the decoder either
    accepts a consistent message or raises ProtocolError; typed accessors never crash."""
    topic, header, payload = fixtures.read_fixture(FIXTURES / name)
    h = msgpack.unpackb(header, raw=False)
    if delete:
        h.pop(key, None)
    else:
        h[key] = value
    try:
        msg = wire.decode([topic, msgpack.packb(h, use_bin_type=True), payload])
    except ProtocolError:
        return
    try:
        if msg.kind == "motion":
            msg.motion_frame()
        elif msg.kind == "frame":
            msg.image()
        elif msg.kind == "audio":
            msg.audio_samples()
    except ProtocolError:
        pass


def test_truncations_of_every_fixture_are_refused():
    for name in VALID:
        parts = fixtures.read_fixture(FIXTURES / name)
        for i in range(3):
            for cut in range(len(parts[i])):
                broken = list(parts)
                broken[i] = parts[i][:cut]
                try:
                    wire.decode(broken)
                except ProtocolError:
                    continue
                # Only a payload-less kind can survive losing bytes nowhere: nothing to cut.
                pytest.fail(f"{name}: part {i} cut to {cut} bytes was accepted")


# --- the mutated corpus (tests/fixtures/protocol/mutated), shared with the C and C# suites -----

MUTATED = FIXTURES / "mutated"


def test_mutated_corpus_is_reproducible_and_every_verdict_holds():
    """The seeded generator writes exactly the checked-in corpus, and the decoder today gives
    every message the verdict recorded in expected.txt (which the C and C# suites must match)."""
    messages = corpus.build()
    assert corpus.read(MUTATED / "corpus.bin") == messages
    assert (MUTATED / "corpus.bin").stat().st_size + (MUTATED / "expected.txt").stat().st_size \
        < 1_000_000
    expected = (MUTATED / "expected.txt").read_text().splitlines()
    assert len(expected) == len(messages) > 3000
    differ = [(i, want, got) for i, (want, got) in
              enumerate(zip(expected, map(corpus.verdict, messages))) if want != got]
    assert differ == []
    verdicts = {" ".join(line.split()[:2]) for line in expected}
    assert verdicts == {"error malformed", "error version", "error too_large"} | {
        f"ok {k}" for k in wire.KINDS}
    assert sum(line.startswith("ok") for line in expected) > 500


@pytest.mark.parametrize("value, ok", [
    ("a", True), (corpus.RawStr(b"\xed\xa0\x80"), False), (corpus.RawStr(b"\xc0\x80"), False),
    (corpus.RawStr(b"\xf4\x90\x80\x80"), False), (corpus.RawStr(b"\xef\xbf\xbf"), True),
    (corpus.Ext(5, b"ab"), True), (corpus.Ext(-2, b"ab"), False),
    (corpus.Ext(-1, b"\x00\x00\x00\x01"), True), (corpus.Ext(-1, b"\xff" * 8), False),
    (corpus._nested(31, 1, True), True), (corpus._nested(32, 1, False), False),
    (corpus._nested(32, [], True), False), (corpus.Pairs(((1, 2),)), False),
    (corpus.Pairs(((b"k", 2),)), True)])
def test_rules_the_three_decoders_share(value, ok):
    """An unread header field still has to be valid msgpack as msgpack-python reads it: UTF-8
    strings, ext types 0..127 or a valid timestamp, str/bin map keys, at most 32 levels deep
    (the header map is the first)."""
    parts = fixtures.read_fixture(FIXTURES / "event.bin")
    h = list(msgpack.unpackb(parts[1]).items()) + [("extra", value)]
    message = [parts[0], corpus.pack(corpus.Pairs(tuple(h))), parts[2]]
    if ok:
        wire.decode(message)
    else:
        with pytest.raises(ProtocolError):
            wire.decode(message)


@pytest.mark.parametrize("stream", ["default\n", "a b", "x" * 65, "\u00e9"])
def test_stream_ids_match_the_whole_pattern(stream):
    """'default\\n' passed `re.match(...$)` (a `$` matches before a final newline)."""
    h = msgpack.unpackb(fixtures.read_fixture(FIXTURES / "event.bin")[1]) | {"stream": stream}
    with pytest.raises(ProtocolError, match="is invalid|is not ASCII"):
        wire.decode([f"event/{stream}/".encode(), msgpack.packb(h), b""])
