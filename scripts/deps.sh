#!/usr/bin/env bash
# Installs the Debian packages danqing needs to build, test, benchmark and demo, when any is
# missing. As root it runs apt-get; otherwise it prints the exact apt line and fails.
# usage: scripts/deps.sh [build|check|bench|demo]   (default: check)
set -euo pipefail
what=${1:-check}
build_pkgs="gcc make pkg-config libvips-dev libvips-tools libtiff-dev libjpeg62-turbo-dev
 libpng-dev libwebp-dev libopenjp2-7-dev liblcms2-dev libmicrohttpd-dev libjansson-dev
 libsqlite3-dev libsodium-dev fonts-arphic-ukai libturbojpeg0-dev libopencc-dev libopencc-data
 unicode-data libbz2-dev zlib1g-dev python3-fonttools python3-brotli
 libfftw3-dev libopenblas-dev liblapacke-dev libgsl-dev libvlfeat-dev libpq-dev libcurl4-openssl-dev libssl-dev libxml2-dev"
# Node.js and npm (front-end dependencies, browser tests, s3rver for the blob store tests; the
# Makefile runs `npm ci`, which installs what package-lock.json pins): Debian's packages, unless a node
# with its own npm is already installed (a nodesource build conflicts with Debian's npm).
command -v npm > /dev/null 2>&1 && command -v node > /dev/null 2>&1 || build_pkgs="$build_pkgs nodejs npm"
# fonts-noto-cjk: Chromium in the browser tests renders body text in Noto Sans CJK, as the
# page CSS asks, so screenshots look as they do for readers.
check_pkgs="clang libclang-rt-14-dev curl chromium fonts-noto-cjk"
# Independent peers for the analysis tests and benches (never used by the product), and the
# servers the scale-out and research-network tests start on 127.0.0.1 themselves.
check_pkgs="$check_pkgs python3-numpy python3-scipy python3-opencv python3-spectral python3-skimage
 postgresql-15 haproxy libhttp-oai-perl libxml2-utils python3-jsonschema"
bench_pkgs="lighttpd iipimage-server spawn-fcgi wrk curl time"
validator_pkgs="python3-pil python3-lxml python3-bottle python3-magic"
case $what in
  build) want="$build_pkgs" ;;
  check) want="$build_pkgs $check_pkgs" ;;
  bench) want="$build_pkgs $check_pkgs $bench_pkgs $validator_pkgs" ;;
  demo)  want="$build_pkgs" ;;
  *) echo "usage: $0 [build|check|bench|demo]" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  case " $missing " in *" $p "*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "danqing needs these Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# lighttpd first: iipimage-server depends on "apache2 module or lighttpd", and naming lighttpd
# keeps Apache off the machine.
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
