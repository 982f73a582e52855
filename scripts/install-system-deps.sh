#!/usr/bin/env bash
# Installs the Debian packages the gateway and its tests need. Idempotent: packages already
# present are skipped, so a second run costs one dpkg query.
#   ffmpeg                         demo sources, recording, transcoding fallback
#   gstreamer + gst-rtsp-server    the real RTSP server the tests stream from (python3-gi binding);
#                                  gstreamer1.0-x carries the pango clockoverlay/timeoverlay it draws;
#                                  python3-gi-cairo lets it draw the machine-readable time stamp (bench/relay)
#   chromium                       headless browser for WebRTC and UI tests (driven by playwright-core)
#   sip-tester                     SIPp, the independent SIP peer the GB/T 28181 signalling is tested against
set -euo pipefail

packages=(
  ffmpeg
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi python3-gst-1.0 gstreamer1.0-x python3-gi-cairo
  chromium fonts-noto-cjk iproute2 sip-tester
)
if [ "${1:-}" = "--with-janus" ]; then packages+=(janus); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed"
