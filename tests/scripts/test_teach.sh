#!/usr/bin/env bash
# test_teach.sh (issue 17): the command-line path of teaching material on the sanitizer build.
# A small album leaf is painted with its composition overlays, ingested and cataloged; then
# `danqing teach glossary` and `danqing teach overlays` run twice (the second adds nothing),
# a bad glossary file changes nothing, and the served API shows the glossary entries with the
# overlay annotations as their examples.
set -u
BIN=${DQ_BIN:-build/san/danqing}
ROOT=${DQ_ROOT:-.}
T=$(mktemp -d "${TMPDIR:-/tmp}/dq_teach.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
passed=0 failed=0
check() { # name, condition command...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "    FAIL $name"; fi
}
W=DQ-2026-0012
"$BIN" generate --out "$T/s" --only $W --no-truth --scale 0.25 --quiet --pigments "$ROOT/data-src/pigments" || exit 1
"$BIN" --data "$T/d" ingest "$T/s/$W/main.tif" --id $W > /dev/null || exit 1
"$BIN" --data "$T/d" import "$T/s/metadata.jsonl" > /dev/null || exit 1
n_regions=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['regions']))" "$T/s/$W/composition.json")
check "composition has regions" [ "$n_regions" -ge 5 ]

out=$("$BIN" --data "$T/d" teach glossary "$ROOT/data-src/glossary/starter.json")
check "glossary import creates every entry" [ "$out" = "glossary: 47 created, 0 updated" ]
out=$("$BIN" --data "$T/d" teach glossary "$ROOT/data-src/glossary/starter.json")
check "glossary re-import changes nothing" [ "$out" = "glossary: 0 created, 0 updated" ]
printf '[{"key":"x","category":"motif","term":{"zh":"甲"},"definition":{"en":"y"}}]' > "$T/bad.json"
"$BIN" --data "$T/d" teach glossary "$T/bad.json" > "$T/bad.out" 2>&1
check "a bad glossary file fails" [ $? -ne 0 ]
check "and says which field" grep -q 'term.en' "$T/bad.out"

out=$("$BIN" --data "$T/d" teach overlays "$T/s")
check "overlays import every region" [ "$out" = "overlays: 1 files, $n_regions annotations added, 0 already there" ]
out=$("$BIN" --data "$T/d" teach overlays "$T/s")
check "overlays re-import adds nothing" [ "$out" = "overlays: 1 files, 0 annotations added, $n_regions already there" ]
"$BIN" teach > /dev/null 2>&1
check "teach without arguments is a usage error" [ $? -eq 2 ]

"$BIN" --data "$T/d" serve --listen 127.0.0.1:0 > "$T/serve.log" 2>&1 &
pid=$!
port=
for _ in $(seq 1 100); do
  port=$(grep -o '127.0.0.1:[0-9]*' "$T/serve.log" | head -n 1 | cut -d: -f2)
  [ -n "$port" ] && [ "$port" != 0 ] && break
  sleep 0.1
done
check "server started" [ -n "$port" ]
get() { python3 -c "import urllib.request,sys; print(urllib.request.urlopen('http://127.0.0.1:$port'+sys.argv[1]).read().decode())" "$1"; }
ex=$(get /api/glossary/seal | python3 -c "import json,sys; d=json.load(sys.stdin); print(len(d['examples']))")
check "seal entry has the work's seals as examples" [ "$ex" -ge 1 ]
ex=$(get /api/glossary/pine | python3 -c "import json,sys; d=json.load(sys.stdin); print(len(d['examples']))")
check "pine entry has the painted pines as examples" [ "$ex" -ge 1 ]
hits=$(get "/api/glossary?q=pingyuan" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['items'][0]['key'] if d['items'] else '')")
check "pinyin search finds level distance" [ "$hits" = "level-distance" ]
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
