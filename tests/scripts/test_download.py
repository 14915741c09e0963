#!/usr/bin/env python3
"""test_download.py (issue 16): GET /api/relics/{id}/download renders through the Image API
path and embeds the record's rights and credit. The files are read back with readers that are
not ours and not exiftool: the JPEG's APP1 XMP packet parsed with xml.etree, its APP13
IPTC-IIM datasets walked byte by byte, the pixel size from the SOF marker, and `vipsheader -a`
(libvips' own reader) for the TIFF. The rights and credit must equal the manifest's `rights`
and `requiredStatement` (one source of truth). Restricted relics answer 404 to anonymous
callers exactly as their IIIF images do; sizes beyond the served maximum answer 403."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dqhttp  # noqa: E402
import dqnet  # noqa: E402

NS = {"x": "adobe:ns:meta/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
      "dc": "http://purl.org/dc/elements/1.1/", "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
      "photoshop": "http://ns.adobe.com/photoshop/1.0/"}
XMP_SIG = b"http://ns.adobe.com/xap/1.0/\x00"


def jpeg_segments(b):
    """[(marker, payload)] up to the start of scan, and the SOF's (width, height)."""
    assert b[:2] == b"\xff\xd8", "not a JPEG"
    i, segs, size = 2, [], None
    while i + 4 <= len(b):
        if b[i] != 0xFF:
            raise ValueError(f"bad marker at {i}")
        m = b[i + 1]
        n = struct.unpack(">H", b[i + 2:i + 4])[0]
        payload = b[i + 4:i + 2 + n]
        segs.append((m, payload))
        if m in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", payload[1:5])
            size = (w, h)
        if m == 0xDA:
            break
        i += 2 + n
    return segs, size


def iim_datasets(app13):
    """{(record, dataset): [bytes]} from a Photoshop 3.0 APP13 payload (8BIM 0x0404)."""
    assert app13.startswith(b"Photoshop 3.0\x00")
    i, out = 14, {}
    while i + 12 <= len(app13) and app13[i:i + 4] == b"8BIM":
        rid = struct.unpack(">H", app13[i + 4:i + 6])[0]
        nlen = app13[i + 6]
        j = i + 6 + ((1 + nlen + 1) & ~1)  # the Pascal name, padded to even length
        size = struct.unpack(">I", app13[j:j + 4])[0]
        data = app13[j + 4:j + 4 + size]
        if rid == 0x0404:
            k = 0
            while k + 5 <= len(data) and data[k] == 0x1C:
                rec, ds, n = data[k + 1], data[k + 2], struct.unpack(">H", data[k + 3:k + 5])[0]
                out.setdefault((rec, ds), []).append(data[k + 5:k + 5 + n])
                k += 5 + n
        i = j + 4 + size + (size & 1)
    return out


def xmp_fields(packet):
    root = ET.fromstring(packet[packet.index(b"<x:xmpmeta"):packet.index(b"</x:xmpmeta>") + 12])
    d = root.find(".//rdf:Description", NS)
    alt = lambda p: [li.text for li in d.findall(f"{p}/rdf:Alt/rdf:li", NS)]  # noqa: E731
    return {
        "title": alt("dc:title"),
        "creator": [li.text for li in d.findall("dc:creator/rdf:Seq/rdf:li", NS)],
        "rights": alt("dc:rights"),
        "terms": alt("xmpRights:UsageTerms"),
        "web": d.findtext("xmpRights:WebStatement", None, NS),
        "marked": d.findtext("xmpRights:Marked", None, NS),
        "credit": d.findtext("photoshop:Credit", None, NS),
        "identifier": d.findtext("dc:identifier", None, NS),
    }


def main():
    c = dqnet.Counter()
    with dqnet.Catalog() as cat:
        port = int(cat.base.rsplit(":", 1)[1])
        get = lambda p: dqhttp.request(port, "GET", p, timeout=120)  # noqa: E731
        rid = "dq-2026-0001"  # a handscroll, 2,400 x 200 at this scale
        _, _, body = get(f"/api/relics/{rid}")
        rec = json.loads(body)
        _, _, mb = get(f"/iiif/presentation/3/{rid}/manifest")
        man = json.loads(mb)
        iid = rec["images"][0]["image_id"]
        _, _, ib = get(f"/iiif/3/{iid}/info.json")
        info = json.loads(ib)

        # The whole image at its full size (max), JPEG by default.
        t0 = time.monotonic()
        st, h, jpg = get(f"/api/relics/{rid}/download")
        dt = time.monotonic() - t0
        c.check(st == 200 and h.get("content-type") == "image/jpeg", f"download 200 image/jpeg ({st})")
        segs, size = jpeg_segments(jpg)
        print(f"  whole image {size}: {len(jpg)} bytes in {dt * 1000:.0f} ms")
        c.check(size == (info["width"], info["height"]), f"full size {size}")
        c.check(rec["accession"] in h.get("content-disposition", "") and "attachment" in h.get("content-disposition", ""),
                f"Content-Disposition names the record: {h.get('content-disposition')}")
        c.check(f"<{man['rights']}>" in h.get("link", ""), "Link rel=license is the manifest's rights")
        xmps = [p[len(XMP_SIG):] for m, p in segs if m == 0xE1 and p.startswith(XMP_SIG)]
        c.check(len(xmps) == 1, "one XMP packet in APP1")
        x = xmp_fields(xmps[0]) if xmps else {}
        credit = man["requiredStatement"]["value"]["en"][0]
        c.check(x.get("web") == man["rights"], f"xmpRights:WebStatement = manifest rights ({x.get('web')})")
        c.check(x.get("credit") == credit, f"photoshop:Credit = requiredStatement ({x.get('credit')})")
        c.check(any(man["rights"] in r for r in x.get("rights", [])), "dc:rights states the URI")
        c.check(any("CC0" in r for r in x.get("rights", [])), "dc:rights names CC0 for a CC0 record")
        c.check(x.get("marked") == "False", "xmpRights:Marked False for a public-domain work")
        c.check(rec["title"]["zh"] in x.get("title", []) and rec["title"]["en"] in x.get("title", []),
                "dc:title in zh and en")
        c.check(any(rec["creators"][0]["name"]["zh"] in n for n in x.get("creator", [])), "dc:creator")
        c.check(x.get("identifier") == rec["accession"], "dc:identifier is the accession")
        c.check(any(man["rights"] in t for t in x.get("terms", [])), "xmpRights:UsageTerms")
        app13 = [p for m, p in segs if m == 0xED]
        c.check(len(app13) == 1, "one IPTC APP13 segment")
        ds = iim_datasets(app13[0]) if app13 else {}
        c.check(ds.get((1, 90)) == [b"\x1b%G"], "IIM 1:90 declares UTF-8")
        c.check(ds.get((2, 110), [b""])[0].decode() == credit, "IIM 2:110 Credit")
        c.check(man["rights"] in ds.get((2, 116), [b""])[0].decode(), "IIM 2:116 Copyright Notice")
        c.check(ds.get((2, 5), [b""])[0].decode() == rec["title"]["zh"], "IIM 2:05 Object Name")
        c.check(ds.get((2, 80), [b""])[0].decode() == rec["creators"][0]["name"]["zh"], "IIM 2:80 By-line")

        # A region at a width: the region's pixels, scaled.
        st, h, reg = get(f"/api/relics/{rid}/download?region=100,20,400,100&width=200")
        c.check(st == 200, f"region download 200 ({st})")
        if st == 200:
            segs2, size2 = jpeg_segments(reg)
            c.check(size2 == (200, 50), f"region 400x100 at width 200 is 200x50 ({size2})")
            c.check(any(m == 0xE1 and p.startswith(XMP_SIG) for m, p in segs2), "the region has XMP too")
            c.check("200x50" in h.get("content-disposition", ""), "the file name gives the size")
        # The same region from the Image API: identical pixels budget, no metadata (stripped).
        st, _, plain = get(f"/iiif/3/{iid}/100,20,400,100/200,/0/default.jpg")
        segs3, _ = jpeg_segments(plain)
        c.check(st == 200 and not any(m in (0xE1, 0xED) for m, _ in segs3),
                "the IIIF tile path stays free of embedded metadata")

        # TIFF: read back by libvips' own header reader.
        st, h, tif = get(f"/api/relics/{rid}/download?width=300&format=tif")
        c.check(st == 200 and h.get("content-type") == "image/tiff", f"tif download ({st})")
        if st == 200 and shutil.which("vipsheader"):
            with tempfile.NamedTemporaryFile(suffix=".tif", dir=os.environ.get("TMPDIR")) as f:
                f.write(tif)
                f.flush()
                out = subprocess.run(["vipsheader", "-a", f.name], capture_output=True, text=True).stdout
            c.check("xmp-data" in out and "iptc-data" in out, "vipsheader finds xmp-data and iptc-data in the TIFF")
            c.check(b"<x:xmpmeta" in tif and man["rights"].encode() in tif,
                    "the TIFF's XMP packet states the rights")

        for q in ["width=abc", "format=gif", "region=0,0,0,0", "region=a/b", "image=nope",
                  "width=2401"]:  # 2401: an upscale, which the Image API refuses too (400)
            st, _, _ = get(f"/api/relics/{rid}/download?{q}")
            c.check(st in (400, 404), f"{q}: {st}")
        st, _, _ = get("/api/relics/no-such-relic/download")
        c.check(st == 404, "unknown relic 404")

        # A restricted relic with its own image, and a second server on the same catalog with a
        # served maximum below the image (started after the import: a server sees relic
        # visibility changes made by its own API, not by another process).
        gen = os.path.join(cat.tmp, "gen")
        data = os.path.join(cat.tmp, "data")
        dqnet.run("--data", data, "ingest", os.path.join(gen, "DQ-2026-0002", "main.tif"),
                  "--id", "hidden-img")
        path = os.path.join(cat.tmp, "hidden.jsonl")
        with open(path, "w") as f:
            f.write(json.dumps({"id": "r-hidden", "accession": "R-HIDDEN", "restricted": True,
                                "title": {"en": "Hidden"}, "object_type": "hanging_scroll",
                                "images": [{"image_id": "hidden-img", "role": "main"}]}) + "\n")
        dqnet.run("--data", data, "import", path)
        proc = subprocess.Popen([dqnet.BIN, "serve", "--data", data, "--listen", "127.0.0.1:0",
                                 "--log-level", "2", "--max-width", "1000"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            p2 = int(proc.stdout.readline().rsplit(":", 1)[1].strip().rstrip("/"))
            get2 = lambda p: dqhttp.request(p2, "GET", p, timeout=120)  # noqa: E731
            st_tile, _, _ = get2("/iiif/3/hidden-img/full/100,/0/default.jpg")
            st, _, _ = get2("/api/relics/r-hidden/download")
            # The Image API answers 401 (IIIF Authorization Flow 2.0: the probe tells a viewer
            # how to sign in) where it answered 404 before; the download, an API resource of a
            # relic the caller may not see, stays 404 like the relic itself. Neither gives pixels.
            c.check(st_tile in (401, 404) and st == 404, f"restricted: IIIF {st_tile}, download {st}")
            st, _, _ = get2(f"/api/relics/{rid}/download?image=hidden-img")
            c.check(st == 404, f"an image of another relic: {st}")
            st_iiif, _, _ = get2(f"/iiif/3/{iid}/full/1200,/0/default.jpg")
            st, _, _ = get2(f"/api/relics/{rid}/download?width=1200")
            c.check(st == 403 and st_iiif == 403, f"beyond --max-width: IIIF {st_iiif}, download {st}")
            st, _, body = get2(f"/api/relics/{rid}/download")
            c.check(st == 200 and jpeg_segments(body)[1] == (1000, 83),
                    f"the default is the largest the server allows: {jpeg_segments(body)[1] if st == 200 else st}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            proc.stdout.close()
    return c.summary()


if __name__ == "__main__":
    sys.exit(main())
