#!/usr/bin/env python3
"""test_manifests.py (issue 16): every IIIF Presentation 3.0 document danqing serves for the
sample collection (each relic's Manifest, the root Collection and its children) validated
against the JSON schema of the official IIIF presentation validator (IIIF/presentation-validator,
schema/iiif_3_0.json, Draft 7: what its v3 validator applies), printing valid / total; and the
handscroll Manifests checked for what third-party viewers need to open them at the right end:
`start` (a SpecificResource on the first Canvas, FragmentSelector xywh at the right edge) and
`structures` Ranges (frontispiece, painting, colophons) whose fragments lie inside their Canvas.

The schema is not in this repository: copy schema/iiif_3_0.json of
github.com/IIIF/presentation-validator (checked at fb5bd90) to .cache/iiif-presentation/ of
the repository root (git-ignored). Without it the schema validation is reported as NOT RUN
(and `make validate`, DQ_VALIDATE=1, fails); the start/structures checks run regardless."""
import json
import os
import re
import sys
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dqnet  # noqa: E402


def load_validator(c):
    path = os.path.join(dqnet.ROOT, ".cache", "iiif-presentation", "iiif_3_0.json")
    if not os.path.exists(path):
        print(f"  the IIIF presentation schema is missing: {path} (see this file's header)")
        if os.environ.get("DQ_VALIDATE") == "1":
            c.check(False, "IIIF presentation schema present")
        print("  NOT RUN: schema validation")
        return None, None
    from jsonschema import Draft7Validator
    with open(path) as f:
        v = Draft7Validator(json.load(f))
    # It must reject what is wrong, or a pass means nothing. (Its schema does not describe
    # `start`: the start checks below are ours.)
    bad = {"@context": "http://iiif.io/api/presentation/3/context.json", "id": "http://x/m",
           "type": "Manifest", "label": {"en": "x"}, "items": [{"type": "Canvas"}]}
    c.check(any(True for _ in v.iter_errors(bad)), "the schema rejects a bad manifest")
    # Its classes on their own (draft 7: a top-level $ref replaces the rest), for `start`.
    part = {k: Draft7Validator({**v.schema, "$ref": f"#/classes/{k}"})
            for k in ("specificResource", "range")}
    return v, part


def main():
    c = dqnet.Counter()
    v, part = load_validator(c)
    valid = total = 0
    with dqnet.Catalog() as cat:
        docs = []
        for rid in cat.relic_ids():
            try:
                _, _, b = cat.get(f"/iiif/presentation/3/{rid}/manifest")
            except Exception:  # a record without images has no manifest (404)
                continue
            docs.append(json.loads(b))
            if "continuous" in docs[-1].get("behavior", []):
                _, _, b = cat.get(f"/iiif/presentation/3/{rid}/manifest?view=sections")
                docs.append(json.loads(b))
        _, _, b = cat.get("/iiif/presentation/3/collection")
        root = json.loads(b)
        docs.append(root)
        for child in root.get("items", []):
            _, _, b = cat.get(child["id"][len(cat.base):])
            docs.append(json.loads(b))
        for d in docs:
            total += 1
            if v is None:
                continue
            errs = list(v.iter_errors(d))
            if errs:
                print(f"  invalid {d['id']}: {errs[0].message[:200]}")
            else:
                valid += 1
        if v is not None:
            print(f"manifests valid {valid}/{total} (IIIF presentation-validator schema, Draft 7)")
            c.check(valid == total and total > 16, f"every document is valid ({valid}/{total})")
            print(f"sections views valid {sum(1 for d in docs if d['id'].endswith('?view=sections') and not list(v.iter_errors(d)))}"
                  f"/{sum(1 for d in docs if d['id'].endswith('?view=sections'))}")

        scrolls = [d for d in docs if d.get("type") == "Manifest" and "continuous" in d.get("behavior", [])]
        c.check(len(scrolls) >= 3, f"handscroll manifests: {len(scrolls)}")
        for d in scrolls:
            first = d["items"][0]
            st = d.get("start", {})
            sel = st.get("selector", {})
            m = re.fullmatch(r"xywh=(\d+),(\d+),(\d+),(\d+)", sel.get("value", ""))
            ok = (st.get("type") == "SpecificResource" and st.get("source") == first["id"]
                  and sel.get("type") == "FragmentSelector" and m is not None
                  and int(m[1]) + int(m[3]) == first["width"] and int(m[4]) == first["height"]
                  and int(m[3]) < first["width"])
            c.check(ok, f"{d['id'].rsplit('/', 2)[1]}: start at the right end {sel.get('value')} "
                        f"of {first['width']}x{first['height']}")
            if v is not None:
                errs = [e.message for e in part["specificResource"].iter_errors(st)]
                errs += [e.message for r in d.get("structures", []) for e in part["range"].iter_errors(r)]
                c.check(not errs, f"  start and Ranges valid as the schema's classes {errs[:1]}")
            ranges = d.get("structures", [])
            keys = [r["id"].rsplit("/", 1)[1] for r in ranges]
            c.check(keys in (["frontispiece", "painting", "colophons"], ["painting", "colophons"],
                             ["frontispiece", "painting"]), f"  sections {keys}")
            canv = {cv["id"]: cv for cv in d["items"]}
            inside = True
            for r in ranges:
                for it in r["items"]:
                    cid, _, frag = it["id"].partition("#xywh=")
                    cv = canv.get(cid)
                    if cv is None:
                        inside = False
                        continue
                    if frag:
                        x, y, w, h = map(int, frag.split(","))
                        inside &= x >= 0 and y >= 0 and w > 0 and x + w <= cv["width"] and h <= cv["height"]
            c.check(inside, "  every Range item is a part of one of its Canvases")
        # The sections view (?view=sections): Canvases from the right end that tile the scroll
        # exactly, each painted by an Image API region of that part, start on the first.
        sects = {d["id"].split("?")[0]: d for d in docs if d.get("id", "").endswith("?view=sections")}
        c.check(len(sects) == len(scrolls), f"a sections view per handscroll ({len(sects)}/{len(scrolls)})")
        for d in scrolls:
            s = sects.get(d["id"])
            if s is None:
                continue
            key = d["id"].rsplit("/", 2)[1]
            body_re = re.compile(r".*/iiif/3/([^/]+)/(\d+),0,(\d+),(\d+)/(\d+),(\d+)/0/default\.jpg")
            cols = {}
            ok = s.get("viewingDirection") == "right-to-left" and s.get("behavior") == ["paged"]
            ok &= s.get("start") == {"id": s["items"][0]["id"], "type": "Canvas"}
            for cv in s["items"]:
                b = cv["items"][0]["items"][0]["body"]
                m = body_re.fullmatch(b["id"])
                ok &= m is not None and "service" not in b
                if m is None:
                    continue
                x, w, h = int(m[2]), int(m[3]), int(m[4])
                ok &= cv["width"] == w and cv["height"] == h and max(int(m[5]), int(m[6])) <= 4096
                cols.setdefault(m[1], []).append((x, w))
            # Each image: sections from its right end leftwards, adjacent, covering 0..width.
            for cv in d["items"]:
                iid = cv["items"][0]["items"][0]["body"]
                iid = (iid.get("items") or [iid])[0]["service"][0]["id"].rsplit("/", 1)[1]
                segs = cols.get(iid, [])
                ok &= bool(segs) and segs[0][0] + segs[0][1] == cv["width"] and segs[-1][0] == 0
                ok &= all(a[0] == b[0] + b[1] for a, b in zip(segs, segs[1:]))
            c.check(ok, f"{key}: sections view, {len(s['items'])} Canvases from the right end")
            keys = [r["id"].rsplit("/", 1)[1] for r in s.get("structures", [])]
            c.check(keys == [r["id"].rsplit("/", 1)[1] for r in d.get("structures", [])],
                    f"  its sections {keys} as the Manifest's")
        # Only handscrolls have a sections view; another view is a bad request.
        def status(path):
            try:
                return cat.get(path)[0]
            except urllib.error.HTTPError as e:
                return e.code
        other = next((d for d in docs if d.get("type") == "Manifest" and d not in scrolls
                      and "?" not in d["id"]), None)
        if other is not None:
            path = other["id"][len(cat.base):]
            c.check(status(path + "?view=sections") == 404, "no sections view of a non-handscroll (404)")
            c.check(status(path + "?view=pages") == 400, "an unknown view is a bad request (400)")
        others = [d for d in docs if d.get("type") == "Manifest" and d not in scrolls
                  and d["id"].split("?")[0] not in sects]
        c.check(all("start" not in d for d in others), "no start on other objects")
    return c.summary()


if __name__ == "__main__":
    sys.exit(main())
