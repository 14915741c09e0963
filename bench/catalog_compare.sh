#!/bin/sh
# catalog_compare.sh: checks that two builds of danqing answer searches identically (items,
# order, totals, facets, snippets and cursors) on the same generated catalog. BEFORE is the
# repository root of the old build (e.g. made with `git worktree add /tmp/before <commit>` and
# `make build/rel/libdanqing.a build/danqing` there); this tree is the new one. The catalog is
# imported once by the old build (so the new build must read an existing catalog, migrations
# included), dumped by bench/catalog_dump.c linked against each libdanqing.a, and diffed.
# Usage: bench/catalog_compare.sh BEFORE_DIR [N]   (N records, default 100000)
set -eu
BEFORE=$1
N=${2:-100000}
WORK=${WORK:-build/bench-compare}
# the build's own package list and link line, as make expands them (PKGS spans two lines)
PKGS=$({ make -pnq -f Makefile nothing 2> /dev/null || true; } | sed -n 's/^PKGS := //p')
LIBS=$({ make -pnq -f Makefile nothing 2> /dev/null || true; } | sed -n 's/^LIBS := //p')
make --no-print-directory build/danqing build/rel/libdanqing.a >/dev/null
mkdir -p "$WORK"
for side in before after; do
    root=$([ $side = before ] && echo "$BEFORE" || echo .)
    cc -O2 -std=c11 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -I"$root/src" \
        $(pkg-config --cflags $PKGS) -o "$WORK/dump_$side" bench/catalog_dump.c \
        "$root/build/rel/libdanqing.a" $LIBS
done
if [ ! -f "$WORK/data/catalog.sqlite" ] || [ "$(cat "$WORK/n" 2>/dev/null)" != "$N" ]; then
    cc -O2 -std=c11 -Wall -Wextra -Werror -o "$WORK/gen_relics" bench/gen_relics.c
    "$WORK/gen_relics" "$N" >"$WORK/relics.jsonl"
    rm -rf "$WORK/data" "$WORK/data-after"
    "$BEFORE/build/danqing" --data "$WORK/data" import "$WORK/relics.jsonl" >/dev/null
    echo "$N" >"$WORK/n"
fi
# Each side works on its own copy: the new build may migrate the catalog.
rm -rf "$WORK/data-before" "$WORK/data-after"
cp -r "$WORK/data" "$WORK/data-before"
cp -r "$WORK/data" "$WORK/data-after"
"$WORK/dump_before" "$WORK/data-before" >"$WORK/before.txt"
"$WORK/dump_after" "$WORK/data-after" >"$WORK/after.txt"
lines=$(wc -l <"$WORK/before.txt")
if cmp -s "$WORK/before.txt" "$WORK/after.txt"; then
    echo "identical: $lines responses ($N records)"
else
    diff "$WORK/before.txt" "$WORK/after.txt" | cut -c1-300 | head -20
    echo "DIFFERENT: $(diff "$WORK/before.txt" "$WORK/after.txt" | grep -c '^<') of $lines responses differ"
    exit 1
fi
