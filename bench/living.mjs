// bench/living.mjs: the living painting's speed in headless Chromium with software GL
// (SwiftShader), as issue 14 measures it: frames per second at 1280x720 for a still pointer
// with the animation on (mist, leaves, water) and for the handscroll walk, and the time from
// pressing "Enter the painting" on the relic page to the first frame. Builds its own small
// data directory (generate --only, ingest, import, scene import of the generator's truth).
// Usage: node bench/living.mjs [runs=3]   (needs build/danqing and build/web: make);
// DQ_BENCH_WEB=DIR serves another build of the front end (a before/after comparison);
// DQ_BENCH_SCALE=1 fixes the render scale of the frame rows (?scale= of the living page).
// Prints a Markdown table; DQ_BENCH_JSON=1 prints JSON lines instead.
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'build/danqing');
const RUNS = Number(process.argv[2] || 3);
const WORKS = ['DQ-2026-0001', 'DQ-2026-0005'];
const SCALE = process.env.DQ_BENCH_SCALE || ''; // a fixed render scale for the frame rows
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

// The data directory is kept in build/living-bench/ (reused while the binary is unchanged):
// painting the handscroll takes minutes on two cores.
function prepare() {
  const work = path.join(ROOT, 'build/living-bench');
  const stamp = path.join(work, 'stamp'), want = String(fs.statSync(BIN).mtimeMs);
  const gen = path.join(work, 'gen'), data = path.join(work, 'data');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return { data };
  fs.rmSync(work, { recursive: true, force: true });
  const records = [];
  for (const w of WORKS) {
    sh(BIN, ['generate', '--out', path.join(gen, w), '--only', w, '--quiet']);
    records.push(fs.readFileSync(path.join(gen, w, 'metadata.jsonl'), 'utf8').trim());
    sh(BIN, ['ingest', path.join(gen, w, w, 'main.tif'), '--id', w, '--data', data, '--log-level', '3']);
  }
  fs.writeFileSync(path.join(gen, 'metadata.jsonl'), records.join('\n') + '\n');
  sh(BIN, ['--data', data, 'import', path.join(gen, 'metadata.jsonl')]);
  for (const w of WORKS) sh(BIN, ['--data', data, 'scene', 'import', w, path.join(gen, w, w, 'truth/scene')]);
  fs.writeFileSync(stamp, want);
  return { data };
}

function serve(data) {
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--web', process.env.DQ_BENCH_WEB || path.join(ROOT, 'build/web'), '--log-level', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    p.stdout.on('data', (d) => { buf += d; const m = /listening on (http:\/\/[^\s]+?)\/?\s/.exec(buf); if (m) resolve({ p, url: m[1] }); });
    p.on('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
}

// CPU seconds (user + system) of the Chromium processes under pid: the browser's work per
// frame, which a loaded machine stretches in wall time but barely changes.
function treeCpu(pid) {
  const hz = 100;
  const kids = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = fs.readFileSync(`/proc/${d}/stat`, 'utf8'), f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      kids.set(Number(d), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / hz });
    } catch { /* gone */ }
  }
  let sum = 0;
  const comm = (p) => { try { return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim(); } catch { return ''; } };
  const walk = (p, inside) => {
    const k = kids.get(p);
    if (k && inside) sum += k.cpu;
    for (const [c, v] of kids) if (v.ppid === p) walk(c, inside || /^(chrom|headless)/.test(comm(c)));
  };
  walk(pid, false);
  return sum;
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[s.length >> 1] : NaN; };

async function main() {
  const { data } = prepare();
  const { p, url } = await serve(data);
  const ids = Object.fromEntries((await (await fetch(`${url}/api/relics?limit=10`)).json()).items.map((i) => [i.accession, i.id]));
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const rows = { first: [], layers: [], still: [], cpu: [], walk: [], walkCpu: [], scale: [] };
  const bpid = process.pid; // the browser is our child; the server's share is left out below
  try {
    for (let run = 0; run < RUNS; run++) {
      // A fresh context each run: nothing cached but what the server caches.
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'en-US' });
      const page = await ctx.newPage();
      page.on('pageerror', (e) => console.error('page error:', e.message));
      await page.goto(`${url}/relic/${encodeURIComponent(ids['DQ-2026-0005'])}`);
      await page.waitForSelector('a[data-living-enter]');
      await page.click('a[data-living-enter]');
      await page.waitForSelector('[data-living="on"][data-ready="1"]', { timeout: 120000 });
      rows.first.push(await page.evaluate(() => window.__dqLiving.firstFrameMs));
      rows.layers.push(await page.evaluate(() => window.__dqLiving.layersMs ?? window.__dqLiving.firstFrameMs));
      await page.waitForFunction(() => window.__dqLiving.engine.scaleSettled !== false, null, { timeout: 120000 });
      if (SCALE) {
        await page.goto(`${url}/living/${encodeURIComponent(ids['DQ-2026-0005'])}?scale=${SCALE}`);
        await page.waitForSelector('[data-living="on"][data-ready="1"]', { timeout: 120000 });
      }
      const c0 = treeCpu(bpid), s0 = await page.evaluate(() => window.__dqLiving.stats.frames);
      const still = await page.evaluate(async () => {
        const L = window.__dqLiving, f0 = L.stats.frames, t0 = performance.now();
        await new Promise((r) => setTimeout(r, 3000));
        return { fps: (L.stats.frames - f0) / ((performance.now() - t0) / 1000), scale: L.engine.renderScale ?? 1 };
      });
      rows.still.push(still.fps);
      rows.cpu.push((1000 * (treeCpu(bpid) - c0)) / Math.max(1, (await page.evaluate(() => window.__dqLiving.stats.frames)) - s0));
      rows.scale.push(still.scale);
      await page.goto(`${url}/living/${encodeURIComponent(ids['DQ-2026-0001'])}${SCALE ? `?scale=${SCALE}` : ''}`);
      await page.waitForSelector('[data-living="on"][data-ready="1"]', { timeout: 120000 });
      await page.waitForFunction(() => window.__dqLiving.engine.scaleSettled !== false, null, { timeout: 120000 });
      await page.click('button[data-walk]');
      const w0 = treeCpu(bpid), wf0 = await page.evaluate(() => window.__dqLiving.stats.frames);
      rows.walk.push(await page.evaluate(async () => {
        const L = window.__dqLiving, f0 = L.stats.frames, t0 = performance.now();
        await new Promise((r) => setTimeout(r, 3000));
        return (L.stats.frames - f0) / ((performance.now() - t0) / 1000);
      }));
      rows.walkCpu.push((1000 * (treeCpu(bpid) - w0)) / Math.max(1, (await page.evaluate(() => window.__dqLiving.stats.frames)) - wf0));
      await ctx.close();
    }
  } finally {
    await browser.close();
    p.kill('SIGTERM');
  }
  const load = os.loadavg()[0].toFixed(1);
  if (process.env.DQ_BENCH_JSON) { console.log(JSON.stringify({ ...rows, load })); return; }
  console.log(`| measure (1280x720, SwiftShader, ${RUNS} runs, load ${load}) | median | runs |`);
  console.log('|---|---:|---|');
  console.log(`| first frame after "Enter the painting", ms | ${median(rows.first).toFixed(0)} | ${rows.first.map((x) => x.toFixed(0)).join(', ')} |`);
  console.log(`| layers in, scene moving, ms | ${median(rows.layers).toFixed(0)} | ${rows.layers.map((x) => x.toFixed(0)).join(', ')} |`);
  console.log(`| frames per second, still pointer, animation on (0005) | ${median(rows.still).toFixed(1)} | ${rows.still.map((x) => x.toFixed(1)).join(', ')} |`);
  console.log(`| browser CPU per frame (all its processes), ms | ${median(rows.cpu).toFixed(0)} | ${rows.cpu.map((x) => x.toFixed(0)).join(', ')} |`);
  console.log(`| render scale chosen | ${median(rows.scale).toFixed(2)} | ${rows.scale.map((x) => x.toFixed(2)).join(', ')} |`);
  console.log(`| frames per second, handscroll walk (0001) | ${median(rows.walk).toFixed(1)} | ${rows.walk.map((x) => x.toFixed(1)).join(', ')} |`);
  console.log(`| browser CPU per frame, walk (0001), ms | ${median(rows.walkCpu).toFixed(0)} | ${rows.walkCpu.map((x) => x.toFixed(0)).join(', ')} |`);
}
main().catch((e) => { console.error(e); process.exit(1); });
