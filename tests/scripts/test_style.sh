#!/bin/bash
# test_style.sh: `danqing style index|train|classify` end to end on a small study set (issue
# 13): the study set is ingested and imported like the sample collection; index embeds one
# relic, then resumes with the rest (one transaction per image); a replaced pyramid is
# re-embedded and an unchanged one is not; train reports cross-validated accuracy with a
# confusion matrix; classify answers the documented JSON shape with probabilities that sum to
# 1 and never changes the catalog record. Prints "N passed, N failed".
set -u
bin=${DQ_BIN:-build/san/danqing}
root=${DQ_ROOT:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dq_style_cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
py=/usr/bin/python3

"$bin" generate --study 3 --seed 5 --scale 0.3 --out "$tmp/s" --quiet --pigments "$root/data-src/pigments" || { echo "generate failed"; echo "0 passed, 1 failed"; exit 1; }
for d in "$tmp"/s/S5-*; do
  "$bin" --data "$tmp/d" ingest "$d/main.tif" --id "$(basename "$d")" > /dev/null || fail=$((fail + 1))
done
"$bin" --data "$tmp/d" import "$tmp/s/metadata.jsonl" > /dev/null 2>&1
n=$(ls -d "$tmp"/s/S5-* | wc -l)
check "18 works painted" "[ $n -eq 18 ]"

relic=$("$bin" --data "$tmp/d" style classify x 2>&1 >/dev/null | grep -c "neither")
check "classify of an unknown id is a clear error" "[ $relic -eq 1 ]"

# One relic first, then the rest: what was done is not redone.
rid=$(sqlite3 "$tmp/d/catalog.sqlite" "SELECT id FROM relics LIMIT 1")
out=$("$bin" --data "$tmp/d" style index --relic "$rid" --quiet)
check "index --relic embeds its one image" "echo '$out' | grep -q '^style index: 1 embedded'"
out=$("$bin" --data "$tmp/d" style index --quiet)
check "index resumes with the other 17" "echo '$out' | grep -q '^style index: 17 embedded, 1 already current'"
out=$("$bin" --data "$tmp/d" style index --quiet)
check "a second index has nothing to do" "echo '$out' | grep -q '^style index: 0 embedded, 18 already current'"

# A changed pyramid is re-embedded.
a=$(ls -d "$tmp"/s/S5-jinbi-0001); b=$(ls -d "$tmp"/s/S5-kaishu-0001)
"$bin" --data "$tmp/d" ingest "$b/main.tif" --id S5-jinbi-0001 --replace > /dev/null
same=$(sqlite3 "$tmp/d/catalog.sqlite" "SELECT count(*) FROM style_embeddings s JOIN images i ON i.id = s.image_id WHERE s.image_id = 'S5-jinbi-0001' AND s.pyramid_sha256 = i.pyramid_sha256")
check "ingest --replace re-embeds the new pyramid at once" "[ $same -eq 1 ]"
out=$("$bin" --data "$tmp/d" style index --quiet)
check "so index has nothing left to do" "echo '$out' | grep -q '^style index: 0 embedded, 18 already current'"
"$bin" --data "$tmp/d" ingest "$a/main.tif" --id S5-jinbi-0001 --replace > /dev/null
"$bin" --data "$tmp/d" style index --quiet > /dev/null

out=$("$bin" --data "$tmp/d" style train --label school --folds 3 --json)
check "train --json reports accuracy and a 6x6 confusion matrix" "echo '$out' | $py -c '
import json,sys; d=json.load(sys.stdin)
assert d[\"n\"]==18 and len(d[\"classes\"])==6 and d[\"folds\"]==3
assert len(d[\"confusion\"])==6 and sum(map(sum,d[\"confusion\"]))==18
assert 0.5 <= d[\"accuracy\"] <= 1.0, d[\"accuracy\"]'"
out=$("$bin" --data "$tmp/d" style train --label dynasty)
check "train --label dynasty prints a confusion matrix" "echo '$out' | grep -q 'cross-validated accuracy'"
check "train without --label is a usage error" "! $bin --data $tmp/d style train 2>/dev/null"

before=$(sqlite3 "$tmp/d/catalog.sqlite" "SELECT group_concat(version) FROM relics")
out=$("$bin" --data "$tmp/d" style classify S5-yanyu-0002 --json)
check "classify IMAGE_ID --json has the documented shape" "echo '$out' | $py -c '
import json,sys; d=json.load(sys.stdin)
ls=d[\"labels\"]; assert len(ls)==3 and all(set(x)=={\"label\",\"p\"} for x in ls)
assert ls[0][\"p\"]>=ls[1][\"p\"]>=ls[2][\"p\"]
near=d[\"nearest\"]; assert len(near)==5
assert all(n[\"image_id\"]!=\"S5-yanyu-0002\" and n[\"school\"] for n in near)
assert near[0][\"score\"]>=near[-1][\"score\"]'"
out=$("$bin" --data "$tmp/d" style classify "$tmp/s/S5-xiyuan-0003/main.tif" --json --top 6)
check "classify FILE: probabilities of all classes sum to 1" "echo '$out' | $py -c '
import json,sys; d=json.load(sys.stdin); s=sum(x[\"p\"] for x in d[\"labels\"]); assert abs(s-1)<0.01, s'"
after=$(sqlite3 "$tmp/d/catalog.sqlite" "SELECT group_concat(version) FROM relics")
check "classify changed no relic" "[ '$before' = '$after' ]"

# HTTP: similar works respect restricted records; attribution never writes.
tok=$("$bin" --data "$tmp/d" user add cur --role curator > /dev/null && "$bin" --data "$tmp/d" user token cur 2>/dev/null | cut -d' ' -f1)
"$bin" --data "$tmp/d" serve --listen 127.0.0.1:0 > "$tmp/serve.log" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; rm -rf "$tmp"' EXIT
for i in $(seq 1 200); do grep -q "listening on" "$tmp/serve.log" && break; sleep 0.05; done
port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\)\/.*/\1/p' "$tmp/serve.log" | head -1)
api="http://127.0.0.1:$port/api"
hid=$(sqlite3 "$tmp/d/catalog.sqlite" "SELECT r.id FROM relics r JOIN relic_images i ON i.relic = r.seq WHERE i.image_id = 'S5-jinbi-0002'")
vid=$(sqlite3 "$tmp/d/catalog.sqlite" "SELECT r.id FROM relics r JOIN relic_images i ON i.relic = r.seq WHERE i.image_id = 'S5-jinbi-0001'")
curl -s -X PATCH -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' -H 'If-Match: *' \
  -d '{"restricted": true}' "$api/relics/$hid" > /dev/null
anon=$(curl -s "$api/relics/$vid/similar?limit=50")
check "anonymous similar works leave the restricted relic out" "echo '$anon' | $py -c '
import json,sys; d=json.load(sys.stdin); ids=[i[\"relic_id\"] for i in d[\"items\"]]
assert len(ids)==16 and \"$hid\" not in ids and \"$vid\" not in ids, ids
assert all(set(i[\"parts\"])=={\"palette\",\"ink\",\"brushwork\",\"composition\"} for i in d[\"items\"])
assert all(i[\"reason\"][\"key\"] in i[\"parts\"] for i in d[\"items\"])'"
cur=$(curl -s -H "Authorization: Bearer $tok" "$api/relics/$vid/similar?limit=50")
check "a curator sees it" "echo '$cur' | grep -q '\"$hid\"'"
check "the restricted relic's own similar list is 404 anonymously" "[ \$(curl -s -o /dev/null -w '%{http_code}' '$api/relics/$hid/similar') = 404 ]"
check "a hidden image is 404 to POST /api/similar" "[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{\"image_id\":\"S5-jinbi-0002\"}' '$api/similar') = 404 ]"
bare=$(curl -s -X POST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
  -d '{"accession":"NO-IMAGE-1","title":{"en":"No image yet","zh":"尚无图像"}}' "$api/relics" | $py -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check "a relic without an image: similar is 200, empty, with the reason" "[ \$(curl -s -o $tmp/bare.json -w '%{http_code}' '$api/relics/$bare/similar') = 200 ] && $py -c '
import json; d=json.load(open(\"$tmp/bare.json\")); assert d[\"indexed\"] is False and d[\"items\"]==[] and d[\"reason\"][\"key\"]==\"no_image\", d'"
check "a relic without an image: palette is 200, empty, with the reason" "[ \$(curl -s -o $tmp/barep.json -w '%{http_code}' '$api/relics/$bare/palette') = 200 ] && $py -c '
import json; d=json.load(open(\"$tmp/barep.json\")); assert d[\"indexed\"] is False and d[\"palette\"]==[] and d[\"reason\"][\"zh\"], d'"
check "an unknown relic is still 404" "[ \$(curl -s -o /dev/null -w '%{http_code}' '$api/relics/no-such-relic/palette') = 404 ]"
check "bad limit is 400" "[ \$(curl -s -o /dev/null -w '%{http_code}' '$api/relics/$vid/similar?limit=0') = 400 ]"
up=$(curl -s -X POST -H 'Content-Type: image/tiff' --data-binary @"$tmp/s/S5-xiyuan-0001/main.tif" "$api/similar?limit=3")
check "an uploaded image gets similar works and attribution suggestions" "echo '$up' | $py -c '
import json,sys; d=json.load(sys.stdin)
assert len(d[\"items\"])==3 and d[\"attribution\"][\"school\"][\"labels\"][0][\"p\"]>0 and \"note\" in d'"
reg=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"image_id":"S5-yanyu-0001","region":"0,0,200,150","limit":2}' "$api/similar")
check "an image region gets similar works" "echo '$reg' | $py -c 'import json,sys; d=json.load(sys.stdin); assert len(d[\"items\"])==2'"
check "a region outside the image is 400" "[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d '{\"image_id\":\"S5-yanyu-0001\",\"region\":\"90000,0,200,150\"}' '$api/similar') = 400 ]"
check "garbage uploads are 400" "[ \$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: image/jpeg' --data-binary 'not an image at all' '$api/similar') = 400 ]"
check "no relic but the patched one changed" "[ \$(sqlite3 '$tmp/d/catalog.sqlite' \"SELECT count(*) FROM relics WHERE version > 1\") -eq 1 ]"
# Colour search: combinable with text and facets; palettes of relic pages.
cs=$(curl -s "$api/relics?colour=shiqing&limit=100&facets=1")
check "colour=石青 finds blue-green (jinbi) works" "echo '$cs' | $py -c '
import json,sys; d=json.load(sys.stdin); acc=[i[\"accession\"] for i in d[\"items\"]]
assert d[\"total\"]>=2 and sum(\"jinbi\" in a for a in acc)>=2, acc
assert \"facets\" in d'"
cz=$(curl -s "$api/relics?colour=%E7%9F%B3%E9%9D%92&limit=100")
check "the Chinese name gives the same answer" "[ \"\$(echo '$cs' | $py -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])')\" = \"\$(echo '$cz' | $py -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])')\" ]"
check "colour with text narrows the text's matches" "[ \$(curl -s \"$api/relics?colour=shiqing&q=%E4%BA%91%E5%B1%B1%E6%B4%BE&limit=100\" | $py -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])') -le \$(curl -s \"$api/relics?q=%E4%BA%91%E5%B1%B1%E6%B4%BE&limit=100\" | $py -c 'import json,sys; print(json.load(sys.stdin)[\"total\"])') ]"
check "kaishu calligraphy has no cinnabar wash" "! curl -s '$api/relics?colour=zhusha&limit=100' | grep -q 'kaishu'"
check "an unknown colour is 400" "[ \$(curl -s -o /dev/null -w '%{http_code}' '$api/relics?colour=purple') = 400 ]"
check "a picked hex colour works" "[ \$(curl -s -o /dev/null -w '%{http_code}' '$api/relics?colour=%23507da1') = 200 ]"
pal=$(curl -s "$api/relics/$vid/palette")
check "a relic's palette has swatches, the support first" "echo '$pal' | $py -c '
import json,sys; d=json.load(sys.stdin); p=d[\"palette\"]
assert p[0][\"name\"]==\"paper\" and all(x[\"hex\"].startswith(\"#\") for x in p) and abs(sum(x[\"share\"] for x in p)-1)<0.01'"

kill $spid 2>/dev/null
wait $spid 2>/dev/null

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
