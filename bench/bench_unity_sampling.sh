#!/usr/bin/env bash
# The Unity player's sampling cost per character per frame (target <= 0.05 ms), on Mono without
# Unity: builds Runtime/Core and bench/UnitySamplingBench.cs with mcs (C# 7.2) and runs it.
#
#   bash bench/bench_unity_sampling.sh [characters ...]     (default: 1 10 100)
# Needs Debian's mono-devel (unity-package/Tests/ci.sh installs it). Exit status 1 if the target is missed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
command -v mcs >/dev/null || { echo "mcs not found: install mono-devel (unity-package/Tests/ci.sh does)"; exit 2; }
mcs -langversion:7.2 -nologo -optimize+ -target:library -out:"$OUT/VasaBridge.Core.dll" "$ROOT"/unity-package/Runtime/Core/*.cs
mcs -langversion:7.2 -nologo -optimize+ -r:"$OUT/VasaBridge.Core.dll" -out:"$OUT/bench.exe" "$ROOT/bench/UnitySamplingBench.cs"
mono --version | head -1
MONO_PATH="$OUT" mono --optimize=all "$OUT/bench.exe" "$@"
