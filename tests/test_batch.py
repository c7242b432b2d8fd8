"""Batch baking (vasa_bridge/bake): manifests, resume by content hash, per-line failures, output
formats, and the same tracks from one process, a process pool and Ray."""

import csv
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from vasa_bridge.bake import BatchConfig, read_manifest, run_batch
from vasa_bridge.bake import workers
from vasa_bridge.bake.batch import STATE_FILE
from vasa_bridge.errors import ConfigError
from vasa_bridge.model.bake import BakeConfig
from vasa_bridge.model.onnx_runtime import default_model_path
from vasa_bridge.motion.io import load

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.skipif(not default_model_path().is_file(),
                                reason="no shipped model in vasa_bridge/assets/model/")

ROOT = Path(__file__).resolve().parent.parent
LINES = (("greet.wav", 16000, 1.2, 0), ("warn.flac", 22050, 1.6, 1), ("bye.wav", 44100, 0.9, 2),
         ("ask.ogg", 16000, 1.4, 3))


def speechlike(seconds, sr, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 20 * seed + 25 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) * np.exp(-k / 6) for k in range(1, 16))
    syll = np.clip(np.sin(2 * np.pi * (3 + seed * 0.3) * t), 0, None) ** 0.7
    return (0.08 * syll * voiced + 0.003 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture
def voice(tmp_path):
    """A folder of four voice lines at different rates and formats, and a CSV manifest."""
    folder = tmp_path / "voice"
    folder.mkdir()
    for name, sr, seconds, seed in LINES:
        sf.write(str(folder / name), speechlike(seconds, sr, seed), sr)
    (folder / "lines.csv").write_text(
        "audio,emotion,intensity,gaze,seed,character,output\n"
        "greet.wav,happy,1.5,\"0.2,0.1\",3,guard,greet_01\n"
        "warn.flac,angry,,,,guard,\n"
        "\n"
        "bye.wav,,,,,merchant,farewell\n"
        "ask.ogg,,0.5,,7,,\n")
    return folder


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def mtimes(out):
    return {p: p.stat().st_mtime_ns for p in Path(out).rglob("*") if p.suffix in
            (".npz", ".json", ".csv") and p.name != "results.csv"}


# --- manifests ---------------------------------------------------------------------------------


def test_csv_manifest_fields_line_numbers_and_outputs(voice):
    lines = read_manifest(voice / "lines.csv")
    assert [x.number for x in lines] == [2, 3, 5, 6]  # file lines: the blank line 4 is skipped
    greet, warn, bye, ask = lines
    assert greet.audio == str(voice / "greet.wav") and greet.output == "guard/greet_01"
    assert (greet.emotion, greet.intensity, greet.gaze, greet.seed) == ("happy", 1.5, (0.2, 0.1), 3)
    assert warn.output == "guard/warn" and warn.character == "guard" and warn.seed is None
    assert bye.output == "merchant/farewell" and ask.output == "ask" and ask.seed == 7
    assert all(x.error is None for x in lines)


def test_jsonl_and_folder_manifests(voice):
    (voice / "lines.jsonl").write_text(
        '{"audio": "greet.wav", "gaze": [0.5, -0.5], "text": "Halt!", "seed": 2}\n'
        '\n'
        'not json\n'
        '{"audio": "bye.wav", "emotoin": "sad"}\n'
        '{"audio": "ask.ogg", "seed": 1.5}\n')
    first, bad_json, typo, bad_seed = read_manifest(voice / "lines.jsonl")
    assert (first.number, first.gaze, first.text, first.seed) == (1, (0.5, -0.5), "Halt!", 2)
    assert bad_json.number == 3 and "not valid JSON" in bad_json.error
    assert "unknown field 'emotoin'" in typo.error
    assert "seed 1.5" in bad_seed.error
    # refused lines still name the audio and the output they would have written (were "")
    assert (typo.audio, typo.output) == (str(voice / "bye.wav"), "bye")
    assert (bad_seed.audio, bad_seed.output) == (str(voice / "ask.ogg"), "ask")
    sub = voice / "guard"
    sub.mkdir()
    (voice / "warn.flac").rename(sub / "warn.flac")
    folder = read_manifest(voice)
    assert [line.output for line in folder] == ["ask", "bye", "greet", "guard/warn"]
    assert all(line.error is None for line in folder)


def test_bad_fields_are_kept_with_a_reason_and_bad_manifests_refused(voice):
    (voice / "bad.csv").write_text(
        "audio,intensity,gaze,seed,output\n"
        "greet.wav,loud,,,\n"
        "greet.wav,,0.3,,a\n"
        "greet.wav,,,-1,b\n"
        "greet.wav,,,,../escape\n"
        "bye.wav,,,,dup\n"
        "ask.ogg,,,,DUP\n"
        "ask.ogg,,,,,extra\n")
    errors = [line.error for line in read_manifest(voice / "bad.csv")]
    assert "intensity 'loud'" in errors[0] and "gaze '0.3'" in errors[1]
    assert "seed '-1'" in errors[2] and "'../escape'" in errors[3]
    assert errors[4] is None and "already written by line 6" in errors[5]
    assert "6 cells: expected at most 5" in errors[6]
    (voice / "typo.csv").write_text("audio,emotoin\ngreet.wav,sad\n")
    with pytest.raises(ConfigError, match="column 'emotoin'"):
        read_manifest(voice / "typo.csv")
    (voice / "noaudio.csv").write_text("file,emotion\ngreet.wav,sad\n")
    with pytest.raises(ConfigError, match="expected an 'audio' column"):
        read_manifest(voice / "noaudio.csv")
    with pytest.raises(ConfigError, match="does not exist"):
        read_manifest(voice / "nope.csv")


# --- baking ------------------------------------------------------------------------------------


def test_every_format_is_written_and_listed_in_the_results(voice, tmp_path):
    out = tmp_path / "out"
    config = BatchConfig(formats=("npz", "json", ".csv"))
    result = run_batch(read_manifest(voice / "lines.csv"), out, config, progress=False)
    assert result.count("done") == 4 and not result.failed
    table = rows(out / "results.csv")
    assert [r["line"] for r in table] == ["2", "3", "5", "6"]
    for r, (name, sr, seconds, _) in zip(table, LINES[:2] + LINES[2:]):
        assert r["status"] == "done" and r["error"] == ""
        assert abs(float(r["duration"]) - seconds) < 0.01
        npz, js, cs = (load(out / f) for f in r["files"].split(";"))
        assert len(npz) == len(js) == len(cs) > 10 and npz.audio is not None
        assert np.allclose(npz.blendshapes, js.blendshapes, atol=1e-6)
        assert np.allclose(npz.head_rotation, cs.head_rotation, atol=1e-4)
    # the line's own settings reached the model: its track equals a single bake with them
    greet = load(out / "guard/greet_01.npz")
    from vasa_bridge.audio.io import load_speech
    from vasa_bridge.model.bake import bake_audio
    from vasa_bridge.model.streaming import Steering
    audio, rate = load_speech(voice / "greet.wav")
    alone = bake_audio(audio, rate, BakeConfig(seed=3, steering=Steering(
        emotion="happy", intensity=1.5, gaze=(0.2, 0.1))))
    assert np.array_equal(alone.blendshapes, greet.blendshapes)


def test_resume_skips_unchanged_lines_and_rebakes_what_changed(voice, tmp_path):
    out = tmp_path / "out"
    manifest = voice / "lines.csv"
    run = lambda **kw: run_batch(read_manifest(manifest), out, BatchConfig(**kw),  # noqa: E731
                                 progress=False)
    assert run().count("done") == 4
    before = mtimes(out)
    again = run()
    assert again.count("skipped") == 4 and again.count("done") == 0
    assert mtimes(out) == before  # nothing was rewritten
    assert {r["status"] for r in rows(out / "results.csv")} == {"skipped"}

    manifest.write_text(manifest.read_text().replace("ask.ogg,,0.5,,7", "ask.ogg,,0.5,,8"))
    changed = run()
    assert [r.output for r in changed.lines if r.status == "done"] == ["ask"]

    sf.write(str(voice / "bye.wav"), speechlike(0.9, 44100, 9), 44100)  # new take, same name
    (out / "guard/warn.npz").unlink()  # an output gone
    redone = run()
    assert sorted(r.output for r in redone.lines if r.status == "done") == \
        ["guard/warn", "merchant/farewell"]

    steps = run(bake=BakeConfig(stream=BakeConfig().stream.__class__(steps=4,
                                                                     mouth_temperature=0.0)))
    assert steps.count("done") == 4  # a batch setting changed: every line again
    assert run(formats=("npz", "json")).count("done") == 4  # a new format: baked again
    assert run(formats=("json",)).count("skipped") == 4  # a subset already there
    assert run(force=True).count("done") == 4


def test_the_key_changes_with_everything_that_changes_the_mouth():
    """A resumed batch re-bakes lines whose phone layer or transcript language changed
    (`--no-phones`, `--language`): both decide the track."""
    from dataclasses import replace
    from vasa_bridge.bake.batch import line_key
    from vasa_bridge.model.phones import PhoneConfig
    from vasa_bridge.model.transcript import TranscriptConfig
    base = BakeConfig()
    keys = {line_key(b"pcm", c, None, "sha") for c in (
        base, replace(base, phones=None), replace(base, phones=PhoneConfig(words=False)),
        replace(base, transcript=TranscriptConfig(language="de")))}
    assert len(keys) == 4
    assert line_key(b"pcm", BakeConfig(), None, "sha") == line_key(b"pcm", base, None, "sha")


def test_a_bad_line_is_listed_and_the_batch_goes_on(voice, tmp_path, capsys):
    from vasa_bridge.cli import main
    (voice / "corrupt.wav").write_bytes(b"RIFF not really a wave file")
    (voice / "lines.csv").write_text(
        "audio,emotion,output\n"
        "greet.wav,,\n"
        "missing.wav,,\n"
        "corrupt.wav,,\n"
        "bye.wav,furious,\n"
        "ask.ogg,sad,\n")
    out = tmp_path / "out"
    code = main(["bake", "--manifest", str(voice / "lines.csv"), "-o", str(out),
                 "--formats", "npz,json", "--no-progress"])
    assert code == 1
    table = {r["output"]: r for r in rows(out / "results.csv")}
    assert [table[k]["status"] for k in ("greet", "missing", "corrupt", "bye", "ask")] == \
        ["done", "failed", "failed", "failed", "done"]
    assert "missing.wav" in table["missing"]["error"] and "cannot be read" in \
        table["missing"]["error"]
    assert "cannot read" in table["corrupt"]["error"] and "corrupt.wav" in \
        table["corrupt"]["error"]
    assert "emotion 'furious'" in table["bye"]["error"]
    assert (out / "ask.json").is_file() and not (out / "bye.npz").exists()
    err = capsys.readouterr().err
    assert f": 5 lines -> {out} (1 worker)" in err  # counted as words are ("1 workers" before)
    failures = [line for line in err.splitlines() if line.startswith("[bake] line ")]
    assert len(failures) == 3 and "line 3 (" in failures[0]
    assert "2 done, 0 skipped, 3 failed" in err
    # run again: the good lines are skipped, the bad ones still fail, still non-zero
    assert main(["bake", "--manifest", str(voice / "lines.csv"), "-o", str(out), "--formats",
                 "npz,json", "--no-progress"]) == 1
    assert "0 done, 2 skipped, 3 failed" in capsys.readouterr().err


def test_a_line_refused_for_its_fields_lists_its_output_as_a_failed_bake_does(voice, tmp_path):
    """results.csv: a line refused for a bad seed had empty character and output cells, so a
    reader could not tell which track was missing; it reads as the unreadable-audio row does."""
    from vasa_bridge.cli import main
    (voice / "lines.csv").write_text(
        "audio,seed,character,output\n"
        "greet.wav,3,guard,greet_01\n"
        "warn.flac,-1,guard,warn_01\n"
        "bye.wav,soon,,\n"
        "missing.wav,,,\n")
    out = tmp_path / "out"
    assert main(["bake", "--manifest", str(voice / "lines.csv"), "-o", str(out),
                 "--no-progress"]) == 1
    table = rows(out / "results.csv")
    cells = ("line", "audio", "character", "output", "files", "duration", "status", "error")
    good, seed, word, missing = ([r[k] for k in cells] for r in table)
    assert good[:7] == ["2", str(voice / "greet.wav"), "guard", "guard/greet_01",
                        "guard/greet_01.npz", "1.200", "done"]
    assert seed == ["3", str(voice / "warn.flac"), "guard", "guard/warn_01", "", "", "failed",
                    "seed '-1': expected a whole number 0..2^63-1"]
    assert word == ["4", str(voice / "bye.wav"), "", "bye", "", "", "failed",
                    "seed 'soon': expected a whole number 0..2^63-1"]
    assert missing[:7] == ["5", str(voice / "missing.wav"), "", "missing", "", "", "failed"]
    assert not (out / "guard/warn_01.npz").exists() and not (out / "bye.npz").exists()


GOFORWARD = Path("/usr/share/pocketsphinx/test/data/goforward.raw")  # scripts/setup.sh --test


@pytest.mark.slow
def test_a_line_with_its_words_gets_the_aligned_mouth(tmp_path):
    """A real recording ("go forward ten meters", pocketsphinx-testdata) with words that fit it
    but are not what the recogniser hears ("two" for "ten"): the line's mouth is the
    transcript's (as `bake_audio(text=...)` makes it), not the audio-only one (which takes the
    words it hears whole); wrong words fall back to the audio (the line still succeeds); the
    text is in the key."""
    from vasa_bridge.model.bake import bake_audio
    pcm = np.frombuffer(GOFORWARD.read_bytes(), "<i2").astype(np.float32) / 32768
    sf.write(tmp_path / "go.wav", pcm, 16000)
    manifest = tmp_path / "lines.jsonl"
    manifest.write_text('{"audio": "go.wav", "text": "go forward two meters", "output": "t"}\n'
                        '{"audio": "go.wav", "output": "a"}\n'
                        '{"audio": "go.wav", "text": "seven of clubs", "output": "w"}\n')
    out = tmp_path / "out"
    result = run_batch(read_manifest(manifest), out, progress=False)
    assert [r.status for r in result.lines] == ["done"] * 3
    with_text, audio_only, wrong = (load(out / f"{n}.npz") for n in "taw")
    want = bake_audio(pcm, 16000, BakeConfig(), text="go forward two meters")
    np.testing.assert_allclose(with_text.blendshapes, want.blendshapes, atol=1e-5)
    assert not np.allclose(with_text.blendshapes, audio_only.blendshapes, atol=1e-3)
    np.testing.assert_allclose(wrong.blendshapes, audio_only.blendshapes, atol=1e-5)
    np.testing.assert_allclose(with_text.head_rotation, audio_only.head_rotation, atol=1e-5)
    manifest.write_text('{"audio": "go.wav", "text": "go forward ten meters", "output": "t"}\n'
                        '{"audio": "go.wav", "output": "a"}\n')
    result = run_batch(read_manifest(manifest), out, progress=False)
    assert [r.status for r in result.lines] == ["done", "skipped"]  # the text is in the key


def test_cli_refuses_batch_options_without_a_manifest(voice, tmp_path, capsys):
    from vasa_bridge.cli import main
    code = main(["bake", "--audio", str(voice / "greet.wav"), "-o", str(tmp_path / "x.npz"),
                 "--workers", "2"])
    assert code == 2 and "--workers is a batch option" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="formats"):
        BatchConfig(formats=("npz", "anim"))


def test_the_example_dialogue_manifest_bakes(tmp_path):
    result = run_batch(read_manifest(ROOT / "examples/dialogue/lines.csv"), tmp_path,
                       BatchConfig(formats=("json",)), progress=False)
    assert result.lines and not result.failed
    assert all(1.0 < r.duration < 6.0 for r in result.lines)


# --- parallel ----------------------------------------------------------------------------------


def outputs(out):
    """Every file's content: JSON and CSV bytes; .npz arrays (the zip stamps the time)."""
    found = {}
    for p in sorted(Path(out).rglob("*")):
        if p.suffix == ".npz":
            with np.load(p) as z:
                found[p.relative_to(out).as_posix()] = {k: z[k].tobytes() for k in z.files}
        elif p.suffix in (".json", ".csv") and p.name != "results.csv":
            found[p.relative_to(out).as_posix()] = p.read_bytes()
    return found


def bake_three_ways(voice, tmp_path, **parallel):
    manifest = read_manifest(voice / "lines.csv")
    config = BatchConfig(formats=("npz", "json", "csv"), chunk=1)
    single = run_batch(manifest, tmp_path / "single", config, progress=False)
    multi = run_batch(manifest, tmp_path / "multi", BatchConfig(**{
        **{f: getattr(config, f) for f in ("formats", "chunk")}, **parallel}), progress=False)
    assert single.count("done") == multi.count("done") == 4
    a, b = outputs(tmp_path / "single"), outputs(tmp_path / "multi")
    assert len(a) == 12 and a == b
    states = [{json.loads(s)["output"]: json.loads(s)["key"] for s in
               (tmp_path / d / STATE_FILE).read_text().splitlines()} for d in ("single", "multi")]
    assert states[0] == states[1]


@pytest.mark.slow
def test_process_pool_equals_a_single_process(voice, tmp_path):
    bake_three_ways(voice, tmp_path, workers=2)


@pytest.mark.slow
def test_ctrl_c_twice_stops_a_pool_batch_at_once_and_leaves_no_workers(tmp_path):
    """Two Ctrl-C (SIGINT to the process group, as a terminal sends it) while two workers bake:
    the batch waited for the running chunks, and the second Ctrl-C hung it for good."""
    import signal
    import subprocess
    import sys
    import time
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        sf.write(str(folder / f"line{i:02d}.wav"), speechlike(3.0, 16000, i % 4), 16000)
    proc = subprocess.Popen([sys.executable, "-m", "vasa_bridge.cli", "bake", "--manifest",
                             str(folder), "-o", str(tmp_path / "out"), "--workers", "2",
                             "--chunk", "4"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, cwd=ROOT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        state = tmp_path / "out" / STATE_FILE
        deadline = time.time() + 120
        while time.time() < deadline and not (state.is_file() and state.read_text()):
            time.sleep(0.2)  # until the first chunk is recorded: the workers are baking
        assert state.is_file(), "no chunk was baked in 120 s"
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=20) == 130
        time.sleep(0.5)
        group = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-g", str(proc.pid)],
                               capture_output=True, text=True).stdout.splitlines()
        alive = [p for p in group if p.split()[1][0] != "Z"]  # exited, not yet reaped: gone
        assert alive == [], f"processes left in the group: {alive}"
        assert "Traceback" not in proc.stderr.read().decode()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_warnings_print_as_the_commands_own_on_lines_clear_of_the_progress_bar(tmp_path,
                                                                               workers):
    """A pool's workers printed their warnings bare ("audio file ... is silent ..."), and with
    one worker or two a warning ran on from the progress bar on the same line."""
    import subprocess
    import sys
    folder = tmp_path / "quiet"
    folder.mkdir()
    for i in range(2):
        sf.write(str(folder / f"q{i}.wav"), np.zeros(16000, np.float32), 16000)
    r = subprocess.run([sys.executable, "-m", "vasa_bridge.cli", "bake", "--manifest",
                        str(folder), "-o", str(tmp_path / "out"), "--workers", str(workers)],
                       capture_output=True, timeout=120, cwd=ROOT,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    err = r.stderr.decode()
    assert r.returncode == 0, err
    shown = [line.split("\r")[-1] for line in err.split("\n")]  # a terminal's lines: \r returns
    silent = sorted(line for line in shown if "is silent" in line)
    assert [line.split(" is silent")[0] for line in silent] == [
        f"warning: audio file {str(folder / name)!r}" for name in ("q0.wav", "q1.wav")], err


def blas_threads(info) -> list:
    """The thread counts of the BLAS libraries in a `threadpoolctl.threadpool_info()`, each once
    (numpy's OpenBLAS; scipy's too once something imported scipy.special or the like)."""
    return sorted({i["num_threads"] for i in info if i["user_api"] == "blas"})


def test_a_task_returns_its_log_records_and_leaves_the_process_as_it_was(caplog):
    """What a Ray task logs goes back with its result, at the driver's levels, and not to the
    worker's own handlers (Ray dropped those, or with log_to_driver printed them bare); BLAS
    runs one thread meanwhile; handlers, levels and BLAS threads are as they were after."""
    import pickle

    from threadpoolctl import threadpool_info
    ours = logging.getLogger("vasa_bridge.bake.test")

    def task(x):
        ours.info("kept: %s", x)
        ours.debug("below the driver's level")
        logging.getLogger("otherlib").info("below the driver's level for other libraries")
        try:
            1 / 0
        except ZeroDivisionError:
            ours.warning("kept with its traceback", exc_info=True)
        return x, blas_threads(threadpool_info())

    root = logging.getLogger()
    handlers, levels = root.handlers[:], (root.level, logging.getLogger("vasa_bridge").level)
    driver = blas_threads(threadpool_info())
    result, records = workers._task((("", logging.WARNING), ("vasa_bridge", logging.INFO)),
                                    task, "a")
    assert result == ("a", [1])
    assert [(r.name, r.levelname, r.getMessage().splitlines()[0]) for r in records] == [
        ("vasa_bridge.bake.test", "INFO", "kept: a"),
        ("vasa_bridge.bake.test", "WARNING", "kept with its traceback")]
    assert "ZeroDivisionError" in records[1].getMessage()
    assert pickle.loads(pickle.dumps(records))[1].exc_info is None  # sent as a pool's are
    assert caplog.records == []  # the process's own handlers saw none of them
    assert root.handlers == handlers
    assert (root.level, logging.getLogger("vasa_bridge").level) == levels
    assert blas_threads(threadpool_info()) == driver


@pytest.mark.slow
def test_pool_workers_run_one_blas_thread_and_the_driver_keeps_its_own(monkeypatch):
    """OpenBLAS's idle extra threads spun in every worker of a pool, for nothing: each bakes one
    line at a time (bench/bench_batch.py --modes pool-blas,pool)."""
    import importlib
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from threadpoolctl import threadpool_info
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # a new process's default, whatever CI says
    driver = blas_threads(threadpool_info())
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=importlib.import_module,
                             initargs=("numpy",)) as ex:
        plain = blas_threads(ex.submit(threadpool_info).result())
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=workers.warm,
                             initargs=(None, 1)) as ex:  # the pool's initializer
        held = blas_threads(ex.submit(threadpool_info).result())
    if plain == [1]:
        pytest.skip("OpenBLAS runs one thread here anyway (one CPU)")
    assert plain == [2] and held == [1]
    assert blas_threads(threadpool_info()) == driver


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray of 2 CPUs for this module's tests. Its workers run OpenBLAS with two threads
    unless the bake says otherwise (Ray exports OMP_NUM_THREADS=1 to the worker of a one-CPU
    task, which hid whether a task holds BLAS to one thread itself)."""
    ray = pytest.importorskip("ray")
    import vasa_bridge
    code = str(Path(vasa_bridge.__file__).resolve().parents[1])  # this checkout, in every worker
    env = {"PYTHONPATH": os.pathsep.join([code, os.environ.get("PYTHONPATH", "")]),
           "OPENBLAS_NUM_THREADS": "2"}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": env})
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_equals_a_single_process(voice, tmp_path, local_ray):
    import vasa_bridge
    remote = local_ray.remote(lambda: __import__("vasa_bridge").__file__)  # sent by value
    assert local_ray.get(remote.remote()) == vasa_bridge.__file__  # the code under test
    assert workers.ray_capacity() == 2
    bake_three_ways(voice, tmp_path, ray="auto")
    assert local_ray.is_initialized()  # the batch used the running Ray and left it running


@pytest.mark.slow
def test_ray_tasks_warnings_are_logged_on_the_driver_once_in_order(tmp_path, local_ray, caplog):
    """A Ray task's log records were dropped (log_to_driver is off): a silent or cut-short line
    baked on Ray without the warning the same line gets baked here or in a pool."""
    folder = tmp_path / "flawed"
    folder.mkdir()
    sf.write(str(folder / "a_silent.wav"), np.zeros(16000, np.float32), 16000)
    sf.write(str(folder / "b_short.wav"), speechlike(1.0, 16000, 0), 16000)
    whole = (folder / "b_short.wav").read_bytes()
    (folder / "b_short.wav").write_bytes(whole[:-8000])  # the header promises 0.25 s more
    caplog.set_level(logging.WARNING)
    result = run_batch(read_manifest(folder), tmp_path / "out",
                       BatchConfig(formats=("json",), ray="auto", chunk=2), progress=False)
    assert result.count("done") == 2
    said = [r.getMessage().split(": ")[0] for r in caplog.records
            if r.name == "vasa_bridge.audio.io"]
    assert said == [f"audio file {str(folder / 'a_silent.wav')!r} is silent",
                    f"audio file {str(folder / 'b_short.wav')!r} is cut short"]


@pytest.mark.slow
def test_ray_tasks_run_one_blas_thread_and_the_driver_keeps_its_own(local_ray, monkeypatch):
    """A Ray task ran BLAS on as many threads as its worker's environment said (Ray's default
    OMP_NUM_THREADS=1 only where nothing else was set)."""
    def blas(jobs=None):  # nested: Ray sends it by value (this module is not on its path)
        import numpy  # noqa: F401  (numpy's OpenBLAS, loaded in a fresh worker too)
        from threadpoolctl import threadpool_info
        return sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})

    driver = blas()
    plain = local_ray.get(local_ray.remote(num_cpus=1)(blas).remote())
    if plain == [1]:
        pytest.skip("OpenBLAS runs one thread here anyway (one CPU)")
    assert plain == [2]
    monkeypatch.setattr(workers, "bake_chunk", blas)  # what each of on_ray's tasks runs
    assert list(workers.on_ray([[None], [None]], inflight=2)) == [[1], [1]]
    assert blas() == driver


# --- regressions found by tests/test_fuzz_files.py (issue 16) -------------------------------------


def test_manifest_damage_is_listed_or_refused_not_a_traceback(tmp_path):
    from vasa_bridge.bake.manifest import read_manifest
    from vasa_bridge.errors import ConfigError
    jsonl = tmp_path / "lines.jsonl"
    jsonl.write_bytes(b'{"audio": "a.wav"}\n{"audio": "caf\xe9.wav"}\n' + b"[" * 100_000
                      + b"]" * 100_000 + b'\n{"audio": "b.wav", "intensity": 1' + b"0" * 400
                      + b'}\n{"audio": "c.wav", "gaze": [1' + b"0" * 400 + b', 0]}\n')
    lines = read_manifest(jsonl)  # were UnicodeDecodeError, RecursionError, OverflowError
    assert [line.error is None for line in lines] == [True, False, False, False, False]
    assert "not UTF-8" in lines[1].error and "nested too deeply" in lines[2].error
    assert "intensity" in lines[3].error and "gaze" in lines[4].error
    big = tmp_path / "big.csv"
    big.write_text("audio,text\na.wav," + "x" * 200_000 + "\n")
    with pytest.raises(ConfigError, match=r"'.*big\.csv' line 2 is not readable CSV"):
        read_manifest(big)  # was csv.Error: field larger than field limit
