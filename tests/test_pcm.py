"""The audio contract: one s16 <-> float conversion, used by the wire, the datasets, the browser
codec and the network inlet alike."""

import numpy as np

from vasa_bridge.audio import SAMPLE_RATE, from_s16, to_s16
from vasa_bridge.protocol import wire


def test_s16_conversion_scales_clips_and_rounds():
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.7, -3.0, 0.6 / 32767, -0.2], np.float32)
    assert to_s16(x).tolist() == [0, 16384, -16384, 32767, -32767, 32767, -32767, 1, -6553]
    assert to_s16(np.zeros((3, 2))).shape == (3, 2) and to_s16(x).dtype == np.int16
    codes = np.array([0, 16384, -32768, 32767, -1], np.int16)
    back = from_s16(codes)
    assert back.dtype == np.float32
    assert back.tolist() == [0.0, 0.5, -1.0, 32767 / 32768, -1 / 32768]


def test_a_round_trip_is_within_one_code():
    x = np.random.default_rng(0).uniform(-1, 1, 10000).astype(np.float32)
    np.testing.assert_allclose(from_s16(to_s16(x)), x, atol=1.5 / 32768)
    codes = np.arange(-32767, 32768, 7).astype(np.int16)
    np.testing.assert_array_equal(to_s16(from_s16(codes) * 32768 / 32767), codes)


def test_the_wire_converts_through_the_contract():
    x = np.array([0.3, -0.7, 1.2], np.float32)
    s16 = wire.decode(wire.encode_audio(x, stream="a", seq=0, pts=0, sent=0, rate=SAMPLE_RATE))
    assert s16.audio_samples()[:, 0].tolist() == to_s16(x).tolist()
    codes = np.array([100, -32768], np.int16)
    f32 = wire.decode(wire.encode_audio(codes, stream="a", seq=0, pts=0, sent=0,
                                        rate=SAMPLE_RATE, format="f32"))
    assert f32.audio_samples()[:, 0].tolist() == from_s16(codes).tolist()
