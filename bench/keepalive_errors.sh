#!/bin/sh
# Error answers on keep-alive connections (issue 15, session 25): requests/s of 401 and 404
# answers against a 200 (/health), measured with wrk on one connection (-c1) and on eight
# (-c8), for GETs and for requests with a small body (POST/PATCH JSON). Each BIN given is
# measured in the same run on the same data directory, one after the other, so that a before
# and an after binary can be compared (load moves results by 10-20 % on a shared machine).
# A wrk "Socket errors: connect" count or a new connection per request shows as low req/s.
# usage: bench/keepalive_errors.sh [SECONDS] BIN [BIN ...]   (default: 4 build/danqing)
set -eu
secs=4
case "${1:-}" in [0-9]*) secs=$1; shift ;; esac
[ $# -gt 0 ] || set -- build/danqing
T=$(mktemp -d "${TMPDIR:-/tmp}/dq_kae.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT INT TERM
cat > "$T/body.lua" <<'LUA'
wrk.method = os.getenv("KAE_METHOD")
wrk.body = '{"title":{"en":"x"}}'
wrk.headers["Content-Type"] = "application/json"
LUA
"$1" --data "$T/data" import /dev/null > /dev/null 2>&1 || true
printf '| binary | request | answer | c1 req/s | c8 req/s |\n|---|---|---:|---:|---:|\n'
for bin in "$@"; do
  "$bin" serve --data "$T/data" --listen 127.0.0.1:0 > "$T/serve.out" 2>&1 &
  pid=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/serve.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "no port from $bin" >&2; exit 1; }
  for c in "GET /health" "GET /api/me" "GET /api/relics/none" "POST /api/relics" \
           "POST /api/nope" "PATCH /api/relics/none"; do
    m=${c%% *}; p=${c#* }
    code=$(curl -s -o /dev/null -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' \
           $( [ "$m" = GET ] || echo "-d {}" ) "http://127.0.0.1:$port$p")
    row="| $(basename "$bin") | $m $p | $code"
    for n in 1 8; do
      if [ "$m" = GET ]; then
        r=$(wrk -t1 -c$n -d${secs}s "http://127.0.0.1:$port$p" | sed -n 's/^Requests\/sec: *//p')
      else
        r=$(KAE_METHOD=$m wrk -t1 -c$n -d${secs}s -s "$T/body.lua" "http://127.0.0.1:$port$p" |
            sed -n 's/^Requests\/sec: *//p')
      fi
      row="$row | ${r%.*}"
    done
    echo "$row |"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
