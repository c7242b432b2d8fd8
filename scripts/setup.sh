#!/usr/bin/env bash
# Set up vasa_bridge in ./.venv. `--test` also installs what the test suites need.
# Debian/Ubuntu: installs the system libraries it needs with apt-get when run as root (or with
# sudo available); elsewhere, install PortAudio yourself (macOS: brew install portaudio).
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TESTS=0
[ "${1:-}" = "--test" ] && WITH_TESTS=1

APT_PACKAGES="libportaudio2"
# Tests also use a real, paced capture device: a PulseAudio null sink.
if [ "$WITH_TESTS" = 1 ]; then
  APT_PACKAGES="$APT_PACKAGES pulseaudio pulseaudio-utils libasound2-plugins"
  # The speech corpus's second engine (vasa_bridge/data): festival with two voices.
  APT_PACKAGES="$APT_PACKAGES festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts"
  # ... and its Italian voices lp and pc (two more real speakers for the live mouth's head).
  APT_PACKAGES="$APT_PACKAGES festvox-italp16k festvox-itapc16k"
  # Its third (issue 15's added speakers): flite's clustergen voices awb, rms and slt.
  APT_PACKAGES="$APT_PACKAGES flite"
  # Real recorded voices for `vasa-bridge eval --real` and tests/test_realvoice.py.
  APT_PACKAGES="$APT_PACKAGES alsa-utils pocketsphinx-testdata"
  # The web panel's browser tests drive Debian's Chromium headless.
  APT_PACKAGES="$APT_PACKAGES chromium"
  # Real human recordings with their words (tests/test_transcript.py): pocketsphinx's test
  # recordings and the ALSA channel announcements.
  APT_PACKAGES="$APT_PACKAGES pocketsphinx-testdata alsa-utils"
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  missing=""
  for p in $APT_PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "[setup] apt-get install$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
  fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
LOG=.venv/pip.log
pip_install() {  # quiet unless it fails; the full log stays in .venv/pip.log
  .venv/bin/python -m pip install -q "$@" >>"$LOG" 2>&1 || {
    echo "[setup] pip install $* failed; the end of $LOG:"; tail -n 40 "$LOG"; exit 1; }
}
: >"$LOG"
pip_install --upgrade pip setuptools wheel
if [ "$WITH_TESTS" = 1 ]; then
  # Torch first, pinned to the CPU build: anything that depends on torch then finds it instead of
  # pulling a multi-GB CUDA build.
  echo "[setup] pip install torch==2.13.0 (CPU), then the package with its test extras"
  pip_install "torch==2.13.0"
  pip_install -e ".[test]"
else
  echo "[setup] pip install the package"
  pip_install -e .
fi
echo "[setup] ready: $(.venv/bin/vasa-bridge --version)"
