#!/usr/bin/env bash
# System and Python packages the dataset tools (vasa_bridge/data) and their tests need.
# Usage (from .ci/run, as root on Debian 12): bash vasa_bridge/data/ci.sh PYTHON
set -euo pipefail
PY="${1:-python3}"
if ! command -v festival >/dev/null || [ ! -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ] \
   || [ ! -d /usr/share/festival/voices/english/kal_diphone ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    festival festvox-kallpc16k festvox-us-slt-hts >/dev/null
fi
"$PY" -m pip install -q "espeakng-loader==0.2.4" "pocketsphinx==5.1.1"
