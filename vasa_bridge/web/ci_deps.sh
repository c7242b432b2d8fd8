#!/bin/sh
# System packages the web tests need: Debian's Chromium (headless, driven over the DevTools
# protocol by vasa_bridge/web/cdp.py). Without it tests/test_web_browser.py skips with a reason.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
chromium --version
