#!/usr/bin/env bash
# make science SCIENCE=network: issue 16's measurements on the release build, in one run:
# Linked Art documents valid / total against linked-art/json-validator's schemas and LIDO
# records valid / total against the LIDO 1.0 XSD (xmllint), the OAI-PMH verbs Debian's
# HTTP::OAI harvester exercised, on the sample collection of two seeds; then a harvest of
# 10,000 records from a danqing peer on loopback over IIIF Change Discovery (time, pages), and
# a second run that must change nothing. Writes build/science/network.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DQ_BIN=$PWD/build/danqing DQ_ROOT=$PWD
out=build/science/network.md
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dq-science-network.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
{
  echo "# Issue 16: research platforms and a network of museums ($(git rev-parse --short HEAD))"
  echo
  echo "| seed | Linked Art valid / total | LIDO valid / total | OAI-PMH verbs by HTTP::OAI |"
  echo "| ---: | --- | --- | --- |"
} > "$out"
for seed in 1 2; do
  la=$(DQ_NET_SEED=$seed TMPDIR=$tmp python3 tests/scripts/test_linkedart.py | grep '^linked-art valid' || true)
  oai=$(DQ_NET_SEED=$seed TMPDIR=$tmp python3 tests/scripts/test_oai_harvest.py | grep -E '^(lido valid|oai-pmh verbs)' || true)
  lido=$(echo "$oai" | sed -n 's/^lido valid \([0-9/]*\).*/\1/p')
  verbs=$(echo "$oai" | sed -n 's/^oai-pmh verbs exercised by HTTP::OAI::Harvester: \(.*\)/\1/p')
  echo "| $seed | ${la#linked-art valid } | $lido | $verbs |" >> "$out"
done
python3 bench/science/network_harvest.py "$tmp" >> "$out"
cat "$out"
