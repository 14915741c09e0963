#!/usr/bin/python3
"""teach_eval.py DIR_SEED_A DIR_SEED_B [--latency LINE]: the composition overlays against truth.

For every work of each generated collection (with truth), independently of the C code:
- seals: each seal region must hold cinnabar in truth/pigment_map.png (the seal paste), and
  the regions must cover the cinnabar of the seals the metadata lists (count per work);
- birds: every perch of truth.json birds_px inside the picture lies in a bird region;
- inscriptions and colophons: one region per inscription of the metadata, each holding ink
  (truth/ink_density.png);
- masses and distances: the host mountain region holds dense ink (mountain wash), the high
  distance contains the host; regions stay inside the canvas.
Prints a Markdown table (per seed) to stdout.
"""
import json, os, sys
import numpy as np
import cv2

CINNABAR = 3  # dq_paint_materials order: none, ink, lead white, cinnabar, ...


def load(path):
    im = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if im is None:
        raise SystemExit(f"cannot read {path}")
    return im


def frac(mask, box, k):
    x, y, w, h = [int(round(v / k)) for v in box]
    sub = mask[max(0, y):y + max(1, h), max(0, x):x + max(1, w)]
    return float(sub.mean()) if sub.size else 0.0


def evaluate(seed_dir):
    """Every work painted under seed_dir (one collection per subdirectory, or one collection)."""
    roots = [seed_dir] if os.path.exists(os.path.join(seed_dir, "metadata.jsonl")) else \
        sorted(os.path.join(seed_dir, d) for d in os.listdir(seed_dir) if os.path.exists(os.path.join(seed_dir, d, "metadata.jsonl")))
    total = None
    for root in roots:
        a = evaluate_one(root)
        total = a if total is None else {k: total[k] + a[k] for k in total}
    return total


def evaluate_one(root):
    meta = {json.loads(l)["accession"]: json.loads(l) for l in open(os.path.join(root, "metadata.jsonl"))}
    agg = dict(seals=0, seals_ok=0, seals_meta=0, perches=0, perches_in=0, insc=0, insc_meta=0, insc_ink=0,
               host=0, host_ink=0, high_has_host=0, high_cases=0, inside=0, regions=0)
    for w in sorted(meta):
        comp = json.load(open(os.path.join(root, w, "composition.json")))
        truth = json.load(open(os.path.join(root, w, "truth", "truth.json")))
        k = truth.get("downsample", 1)
        pm = load(os.path.join(root, w, "truth", "pigment_map.png"))
        ink = load(os.path.join(root, w, "truth", "ink_density.png")).astype(np.float32) / 255.0
        cin = (pm == CINNABAR).astype(np.float32)
        W, H = comp["width"], comp["height"]
        regs = comp["regions"]
        agg["regions"] += len(regs)
        agg["inside"] += sum(r["xywh"][0] >= 0 and r["xywh"][1] >= 0 and r["xywh"][0] + r["xywh"][2] <= W
                             and r["xywh"][1] + r["xywh"][3] <= H for r in regs)
        seals = [r for r in regs if r["glossary"] == "seal"]
        agg["seals"] += len(seals)
        agg["seals_meta"] += len(meta[w].get("seals", []))
        agg["seals_ok"] += sum(frac(cin, r["xywh"], k) > 0.2 for r in seals)
        ins = [r for r in regs if r["glossary"] in ("inscription", "colophon")]
        agg["insc"] += len(ins)
        agg["insc_meta"] += len(meta[w].get("inscriptions", []))
        agg["insc_ink"] += sum(frac((ink > 0.3).astype(np.float32), r["xywh"], k) > 0.02 for r in ins)
        birds = [r for r in regs if r["glossary"] == "bird-and-flower"]
        for x, y in truth.get("birds_px", []):
            X, Y = x * k, y * k
            if 0 <= X < W and 0 <= Y < H:
                agg["perches"] += 1
                agg["perches_in"] += any(b["xywh"][0] - 2 <= X <= b["xywh"][0] + b["xywh"][2] + 2 and
                                         b["xywh"][1] - 2 <= Y <= b["xywh"][1] + b["xywh"][3] + 2 for b in birds)
        host = [r for r in regs if r["kind"] == "mass" and r["text"]["en"].startswith("The host")]
        high = [r for r in regs if r["glossary"] == "high-distance"]
        for r in host:
            agg["host"] += 1
            agg["host_ink"] += frac((ink > 0.05).astype(np.float32), r["xywh"], k) > 0.15
            if high:
                agg["high_cases"] += 1
                hx, hy, hw, hh = high[0]["xywh"]
                x, y, ww, hh2 = r["xywh"]
                agg["high_has_host"] += hx <= x and hy <= y and x + ww <= hx + hw and y + hh2 <= hy + hh
    return agg


def main():
    args = sys.argv[1:]
    lat = ""
    if "--latency" in args:
        i = args.index("--latency")
        lat = args[i + 1] if i + 1 < len(args) else ""
        args = args[:i] + args[i + 2:]
    dirs = args
    print("# Teaching (issue 17): composition overlays vs ground truth, classroom latency\n")
    print("Overlays from `danqing generate --scale 0.25 --only` (works 0001, 0005-0012, 0015; composition.json) checked against the truth "
          "rasters with numpy/OpenCV (bench/science/teach_eval.py).\n")
    print("| seed | regions inside canvas | seal regions holding cinnabar | seal regions / seals in metadata "
          "| inscription regions / in metadata (with ink) | bird perches in a bird region | host mountain holds ink wash "
          "| high distance contains the host |")
    print("|---|---|---|---|---|---|---|---|")
    for d in dirs:
        a = evaluate(d)
        seed = os.path.basename(d.rstrip("/"))
        print(f"| {seed} | {a['inside']}/{a['regions']} | {a['seals_ok']}/{a['seals']} | {a['seals']}/{a['seals_meta']} "
              f"| {a['insc']}/{a['insc_meta']} ({a['insc_ink']}) | {a['perches_in']}/{a['perches']} "
              f"| {a['host_ink']}/{a['host']} | {a['high_has_host']}/{a['high_cases']} |")
    print()
    if lat:
        print(f"Classroom: {lat.strip()}\n")
    print("No peer implementation of composition analysis exists for these works; the truth rasters "
          "are the reference, read by an independent program.")


if __name__ == "__main__":
    main()
