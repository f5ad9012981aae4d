#!/bin/sh
# OS packages the tests need: cairo rasterises QR SVGs for the decoder; Chromium runs the
# end-to-end tests of the pages (Playwright drives Debian's build; it cannot download its own).
# Installed with apt when missing and we are root; otherwise we say what is missing.
set -e
missing=""
ldconfig -p 2>/dev/null | grep -q 'libcairo\.so\.2' || missing="$missing libcairo2"
command -v chromium >/dev/null || missing="$missing chromium"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
    echo "missing OS packages:$missing (install them with your package manager; tests needing them skip)" >&2
fi
