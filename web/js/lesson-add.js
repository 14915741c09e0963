// lesson-add.js: "Add to a lesson" on a work's page (issue 17). For educators and above, the
// region in view becomes a step of a new lesson or of one of their own lessons, through the
// lesson editor (/lesson/new or /lesson/{id}/edit with ?relic=&canvas=&xywh=): the editor adds
// the step and the educator saves it there, so nothing is written from here.
import { h, clear } from './dom.js';
import { pick } from './i18n.js';
import { getJSONMaybe } from './api.js';
import { hasRole, currentUser } from './session.js';
import { lt } from './lesson-strings.js';

// relicId, canvasN (1-based) and region() -> [x, y, w, h] in canvas pixels (or null: the whole
// canvas). Returns {btn, box} to place beside the page's other view actions, or null for
// callers who may not write lessons.
export function addToLessonButton({ relicId, canvasN, region }) {
  if (!hasRole('educator')) return null;
  const box = h('div.lesson-add-box.share-box', { hidden: true });
  const btn = h('button.btn-line#lesson-add-view', { type: 'button', 'aria-expanded': 'false', 'aria-controls': 'lesson-add-box' }, lt('add_to_lesson'));
  box.id = 'lesson-add-box';
  btn.addEventListener('click', async () => {
    if (!box.hidden) { box.hidden = true; btn.setAttribute('aria-expanded', 'false'); return; }
    const r = region();
    const q = `relic=${encodeURIComponent(relicId)}&canvas=${canvasN || 1}${r ? `&xywh=${r.map(Math.round).join(',')}` : ''}`;
    const me = currentUser();
    const res = await getJSONMaybe('/api/lessons');
    const mine = ((res && res.items) || []).filter((l) => me && (l.author === me.user || hasRole('admin')));
    clear(box);
    box.append(h('p.share-label.lesson-add-label', lt('add_to_lesson_label')), h('ul.lesson-add-list',
      h('li', h('a#lesson-add-new', { href: `/lesson/new?${q}` }, lt('add_to_new_lesson'))),
      mine.map((l) => h('li', h('a', { href: `/lesson/${encodeURIComponent(l.id)}/edit?${q}`, 'data-lesson': l.id }, pick(l.title).text)))));
    box.hidden = false;
    btn.setAttribute('aria-expanded', 'true');
  });
  return { btn, box };
}
