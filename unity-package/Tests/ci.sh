#!/usr/bin/env bash
# The Unity package's CI without Unity: builds Core with Debian's mono (C# 7.2), runs the NUnit 2.6
# suite (golden fixtures, conversions vs Python, playout, mapping, baked tracks that Python bakes,
# .anim export, and a live ZeroMQ round trip with a Python publisher), and compiles every Unity-facing script against the reference stubs in
# Tests/Stubs~ so a typo fails CI.
#
# Run from the repository root:  PYTHON=.venv/bin/python unity-package/Tests/ci.sh
# Last line: "N passed, N failed"; the exit status is non-zero on any failure.
set -u -o pipefail

ROOT=$(pwd)
PKG=$ROOT/unity-package
if [ ! -f "$PKG/package.json" ] || [ ! -d "$ROOT/tests/fixtures/protocol" ]; then
    echo "run from the repository root (found no unity-package/package.json or tests/fixtures/protocol in $ROOT)"
    echo "0 passed, 1 failed"
    exit 2
fi
PYTHON=${PYTHON:-.venv/bin/python}
case "$PYTHON" in /*) ;; */*) PYTHON=$ROOT/$PYTHON ;; esac
BUILD=$PKG/Tests/build
NUNIT_DLL=/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll
MCS="mcs -langversion:7.2 -nologo"

fail() {
    echo "ci.sh: $1"
    echo "0 passed, 1 failed"
    exit 1
}

# ---- packages (idempotent: apt only runs when something is missing) ----
# (grep without -q: under pipefail, -q's early exit SIGPIPEs ldconfig and the library read as
# missing now and then; CI: "still missing after apt-get install")
have_deps() {
    command -v mcs >/dev/null && command -v nunit-console >/dev/null && [ -f "$NUNIT_DLL" ] \
        && ldconfig -p | grep 'libzmq\.so\.5 ' >/dev/null
}
if ! have_deps; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mono-devel nunit-console libzmq5 >/dev/null \
        || fail "apt-get install mono-devel nunit-console libzmq5 failed"
    have_deps || fail "mcs, nunit-console or libzmq.so.5 still missing after apt-get install"
fi
[ -x "$PYTHON" ] || fail "PYTHON=$PYTHON is not an executable python (set PYTHON to the repo's venv python)"

rm -rf "$BUILD"
mkdir -p "$BUILD"

# ---- 1. Core: pure C#, no UnityEngine (warnings are errors) ----
$MCS -target:library -warnaserror+ -out:"$BUILD/VasaBridge.Core.dll" "$PKG"/Runtime/Core/*.cs \
    || fail "Runtime/Core does not compile"

# ---- 2. Unity-facing scripts against reference stubs (UnityEngine, UnityEditor, NetMQ, UniVRM) ----
mapfile -t STUB_SRC < <(find "$PKG/Tests/Stubs~" -name '*.cs' | sort)
$MCS -target:library -nowarn:0067,0169,0649 -out:"$BUILD/UnityStubs.dll" "${STUB_SRC[@]}" \
    || fail "Tests/Stubs~ does not compile"
mapfile -t RUNTIME_SRC < <(find "$PKG/Runtime" -name '*.cs' -not -path '*/Core/*' | sort)
mapfile -t EDITOR_SRC < <(find "$PKG/Editor" -name '*.cs' | sort)
mapfile -t SAMPLE_SRC < <(find "$PKG/Samples~" -name '*.cs' | sort)
# Every optional define on: the NetMQ transport and both VRM drivers must compile.
DEFINES="-define:UNITY_EDITOR;VASA_NETMQ;VASA_UNIVRM0;VASA_UNIVRM1"
$MCS -target:library -warnaserror+ -nowarn:0649 $DEFINES -r:"$BUILD/VasaBridge.Core.dll" -r:"$BUILD/UnityStubs.dll" \
    -out:"$BUILD/VasaBridge.Unity.dll" "${RUNTIME_SRC[@]}" "${EDITOR_SRC[@]}" "${SAMPLE_SRC[@]}" \
    || fail "the Unity-facing scripts do not compile against Tests/Stubs~ (all optional defines on)"
# ...and with no optional package installed (a fresh project before NetMQ or UniVRM is added).
$MCS -target:library -warnaserror+ -nowarn:0649 -r:"$BUILD/VasaBridge.Core.dll" -r:"$BUILD/UnityStubs.dll" \
    -out:"$BUILD/VasaBridge.Unity.Bare.dll" "${RUNTIME_SRC[@]}" "${SAMPLE_SRC[@]}" \
    || fail "the runtime scripts do not compile without NetMQ/UniVRM defines"

# ---- 3. the NUnit suite: Core tests (Tests/Editor) + mono-only live tests (Tests/Mono~) ----
mapfile -t TEST_SRC < <(find "$PKG/Tests/Editor" "$PKG/Tests/Mono~" -name '*.cs' | sort)
$MCS -target:library -r:"$BUILD/VasaBridge.Core.dll" -r:"$NUNIT_DLL" -out:"$BUILD/VasaBridge.Tests.dll" "${TEST_SRC[@]}" \
    || fail "the tests do not compile"

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "$PKG/Tests/Mono~/make_reference.py" "$BUILD/reference.json" \
    || fail "make_reference.py failed (vasa_bridge.motion.conversions)"

# A short voice line baked by the real command (`vasa-bridge bake -o line.vasatrack`) for the importer's tests.
OMP_NUM_THREADS=1 PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "$PKG/Tests/Mono~/make_baked.py" "$BUILD/baked" 2>"$BUILD/make_baked.log" \
    || { cat "$BUILD/make_baked.log"; fail "make_baked.py failed (vasa-bridge bake)"; }

export VASA_BRIDGE_FIXTURES=$ROOT/tests/fixtures/protocol
export VASA_BRIDGE_BAKED=$BUILD/baked
export VASA_BRIDGE_BUILD=$BUILD
export VASA_BRIDGE_REFERENCE=$BUILD/reference.json
export VASA_BRIDGE_PYTHON=$PYTHON
export VASA_BRIDGE_ROOT=$ROOT
(cd "$BUILD" && timeout 600 nunit-console VasaBridge.Tests.dll -nologo -xml=TestResult.xml) | grep -v '^\s*at ' 
[ -f "$BUILD/TestResult.xml" ] || fail "nunit-console wrote no TestResult.xml"

# ---- 4. the summary, from the result XML: a test that did not run counts as failed ----
passed=$(grep -o '<test-case [^>]*executed="True"[^>]*success="True"' "$BUILD/TestResult.xml" | wc -l)
cases=$(grep -o '<test-case ' "$BUILD/TestResult.xml" | wc -l)
failed=$((cases - passed))
[ "$cases" -gt 0 ] || failed=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
