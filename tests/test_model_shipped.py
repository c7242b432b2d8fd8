"""The trained model shipped in vasa_bridge/assets/model/: loads alone, bakes any speech file
without torch, and responds to its conditions (emotion, gaze, intensity) the intended way."""

import subprocess
import sys

import numpy as np
import pytest

from vasa_bridge.errors import AudioError, ModelError
from vasa_bridge.model.config import gaze_of, head_speed
from vasa_bridge.model.onnx_runtime import OnnxDenoiser, default_model_path
from vasa_bridge.motion.names import INDEX

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.skipif(not default_model_path().is_file(),
                                reason="no shipped model in vasa_bridge/assets/model/")

SR = 16000
SMILE = [INDEX["mouthSmileLeft"], INDEX["mouthSmileRight"]]


def speechlike(seconds=6.0, sr=SR, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 130 + 25 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) * np.exp(-k / 6) for k in range(1, 20))
    syll = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 0.7
    pauses = (np.sin(2 * np.pi * 0.25 * t) > -0.6)
    noise = 0.003 * rng.standard_normal(t.size)
    return (0.25 * syll * pauses * voiced / 3 + noise).astype(np.float32)


@pytest.fixture(scope="module")
def den():
    return OnnxDenoiser()


def bake(den, audio, **steer):
    from vasa_bridge.model.bake import BakeConfig, bake_audio
    from vasa_bridge.model.streaming import Steering
    return bake_audio(audio, SR, BakeConfig(steering=Steering(**steer)), den)


def test_shipped_model_is_small_and_self_describing(den):
    assert default_model_path().stat().st_size <= 25e6
    assert den.config.audio_dim == den.config.features.dim
    assert den.config.motion_std != (1.0,) * 58  # statistics came from the corpus


def test_bake_track_shape_and_range(den):
    audio = speechlike(4.02)
    track = bake(den, audio)
    assert len(track) == int(np.ceil(4.02 * 25)) and track.fps == 25
    assert track.blendshapes.min() >= 0 and track.blendshapes.max() <= 1
    assert np.abs(track.head_rotation).max() < 45
    assert track.audio is not None and track.sample_rate == SR


def test_jaw_follows_the_syllables(den):
    audio = speechlike(8.0)
    track = bake(den, audio)
    hop = SR // 25
    n = len(track)
    frames = np.pad(audio, (0, n * hop - len(audio)))[: n * hop].reshape(n, hop)
    loud = np.sqrt((frames ** 2).mean(axis=1))
    r = np.corrcoef(track.blendshapes[:, INDEX["jawOpen"]], loud)[0, 1]
    assert r > 0.5


def test_happy_raises_smile(den):
    audio = speechlike(5.0, seed=1)
    neutral = bake(den, audio, emotion="neutral").blendshapes[:, SMILE].mean()
    happy = bake(den, audio, emotion="happy").blendshapes[:, SMILE].mean()
    assert happy > neutral + 0.1


def test_gaze_follows_its_condition(den):
    audio = speechlike(5.0, seed=2)
    right = gaze_of(bake(den, audio, gaze=(0.5, 0.0)).blendshapes).mean(0)
    left = gaze_of(bake(den, audio, gaze=(-0.5, 0.0)).blendshapes).mean(0)
    assert right[0] > left[0] + 0.3


def test_intensity_scales_head_motion(den):
    audio = speechlike(8.0, seed=3)
    still = bake(den, audio, intensity=0.3).head_rotation
    lively = bake(den, audio, intensity=2.5).head_rotation
    assert head_speed(lively, 25) > 1.3 * head_speed(still, 25)


def test_seeds_vary_head_motion(den):
    from vasa_bridge.model.bake import BakeConfig, bake_audio
    audio = speechlike(6.0, seed=4)
    a = bake_audio(audio, SR, BakeConfig(seed=1), den).head_rotation
    b = bake_audio(audio, SR, BakeConfig(seed=2), den).head_rotation
    assert np.abs(a - b).mean() > 0.05


@pytest.mark.slow
def test_bake_cli_reads_files_at_any_rate_without_torch(tmp_path):
    import soundfile as sf
    from scipy.signal import resample_poly
    stereo = resample_poly(speechlike(3.0), 441, 160).astype(np.float32)
    wav = tmp_path / "speech.flac"
    sf.write(str(wav), np.stack([stereo, stereo * 0.5], 1), 44100)
    out = tmp_path / "track.json"
    code = ("import sys; from vasa_bridge.cli import main; "
            f"rc = main(['bake', '--audio', {str(wav)!r}, '-o', {str(out)!r}, '--seed', '3']); "
            "assert 'torch' not in sys.modules, 'bake imported torch'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    from vasa_bridge.motion.io import load
    track = load(out)
    assert len(track) == 75


def test_bake_refuses_bad_audio(den, tmp_path):
    with pytest.raises(AudioError, match="empty"):
        bake(den, np.zeros(0, np.float32))
    with pytest.raises(AudioError, match="non-finite"):
        bake(den, np.array([0.0, np.nan] * 100, np.float32))
    silent = bake(den, np.zeros(SR * 2, np.float32))  # silence is valid: a closed, resting mouth
    assert silent.blendshapes[:, INDEX["jawOpen"]].mean() < 0.15
    with pytest.raises(ModelError, match="no model"):
        OnnxDenoiser(tmp_path / "missing.onnx")


def test_lips_seal_on_p_b_m_and_part_on_vowels_of_a_held_out_voice(den):
    """Real speech (espeak-ng, a voice held out of training): the lips close on /p b m/, as the
    teacher does, and stay apart on open vowels."""
    from vasa_bridge.data.engines import Prosody, open_engine
    from vasa_bridge.model.evaluate import _aperture, _segments
    eng = open_engine("espeak")
    voice = next(v for v in eng.voices("en") if v.speaker == "espeak:zac")
    closed, pp, apart, vowels = 0, 0, 0, 0
    for text in ("Bob bought a map of Boston, maybe more maps by May.",
                 "My mom made apple pie, but Pam prefers plum jam.",
                 "Please pass the butter, Ben; Tom prepares the lamb."):
        utt = eng.synth(text, voice, Prosody())
        track = bake(den, utt.audio)
        aperture = _aperture(track.blendshapes)
        times = np.arange(len(track)) / track.fps
        for vis, s, e in _segments(utt.phonemes):
            near = (times >= s - 0.08) & (times <= e + 0.08)
            if vis == "PP" and near.any():
                pp += 1
                closed += aperture[near].min() < 0.1
            inside = (times >= s) & (times < e)
            if vis in ("aa", "O") and inside.any():
                vowels += 1
                apart += aperture[inside].max() >= 0.1
    eng.close()
    assert pp >= 20 and vowels >= 8
    assert closed / pp >= 0.75, (closed, pp)
    assert apart / vowels >= 0.75, (apart, vowels)


def test_weights_rebuild_from_the_onnx_file_for_fine_tuning(den):
    import torch

    from vasa_bridge.model.export import denoiser_from_onnx, example_inputs
    torch_den = denoiser_from_onnx()  # checks itself against the file; check again here
    args = example_inputs(torch_den, batch=3, window=7)
    with torch.no_grad():
        got = torch_den(*(torch.from_numpy(a) for a in args)).numpy()
    assert np.abs(got - den.run(*args)).max() < 1e-4
    assert torch_den.config.seal == den.config.seal and torch_den.config.seal_jaw > 0


# --- regressions found by tests/test_fuzz_files.py (issue 16) -------------------------------------


def _model_with_metadata(tmp_path, **changes) -> str:
    import json

    import onnx
    model = onnx.load(str(default_model_path()))
    meta = {p.key: p.value for p in model.metadata_props}
    config = json.loads(meta["vasa_bridge.model_config"])
    for key, value in changes.items():
        if key == "inputs":
            meta["vasa_bridge.inputs"] = value
        elif key == "raw_config":
            meta["vasa_bridge.model_config"] = value
        else:
            config[key] = value
            meta["vasa_bridge.model_config"] = json.dumps(config)
    del model.metadata_props[:]
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    path = tmp_path / "odd.onnx"
    onnx.save(model, str(path))
    return str(path)


@pytest.mark.parametrize("changes,message", [
    ({"raw_config": "[" * 100_000 + "]" * 100_000}, "model config metadata is unreadable"),
    ({"raw_config": "{not json"}, "model config metadata is unreadable"),
    ({"features": 4}, "features is 4: expected a FeatureConfig"),
    ({"heads": 0}, "heads is 0: expected >= 1"),
    ({"lookahead": 10**12}, "lookahead is 1000000000000: expected a whole number up to"),
    ({"layers": 2.5}, "layers is 2.5: expected a whole number"),
    ({"context": 12}, "input 'context' has size 10 on axis 1 but its model config implies 12"),
    ({"inputs": '["x"]'}, "input list metadata is"),
    ({"inputs": "x, sigma"}, "input list metadata is"),
])
def test_inconsistent_export_metadata_is_a_model_error(tmp_path, changes, message):
    path = _model_with_metadata(tmp_path, **changes)
    with pytest.raises(ModelError, match=message) as err:
        OnnxDenoiser(path)  # were RecursionError, JSONDecodeError, AttributeError,
    assert "odd.onnx" in str(err.value)  # ZeroDivisionError, or a model failing its first window
