#!/bin/sh
# Installs whatever a fresh Debian 12 machine is missing (apt-get), then
# configures and builds build/.
#   scripts/setup.sh [extra Debian packages...]
set -eu
cd "$(dirname "$0")/.."

packages="gcc pkg-config meson ninja-build libglib2.0-dev libjson-glib-dev
  libopenblas-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good $*"

missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"
  then
    missing="$missing $p"
  fi
done
if [ -n "$missing" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "== installing:$missing"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing
fi

[ -f build/build.ninja ] || meson setup build
ninja -C build
