// viewer.js: a deep-zoom viewer (OpenSeadragon over the IIIF Image API) with labelled
// controls. OpenSeadragon comes from /static/vendor (npm, pinned) as a classic script; its
// canvas is focusable and answers the arrow, +/- and 0 keys itself.
import { t } from './i18n.js';
import { h, svgIcon } from './dom.js';
import { infoUrl } from './api.js';

export const OSD_DEFAULTS = {
  prefixUrl: '/static/vendor/openseadragon/images/',
  drawer: 'canvas',
  showNavigationControl: false,
  crossOriginPolicy: false,
  animationTime: 0.9,
  springStiffness: 9,
  blendTime: 0.15,
  immediateRender: false,
  maxZoomPixelRatio: 2.5,
  visibilityRatio: 0.8,
  constrainDuringPan: true,
  smoothTileEdgesMinZoom: Infinity,
  preserveImageSizeOnResize: true,
  imageLoaderLimit: 6,
  gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
  gestureSettingsTouch: { pinchRotate: false },
};

export function osd() {
  if (!window.OpenSeadragon) throw new Error('OpenSeadragon did not load');
  return window.OpenSeadragon;
}

// A toolbar button whose label follows the language: the viewer outlives a language switch
// (the page hands it on to keep the place), so its labels are relabelled by i18n's
// applyStatic through data-i18n-aria/-title rather than fixed at creation.
function btn(icon, key, fn) {
  return h('button.tool', { type: 'button', 'aria-label': t(key), title: t(key), 'data-i18n-aria': key, 'data-i18n-title': key, onclick: fn }, svgIcon(icon));
}

// Makes a viewer for imageId inside a new element; returns {el, viewer, toolbar, ready}.
// ready resolves with the viewer once the image opened (rejects when it did not).
export function createViewer(imageId, { navigator = true, label = null, extra = {} } = {}) {
  const OSD = osd();
  const i18nKey = label ? null : 'viewer_label';
  label = label || t('viewer_label');
  const stage = h('div.osd', { role: 'application', 'aria-label': label, 'data-i18n-aria': i18nKey });
  const toolbar = h('div.toolbar', { role: 'toolbar', 'aria-label': label, 'data-i18n-aria': i18nKey });
  const el = h('div.viewer', stage, toolbar);
  const viewer = OSD({
    ...OSD_DEFAULTS,
    element: stage,
    // An absolute URL is another institution's image service (a manifest opened by URL).
    tileSources: /^https?:\/\//.test(imageId) ? `${imageId}/info.json` : infoUrl(imageId),
    showNavigator: navigator,
    navigatorPosition: 'BOTTOM_RIGHT',
    navigatorSizeRatio: 0.16,
    navigatorAutoFade: true,
    ...extra,
  });
  const vp = () => viewer.viewport;
  toolbar.append(
    btn('plus', 'zoom_in', () => { vp().zoomBy(1.6); vp().applyConstraints(); }),
    btn('minus', 'zoom_out', () => { vp().zoomBy(1 / 1.6); vp().applyConstraints(); }),
    btn('home', 'zoom_home', () => vp().goHome()),
    btn('full', 'fullscreen', () => { if (document.fullscreenElement) document.exitFullscreen(); else el.requestFullscreen?.(); }));
  const ready = new Promise((resolve, reject) => {
    viewer.addOnceHandler('open', () => {
      // The canvas is OSD's keyboard target: give it a name for screen readers.
      viewer.canvas.setAttribute('aria-label', label);
      if (i18nKey) viewer.canvas.dataset.i18nAria = i18nKey;
      // Opened before the page laid the stage out (OSD measures a 1 x 1 box): when the stage
      // gets its size after the first frame, preserveImageSizeOnResize keeps the picture at
      // the size it had in that box, a speck (zoom ~1/3000 of home; one relic page open in
      // about four here, tests/web/scenarios/65-region-select.mjs). OSD scales the zoom after
      // its 'resize' event, so look a frame later, and go home only from a speck.
      const cs = vp().getContainerSize();
      if (cs.x < 2 || cs.y < 2) {
        const fit = () => requestAnimationFrame(() => {
          const c = vp().getContainerSize();
          if (c.x < 2 || c.y < 2) return;
          viewer.removeHandler('resize', fit);
          if (vp().getZoom(true) < vp().getHomeZoom() * 0.05) vp().goHome(true);
        });
        viewer.addHandler('resize', fit);
      }
      resolve(viewer);
    });
    viewer.addOnceHandler('open-failed', (e) => reject(new Error(e.message || 'open failed')));
  });
  ready.catch(() => {});
  return { el, viewer, toolbar, ready, destroy: () => viewer.destroy() };
}

// Image-pixel rectangle -> viewport rectangle for the first tiled image.
export function imageRect(viewer, x, y, w, h2) {
  const item = viewer.world.getItemAt(0);
  return item ? item.imageToViewportRectangle(x, y, w, h2) : new (osd().Rect)(x, y, w, h2);
}
