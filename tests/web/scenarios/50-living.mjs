// 50-living.mjs: the living painting (issue 14) in headless Chromium with software GL
// (SwiftShader), in a browser of its own (h.launch({webgl: true})). Scene layers are made first
// with the real CLI on the shared catalog: `danqing scene estimate` for every landscape and the
// generator's truth (`danqing generate` + `danqing scene import`) for DQ-2026-0005. Then: the
// mode opens for every sample work and its frames advance; mist moves inside the mist mask and
// nothing moves outside the masks while the pointer rests; parallax follows the pointer;
// reduced motion stops the animation; without WebGL the page says so and keeps the viewer; the
// WebXR buttons explain themselves without navigator.xr and turn on with an injected one; a
// handscroll walks right to left; a curator's brush stroke saves a new version. Frame time at
// 1280x720 and the first frame after pressing the button are logged (measured, not asserted).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const LANDSCAPES = ['0001', '0002', '0003', '0004', '0005', '0006', '0007', '0008', '0012', '0013'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function ready(page) {
  // generous: software GL on a shared two-core machine takes seconds to compile and upload
  await page.waitForSelector('[data-living="on"][data-ready="1"], [data-living="fallback"]', { timeout: 90000 });
  // and the render scale chosen (it changes the drawing buffer's size in the first seconds)
  await page.waitForFunction(() => !window.__dqLiving || !window.__dqLiving.engine.uniforms.uAnim.value || window.__dqLiving.engine.scaleSettled, null, { timeout: 90000 });
}

// Pixels that change between two frames, split by what the masks say lies under them.
async function motion(page, waitMs) {
  return page.evaluate(async (ms) => {
    const L = window.__dqLiving;
    const m = L.maskPixels(), a = L.readPixels();
    await new Promise((r) => setTimeout(r, ms));
    const b = L.readPixels();
    const out = { mist: 0, other: 0, outside: 0, nMist: 0, frames: L.stats.frames };
    for (let i = 0; i < a.data.length; i += 4) {
      const mi = m.data[i] > 127, any = mi || m.data[i + 1] > 127 || m.data[i + 2] > 127;
      if (mi) out.nMist++;
      if (a.data[i] === b.data[i] && a.data[i + 1] === b.data[i + 1] && a.data[i + 2] === b.data[i + 2]) continue;
      if (mi) out.mist++; else if (any) out.other++; else out.outside++;
    }
    return out;
  }, waitMs);
}

export default async function (h) {
  const scene = (...a) => h.sh(h.BIN, ['--data', h.data, 'scene', ...a]);
  await h.test('living: scene layers made with the CLI (estimate x10, truth for 0005)', async () => {
    // one estimate per CPU at a time: each is a single-threaded process writing its own rows
    const todo = [...LANDSCAPES];
    const lane = async () => {
      for (let w = todo.shift(); w; w = todo.shift()) {
        await new Promise((resolve, reject) => execFile(h.BIN, ['--data', h.data, 'scene', 'estimate', `DQ-2026-${w}`, '--note', 'web test'],
          (err, out, errOut) => (err ? reject(new Error(`scene estimate DQ-2026-${w}: ${errOut || err.message}`)) : resolve(out))));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(4, os.cpus().length)) }, lane));
    const tdir = path.join(h.GEN, 'living-truth');
    if (!fs.existsSync(path.join(tdir, 'DQ-2026-0005/truth/scene/depth.png'))) {
      h.sh(h.BIN, ['generate', '--out', tdir, '--only', 'DQ-2026-0005', '--quiet', '--scale', process.env.DQ_WEB_SCALE || '1']);
    }
    const set = JSON.parse(scene('import', 'DQ-2026-0005', path.join(tdir, 'DQ-2026-0005/truth/scene')));
    h.expect(set.source === 'truth' && set.layers.length === 6, 'truth imported');
  });

  const browser = await h.launch({ webgl: true });
  try {
    const R = (acc) => h.ids[acc].id;

    await h.test('living: opens for every sample work, frames advance', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      const bad = [];
      for (const acc of Object.keys(h.ids).filter((a) => /^DQ-2026-00(0\d|1[0-6])$/.test(a)).sort()) {
        await page.goto(`${h.base}/living/${encodeURIComponent(R(acc))}`);
        await ready(page);
        const on = await page.$('[data-living="on"]');
        if (!on) { bad.push(`${acc}: fallback`); continue; }
        const f1 = await page.evaluate(() => window.__dqLiving.stats.frames);
        await page.waitForFunction((f) => window.__dqLiving.stats.frames > f + 1, f1, { timeout: 30000 }).catch(() => bad.push(`${acc}: frames stuck at ${f1}`));
      }
      h.expect(bad.length === 0, bad.join('; '));
      await page.context().close();
    });

    await h.test('living: mist moves inside the mist mask, nothing outside the masks (still pointer)', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await page.goto(`${h.base}/living/${encodeURIComponent(R('DQ-2026-0005'))}`);
      await ready(page);
      await sleep(300);
      const m = await motion(page, 1000);
      h.log(`        motion: ${m.mist} px in mist (of ${m.nMist}), ${m.other} in foliage/water, ${m.outside} outside`);
      h.expect(m.nMist > 1000, `mist mask on screen: ${m.nMist} px`);
      h.expect(m.mist > 50, `mist moved: ${m.mist} px`);
      h.expect(m.outside === 0, `${m.outside} px moved outside the masks`);
      await h.shot(page, 'living-0005');
      await page.context().close();
    });

    await h.test('living: parallax follows the pointer', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await page.goto(`${h.base}/living/${encodeURIComponent(R('DQ-2026-0002'))}`);
      await ready(page);
      const box = await (await page.$('canvas.living-canvas')).boundingBox();
      const at = async (fx) => {
        await page.mouse.move(box.x + box.width * fx, box.y + box.height / 2);
        await page.waitForFunction((want) => Math.abs(window.__dqLiving.engine.uniforms.uParallax.value.x - want) < 0.02, fx * 2 - 1, { timeout: 30000 });
        return page.evaluate(() => { const p = window.__dqLiving.readPixels(); return Array.from(p.data.filter((_, i) => i % 4 === 1)); });
      };
      const left = await at(0.05), right = await at(0.95);
      let diff = 0;
      for (let i = 0; i < left.length; i++) if (Math.abs(left[i] - right[i]) > 8) diff++;
      h.log(`        parallax: ${diff} px differ between pointer left and right`);
      h.expect(diff > 500, `the picture moved with the pointer: ${diff} px`);
      await page.context().close();
    });

    await h.test('living: prefers-reduced-motion stops the animation', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await page.emulateMedia({ reducedMotion: 'reduce' });
      await page.goto(`${h.base}/living/${encodeURIComponent(R('DQ-2026-0005'))}`);
      await ready(page);
      await sleep(500);
      const m = await motion(page, 800);
      const f2 = await page.evaluate(() => window.__dqLiving.stats.frames);
      h.expect(m.mist + m.other + m.outside === 0, `pixels changed: ${JSON.stringify(m)}`);
      h.expect(f2 - m.frames <= 1, `frames kept coming: ${m.frames} -> ${f2}`);
      h.expect(await page.isVisible('text=Reduced motion is on'), 'the page says so');
      await page.context().close();
    });

    await h.test('living: without WebGL the page says so and keeps the viewer', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await page.addInitScript(() => {
        const orig = HTMLCanvasElement.prototype.getContext;
        HTMLCanvasElement.prototype.getContext = function (kind, ...a) { return /webgl/.test(kind) ? null : orig.call(this, kind, ...a); };
      });
      await page.goto(`${h.base}/living/${encodeURIComponent(R('DQ-2026-0001'))}`);
      await page.waitForSelector('[data-living="fallback"]', { timeout: 60000 });
      h.expect(await page.isVisible('text=offers no WebGL2'), 'explained');
      await page.waitForSelector('.openseadragon-container', { timeout: 20000 });
      await page.context().close();
    });

    await h.test('living: WebXR buttons explain why without navigator.xr, work with an emulated one', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await page.addInitScript(() => { Object.defineProperty(Navigator.prototype, 'xr', { get: () => undefined, configurable: true }); });
      await page.goto(`${h.base}/living/${encodeURIComponent(R('DQ-2026-0012'))}`);
      await ready(page);
      for (const mode of ['immersive-vr', 'immersive-ar']) {
        const b = await page.$(`button[data-xr="${mode}"]`);
        h.expect(await b.isDisabled(), `${mode} disabled without navigator.xr`);
        const why = await page.textContent(`#why-${mode}`);
        h.expect(/WebXR/.test(why), `${mode} says why: ${why}`);
      }
      await page.context().close();
      // An injected WebXR emulation: both modes supported; the session request is recorded and
      // refused (no headset), which the page must report instead of failing silently.
      const p2 = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await p2.addInitScript(() => {
        const xr = {
          asked: [],
          isSessionSupported: async (mode) => mode === 'immersive-vr' || mode === 'immersive-ar',
          requestSession: async (mode) => { xr.asked.push(mode); throw new DOMException('emulated: no headset attached', 'NotSupportedError'); },
          addEventListener() {}, removeEventListener() {},
        };
        Object.defineProperty(Navigator.prototype, 'xr', { get: () => xr, configurable: true });
      });
      await p2.goto(`${h.base}/living/${encodeURIComponent(R('DQ-2026-0012'))}`);
      await ready(p2);
      for (const mode of ['immersive-vr', 'immersive-ar']) {
        const b = await p2.$(`button[data-xr="${mode}"]`);
        h.expect(!(await b.isDisabled()), `${mode} enabled with navigator.xr`);
        await b.click();
        await p2.waitForFunction((m) => navigator.xr.asked.includes(m), mode, { timeout: 5000 });
      }
      await p2.waitForSelector('text=Could not start', { timeout: 5000 });
      await p2.context().close();
    });

    await h.test('living: AR hangs the work flat on a wall that a hit test found, upright, never on a floor', async () => {
      const page = await h.newPage(browser, h.base, { width: 800, height: 600, lang: 'en-US' });
      await page.goto(`${h.base}/`);
      const r = await page.evaluate(async () => {
        const THREE = await import('/static/vendor/three/three.module.js');
        const { wallPlacement } = await import('/static/js/living-gl.js');
        // where the work's face normal (+Z) and its top (+Y) point after the placement
        const axes = (pl) => {
          const q = new THREE.Quaternion().fromArray(pl.quaternion);
          return { face: new THREE.Vector3(0, 0, 1).applyQuaternion(q).toArray(), up: new THREE.Vector3(0, 1, 0).applyQuaternion(q).toArray(), pos: pl.position };
        };
        const wall = wallPlacement([2, 1.4, -1], [-1, 0, 0]);
        const leaning = wallPlacement([0, 1.2, -3], [0, 0.3, 0.95]);
        const diagonal = wallPlacement([1, 1, 1], [Math.SQRT1_2, 0, Math.SQRT1_2]);
        return { wall: wall && axes(wall), leaning: leaning && axes(leaning), diagonal: diagonal && axes(diagonal),
          floor: wallPlacement([0, 0, -2], [0, 1, 0]), ceiling: wallPlacement([0, 2.5, -2], [0, -1, 0]), table: wallPlacement([0, 0.8, -1], [0.2, 0.9, 0.1]) };
      });
      const near = (a, b, what) => h.expect(a.every((v, i) => Math.abs(v - b[i]) < 1e-6), `${what}: ${a.map((v) => v.toFixed(4))} vs ${b}`);
      near(r.wall.face, [-1, 0, 0], 'the face looks out of the wall');
      near(r.wall.up, [0, 1, 0], 'the top points up');
      near(r.wall.pos, [1.995, 1.4, -1], '5 mm proud of the wall, at the hit');
      near(r.leaning.face, [0, 0, 1], 'a leaning wall: hung plumb');
      near(r.leaning.up, [0, 1, 0], 'a leaning wall: upright');
      near(r.diagonal.face, [Math.SQRT1_2, 0, Math.SQRT1_2], 'a wall at 45 degrees');
      h.expect(r.floor === null && r.ceiling === null && r.table === null, 'never on a floor, a ceiling or a table');
      await page.context().close();
    });

    await h.test('living: a handscroll walks right to left; frame time at 1280x720', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await page.goto(`${h.base}/living/${encodeURIComponent(R('DQ-2026-0001'))}`);
      await ready(page);
      const x0 = await page.evaluate(() => window.__dqLiving.engine.view.x);
      await page.click('button[data-walk]');
      const t = await page.evaluate(async () => {
        const L = window.__dqLiving, f0 = L.stats.frames, t0 = performance.now();
        await new Promise((r) => setTimeout(r, 3000));
        const ft = L.stats.frameTimes.slice(-60).sort((a, b) => a - b);
        return { fps: (L.stats.frames - f0) / ((performance.now() - t0) / 1000), cpu: ft[ft.length >> 1], x: L.engine.view.x, scale: L.engine.renderScale };
      });
      h.log(`        frame time at 1280x720 (software GL): ${(1000 / t.fps).toFixed(1)} ms per frame (${t.fps.toFixed(1)} fps) at render scale ${t.scale}, median draw call ${t.cpu.toFixed(2)} ms`);
      h.expect(t.x < x0, `the walk moved left: ${x0} -> ${t.x}`);
      await page.context().close();
    });

    await h.test('living: first frame after pressing "Enter the painting"', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await page.goto(`${h.base}/relic/${encodeURIComponent(R('DQ-2026-0006'))}`);
      await page.waitForSelector('a[data-living-enter]');
      await page.click('a[data-living-enter]');
      await ready(page);
      const [ms, lms] = await page.evaluate(() => [window.__dqLiving.firstFrameMs, window.__dqLiving.layersMs]);
      h.log(`        first frame ${ms == null ? '?' : ms.toFixed(0)} ms after the click, layers in and moving at ${lms == null ? '?' : lms.toFixed(0)} ms (loopback, software GL)`);
      h.expect(lms >= ms, 'the painting shows before or with its layers');
      h.expect(ms != null && ms > 0, 'measured');
      await page.context().close();
    });

    await h.test('living: a curator corrects the mist with a brush and saves a new version', async () => {
      const call = await h.apiSession(h.base);
      const img = h.ids['DQ-2026-0012'].image;
      const before = (await call('GET', `/api/images/${encodeURIComponent(img)}/scene/latest`)).json.version;
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      const r = await page.request.post(`${h.base}/api/login`, { headers: { 'X-Requested-With': 'danqing' }, data: h.CURATOR });
      h.expect(r.status() === 200, `login ${r.status()}`);
      // the app restores a session only where this browser signed in (session.js's hint)
      await page.addInitScript(() => localStorage.setItem('danqing.signed-in', '1'));
      await page.goto(`${h.base}/living/${encodeURIComponent(R('DQ-2026-0012'))}`);
      await ready(page);
      await page.click('button[data-edit-layers]');
      const box = await (await page.$('canvas.living-canvas')).boundingBox();
      await page.mouse.move(box.x + box.width * 0.45, box.y + box.height * 0.3);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.35, { steps: 8 });
      await page.mouse.up();
      await page.click('button[data-save-layers]');
      await page.waitForSelector('text=Saved as version', { timeout: 30000 });
      const after = (await call('GET', `/api/images/${encodeURIComponent(img)}/scene/latest`)).json;
      h.expect(after.version === before + 1 && after.source === 'curator', `latest ${after.version} (${after.source}), was ${before}`);
      await page.context().close();
    });
  } finally {
    await browser.close().catch(() => {});
  }
}
