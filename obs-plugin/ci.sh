#!/usr/bin/env bash
# Build the OBS plugin and run its three CTest suites (Debian/Ubuntu). Run from the repo root:
#
#   obs-plugin/ci.sh            # PYTHON defaults to .venv/bin/python
#
# 1. apt packages (apt-get update first, skipped when all are installed already);
# 2. obsws-python in $PYTHON if missing (the smoke test's websocket client);
# 3. cmake configure + build into obs-plugin/build-ci, tests on (obs-plugin/build is for manual builds);
# 4. ctest: parser on the golden fixtures, headless libobs under xvfb-run, real obs under xvfb-run.
# The last line is exactly "N passed, N failed"; the exit status is non-zero on any failure.
set -uo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
BUILD=$ROOT/obs-plugin/build-ci  # its own: a manual build in obs-plugin/build caches BUILD_TESTING=OFF
APT_PACKAGES=(build-essential cmake pkg-config libobs-dev obs-studio libzmq3-dev libmsgpack-dev
              libjansson-dev xvfb xauth)
OBSWS=obsws-python==1.8.0

fail_early() { # the build never got to the tests: one failure
    echo "obs-plugin/ci.sh: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null \
        || missing+=("$p")  # (not grep -q: under pipefail its early exit can read as missing)
done
if ((${#missing[@]})); then
    echo "== apt: installing ${missing[*]}"
    SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq || fail_early "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${APT_PACKAGES[@]}" >/dev/null || fail_early "apt-get install ${APT_PACKAGES[*]} failed"
else
    echo "== apt: all ${#APT_PACKAGES[@]} packages present"
fi

[ -x "$PYTHON" ] || fail_early "no Python at $PYTHON: set PYTHON to the repo's venv python"
"$PYTHON" -c "import numpy, msgpack, zmq" 2>/dev/null ||
    fail_early "$PYTHON lacks numpy/msgpack/pyzmq: expected the repo's venv"
if ! "$PYTHON" -c "import obsws_python" 2>/dev/null; then
    echo "== pip: installing $OBSWS into $PYTHON"
    "$PYTHON" -m pip install -q "$OBSWS" || fail_early "pip install $OBSWS failed"
fi

echo "== build"
mkdir -p "$BUILD"
cmake -S obs-plugin -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
    -DVASA_PYTHON="$PYTHON" \
    >"$BUILD/ci-configure.log" 2>&1 || { cat "$BUILD/ci-configure.log"; fail_early "cmake configure failed"; }
cmake --build "$BUILD" -j"$(nproc)" >"$BUILD/ci-build.log" 2>&1 ||
    { tail -50 "$BUILD/ci-build.log"; fail_early "build failed"; }
grep -E "warning:" "$BUILD/ci-build.log" || true

echo "== tests"
(cd "$BUILD" && ctest --output-on-failure --timeout 300) | tee "$BUILD/ci-ctest.log"
# measurements from the headless and smoke runs (CTest keeps every test's output)
grep -hE "^(VIDEO|DELAY|AUDIO|SYNC|NOPICTURES|RESTART|obs-harness:|smoke:|mutated|hello capabilities)" \
    "$BUILD/Testing/Temporary/LastTest.log" | sed 's/^/   /'

summary=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$BUILD/ci-ctest.log" | tail -1)
[ -n "$summary" ] || fail_early "ctest printed no summary"
failed=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")
total=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$summary")
echo "$((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
