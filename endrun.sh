#!/bin/bash
# the quiet-machine measurements at the end of the session (lead), then make check
cd /work/main
date; uptime
if [ -n "$SEARCH_DATA" ]; then
  DQ_BENCH_RELICS=500000 DQ_BENCH_RUNS=200 DQ_BENCH_SEARCH_DATA=$SEARCH_DATA bench/issue9.sh search > /tmp/end-search.log 2>&1
  date; uptime
fi
node bench/living.mjs 3 > /tmp/end-living.log 2>&1
date; uptime
make check > /tmp/end-check.log 2>&1
date; tail -3 /tmp/end-check.log
