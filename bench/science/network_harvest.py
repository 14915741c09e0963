#!/usr/bin/env python3
"""network_harvest.py TMPDIR: a danqing peer on loopback with 10,000 relics (sharing one
image, so each has a Manifest), harvested by a fresh catalog over IIIF Change Discovery with
`danqing harvest`: wall time and counts of the first run, then of a second run that must
change nothing; then the same over its OAI-PMH endpoint (LIDO, resumption tokens, from=)
into another fresh catalog. Prints a Markdown section (bench/science/network.sh)."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

BIN = os.environ["DQ_BIN"]
N = 10000


def sh(*args):
    return subprocess.run([BIN, *args], check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True).stdout


def main():
    tmp = sys.argv[1]
    peer, mine = os.path.join(tmp, "peer"), os.path.join(tmp, "mine")
    gen = os.path.join(tmp, "gen")
    sh("generate", "--out", gen, "--scale", "0.1", "--no-truth", "--quiet", "--only",
       "DQ-2026-0004", "--pigments", os.path.join(os.environ["DQ_ROOT"], "data-src/pigments"))
    sh("--data", peer, "ingest", os.path.join(gen, "DQ-2026-0004", "main.tif"), "--id", "img")
    path = os.path.join(tmp, "peer.jsonl")
    dyn = ["song", "tang", "ming", "qing", "yuan"]
    with open(path, "w") as f:
        for i in range(N):
            f.write(json.dumps({
                "id": f"h-{i:05d}", "accession": f"H-{i:05d}",
                "title": {"zh": f"山水 {i}", "en": f"Landscape {i}"},
                "creators": [{"name": {"zh": f"画家{i % 50}", "en": f"Painter {i % 50}"}}],
                "dynasty": dyn[i % 5], "object_type": "hanging_scroll",
                "year_from": 1000 + i % 700, "year_to": 1000 + i % 700,
                "rights": "http://creativecommons.org/publicdomain/zero/1.0/",
                "images": [{"image_id": "img"}]}, ensure_ascii=False) + "\n")
    sh("--data", peer, "import", path)
    srv = subprocess.Popen([BIN, "serve", "--data", peer, "--listen", "127.0.0.1:0",
                            "--log-level", "2"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(srv.stdout.readline().rsplit(":", 1)[1].strip().rstrip("/"))
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/iiif/discovery/changes") as r:
            coll = json.load(r)
        pages = int(coll["last"]["id"].rsplit("/", 1)[1]) + 1
        rows = []
        for run in (1, 2):
            t0 = time.monotonic()
            out = subprocess.run([BIN, "--data", mine, "harvest",
                                  base + "/iiif/discovery/changes"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True).stdout.strip()
            rows.append((run, time.monotonic() - t0, out.splitlines()[-1] if out else ""))
        oai_rows = []
        for run in (1, 2):
            t0 = time.monotonic()
            out = subprocess.run([BIN, "--data", mine + "-oai", "harvest", base + "/oai"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True).stdout.strip()
            oai_rows.append((run, time.monotonic() - t0, out.splitlines()[-1] if out else ""))
    finally:
        srv.terminate()
        srv.wait()
    print()
    print(f"Harvest of {N:,} records from a danqing peer on loopback (IIIF Change Discovery, "
          f"{coll['totalItems']:,} activities in {pages} pages; release build, 2 cores shared):")
    print()
    print("| run | wall s | danqing harvest says |")
    print("| ---: | ---: | --- |")
    for run, secs, line in rows:
        print(f"| {run} | {secs:.1f} | {line} |")
    second = rows[1][2]
    ok = re.search(r" 0 inserted, 0 updated, .* 0 deleted, 0 failed", second)
    print()
    print(f"Second run changes nothing: {'yes' if ok else 'NO'}")
    print()
    print(f"The same {N:,} records from the peer's OAI-PMH endpoint (ListRecords in LIDO, 100 "
          f"records a page by resumption tokens; the second run asks from= the first run's "
          f"responseDate):")
    print()
    print("| run | wall s | danqing harvest says |")
    print("| ---: | ---: | --- |")
    for run, secs, line in oai_rows:
        print(f"| {run} | {secs:.1f} | {line} |")
    ok = re.search(r" 0 inserted, 0 updated, .* 0 deleted, 0 failed", oai_rows[1][2])
    print()
    print(f"Second OAI-PMH run changes nothing: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
