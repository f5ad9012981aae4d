#!/bin/sh
# OS packages Loopgate needs from Debian, installed with apt when missing and we are root;
# otherwise we say what is missing. Name the ones you need (`make distributed` asks for
# nginx only, and stops without it); without names, everything the tests need:
#   cairo     rasterises QR SVGs for the decoder
#   chromium  runs the end-to-end tests of the pages (Playwright drives Debian's build; it
#             cannot download its own)
#   cjk-fonts Chinese text in the pages Chromium draws (screenshots, the end-to-end tests),
#             not boxes: Debian's fonts-noto-cjk
#   nginx     the gateway of `make distributed` and the distributed tests (deploy/nginx/).
#             Loopgate runs its own nginx; where systemd runs, Debian also starts its stock
#             one on port 80 (`systemctl disable --now nginx` stops it).
set -e
missing=""
for wanted in ${*:-cairo chromium cjk-fonts nginx}; do
    case $wanted in
        cairo) ldconfig -p 2>/dev/null | grep -q 'libcairo\.so\.2' || missing="$missing libcairo2" ;;
        chromium) command -v chromium >/dev/null || missing="$missing chromium" ;;
        cjk-fonts) [ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto | grep -q CJK || missing="$missing fonts-noto-cjk" ;;
        # /usr/sbin is not on a Debian user's PATH.
        nginx) command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$missing nginx" ;;
        *) echo "system-packages.sh: no such package here: $wanted" >&2; exit 2 ;;
    esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
elif [ $# -gt 0 ]; then
    # Asked for by name (`make distributed`): nothing runs without it.
    echo "missing OS packages:$missing (install them with your package manager)" >&2
    exit 1
else
    echo "missing OS packages:$missing (install them with your package manager; tests needing them skip)" >&2
fi
