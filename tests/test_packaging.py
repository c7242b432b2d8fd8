"""What a plain install (`pip install vasa-bridge`, scripts/setup.sh without --test) brings is
enough for the default paths: the README's first command must work on a fresh machine, while
CI installs every extra."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import sphinx_recording

ROOT = Path(__file__).resolve().parents[1]
# requirement name -> the module it installs, where they differ
MODULE = {"scikit-image": "skimage", "obsws-python": "obsws_python",
          "espeakng-loader": "espeakng_loader", "onnxruntime-gpu": "onnxruntime"}

# Every import of the extras-only modules fails, as on a machine without them; then the CLI.
RUN = """
import importlib.abc, sys
BLOCKED = set(sys.argv[1].split(","))

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (an extra, not installed)")
        return None

sys.meta_path.insert(0, Missing())
from vasa_bridge.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _name(requirement: str) -> str:
    for stop in "<>=!~;[ ":
        requirement = requirement.split(stop)[0]
    return requirement.strip().lower()


def extras_only() -> set[str]:
    """The modules that only an extra installs (not the core dependencies)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    extra = {_name(r) for reqs in project["optional-dependencies"].values() for r in reqs}
    return {MODULE.get(n, n.replace("-", "_")) for n in extra - core - {"vasa-bridge"}}


def test_the_extras_are_what_the_pyproject_says():
    blocked = extras_only()
    assert {"torch", "ray", "pytest", "skimage", "espeakng_loader"} <= blocked
    assert not {"numpy", "mediapipe", "onnxruntime", "pocketsphinx"} & blocked


@pytest.mark.slow
def test_bake_runs_on_the_core_dependencies_alone(tmp_path):
    """`vasa-bridge bake` of a real voice, its default mouth (the words and phones it hears,
    pocketsphinx), with every extras-only module unimportable. With pocketsphinx in the data
    extra only, the README's first command stopped ('pocketsphinx is not installed')."""
    import soundfile as sf
    wav = tmp_path / "goforward.wav"
    sf.write(wav, sphinx_recording(), 16000)
    out = tmp_path / "motion.json"
    run = subprocess.run([sys.executable, "-c", RUN, ",".join(sorted(extras_only())), "bake",
                          "--audio", str(wav), "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "mouth from the audio" in run.stderr + run.stdout
    assert out.is_file() and out.stat().st_size > 1000
