#!/usr/bin/env bash
# make demo: paint the sample collection (cached under build/sample), ingest it with its
# metadata into the data directory (once), make an admin account with a one-time password
# (once), then serve. A second run skips everything already done and starts in seconds.
# env: DANQING_DATA (default ./data), DANQING_LISTEN (default 127.0.0.1:8080)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/danqing
data=${DANQING_DATA:-./data}
listen=${DANQING_LISTEN:-127.0.0.1:8080}
sample=build/sample
has() { "$bin" help 2>/dev/null | grep -q "^  $1 "; }
mkdir -p "$data"

if has generate; then
  if [ ! -f "$sample/manifest.json" ]; then
    echo "painting the sample collection into $sample ..."
    rm -rf "$sample.tmp"
    "$bin" generate --out "$sample.tmp" --seed 1
    rm -rf "$sample"; mv "$sample.tmp" "$sample"
  fi
  # Ingest every work's main image once (ingest refuses an existing id, which is what a
  # second run relies on: the catalog, not a marker file, says what is done).
  for dir in "$sample"/*/; do
    id=$(basename "$dir")
    main=$(ls "$dir"main.* 2>/dev/null | head -n 1 || true)
    [ -n "$main" ] || continue
    if ! "$bin" --data "$data" fixity --id "$id" > /dev/null 2>&1; then
      "$bin" --data "$data" ingest "$main" --id "$id" | tail -n 1
    fi
  done
  if has import && [ -f "$sample/metadata.jsonl" ]; then
    "$bin" --data "$data" import "$sample/metadata.jsonl" | tail -n 1
  fi
  # Issue 11: every work's raw multispectral capture (calibrated, registered, stored) and its
  # pigment map, once: a relic that already has captures is left alone.
  if has spectral; then
    for dir in "$sample"/*/truth/capture/; do
      [ -f "$dir/bands.json" ] || continue
      id=$(basename "$(dirname "$(dirname "$dir")")")
      if [ "$("$bin" --data "$data" spectral list "$id" --json 2>/dev/null)" = "[]" ]; then
        out=$("$bin" --data "$data" spectral add "$id" "$dir" --json) || continue
        w=$(echo "$out" | sed -n 's/^  "width": \([0-9]*\).*/\1/p')
        h=$(echo "$out" | sed -n 's/^  "height": \([0-9]*\).*/\1/p')
        px=$(( ${w:-0} * ${h:-0} ))
        echo "spectral capture $id-ms: ${w}x${h}"
        # The pigment map takes about a second per megapixel: the handscrolls are left for later.
        if [ "$px" -gt 0 ] && [ "$px" -lt 8000000 ]; then
          "$bin" --data "$data" spectral pigments "$id-ms" --out "$data/tmp/$id-pigments.png" > /dev/null &&
            rm -f "$data/tmp/$id-pigments.png" "$data/tmp/$id-pigments_confidence.png"
        fi
      fi
    done
  fi
  # Teaching (issue 17): the starter glossary and the composition overlays as annotations.
  # A sample painted before the overlays existed gets them in seconds (no repainting).
  if has teach; then
    if [ ! -f "$sample/DQ-2026-0005/composition.json" ]; then
      "$bin" generate --out "$sample" --seed 1 --composition-only --quiet
    fi
    "$bin" --data "$data" teach glossary data-src/glossary/starter.json
    "$bin" --data "$data" teach overlays "$sample" | tail -n 1
  fi
else
  # Until the sample collection exists, serve one generated test image.
  if ! "$bin" --data "$data" fixity --id demo > /dev/null 2>&1; then
    echo "making a demo image ..."
    bench/make-master.sh build/demo-master.tif 6000 2000
    "$bin" --data "$data" ingest build/demo-master.tif --id demo
  fi
fi

if has user && ! "$bin" --data "$data" user list 2>/dev/null | grep -q '^admin\b'; then
  pw=$(head -c 12 /dev/urandom | base64 | tr -d '/+=' | head -c 16)
  "$bin" --data "$data" user add admin --role admin --password "$pw" > /dev/null
  echo "admin account: admin / $pw   (shown once; change it after logging in)"
fi

echo "serving $data on http://$listen/  (Ctrl-C stops)"
exec "$bin" --data "$data" serve --listen "$listen"
