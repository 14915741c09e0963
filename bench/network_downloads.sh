#!/bin/bash
# bench/network_downloads.sh BIN DATA: sizes and times of /api/relics/{id}/download for DQ-2026-0001
# (issue 16) and the server's peak RSS. DATA: a data directory with DQ-2026-0001 ingested and
# imported at full scale (danqing generate --only DQ-2026-0001; ingest; import).
set -u
tmpf=$(mktemp)
trap 'rm -f "$tmpf"' EXIT
BIN=$1; DATA=$2
out=$(mktemp); $BIN serve --data "$DATA" --listen 127.0.0.1:0 --log-level 2 > $out 2>/dev/null & pid=$!
for i in $(seq 50); do grep -q listening $out && break; sleep 0.1; done
port=$(sed -n 's/.*:\([0-9]*\)\/$/\1/p' $out)
rid=$(curl -s "127.0.0.1:$port/api/relics?q=DQ-2026-0001" | python3 -c "import json,sys; print(json.load(sys.stdin)['items'][0]['id'])")
echo "relic $rid; info: $(curl -s 127.0.0.1:$port/iiif/3/DQ-2026-0001/info.json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['width'],d['height'],d.get('maxWidth'),d.get('maxArea'))")"
echo "| request | bytes | s | WxH |"
for q in "width=3200" "width=12000" "width=12000&format=tif" "width=6400&format=png" "region=18000,0,6000,2000" ; do
  for rep in 1 2; do
  r=$(curl -s -o "$tmpf" -w "%{size_download} %{time_total}" "127.0.0.1:$port/api/relics/$rid/download?$q")
  done
  wh=$(vipsheader "$tmpf" 2>/dev/null | sed 's/.*: \([0-9]*x[0-9]*\).*/\1/')
  echo "| $q | ${r% *} | ${r#* } | $wh |"
done
r=$(curl -s -o /dev/null -w "%{size_download} %{time_total}" "127.0.0.1:$port/iiif/3/DQ-2026-0001/full/12000,/0/default.jpg"); echo "| IIIF full/12000, (same render, no metadata) | ${r% *} | ${r#* } | |"
echo "server peak RSS: $(grep VmHWM /proc/$pid/status)"
kill $pid; wait $pid 2>/dev/null; rm -f $out
