// i18n.js: every UI string in both languages, the reader's language and the switch.
// The language comes from ?lang=, else the saved choice (localStorage), else the first of
// navigator.languages that we speak (the server serves one static file and cannot read
// Accept-Language for us; the browser's list is the same preference). Text that comes from
// the catalog is a language map ({zh, en}) and goes through pick().

const STRINGS = {
  site_name: { zh: '丹青', en: 'Danqing' },
  site_tagline: { zh: '数字文物典藏', en: 'Digital collection of cultural relics' },
  skip: { zh: '跳到正文', en: 'Skip to content' },
  nav_home: { zh: '首页', en: 'Home' },
  nav_search: { zh: '检索', en: 'Search' },
  nav_compare: { zh: '对照', en: 'Compare' },
  nav_lessons: { zh: '课程', en: 'Lessons' },
  nav_glossary: { zh: '术语', en: 'Glossary' },
  nav_stylemap: { zh: '风格图谱', en: 'Style map' },
  nav_main: { zh: '主导航', en: 'Main navigation' },
  lang_toggle: { zh: 'English', en: '中文' },
  lang_toggle_label: { zh: 'Switch to English', en: '切换到中文' },
  search_placeholder: { zh: '搜索：中文、拼音或英文', en: 'Search in Chinese, pinyin or English' },
  search_label: { zh: '检索藏品', en: 'Search the collection' },
  search_go: { zh: '检索', en: 'Search' },
  home_featured: { zh: '精选', en: 'Featured works' },
  home_timeline: { zh: '朝代', en: 'By dynasty' },
  home_timeline_hint: { zh: '左右滑动，沿时间长卷浏览', en: 'Scroll along the timeline, as along a handscroll' },
  home_types: { zh: '类别', en: 'By type' },
  home_subjects: { zh: '题材', en: 'By subject' },
  home_intro: { zh: '宋元明清书画，高清细览：展卷、放大至笔触、对照、引用。', en: 'Paintings and calligraphy in deep zoom: unroll a handscroll, zoom to the brushstroke, compare, cite.' },
  home_browse_all: { zh: '浏览全部藏品', en: 'Browse the whole collection' },
  works_count: { zh: '{n} 件', en: '{n} works' },
  results_count: { zh: '共 {n} 件', en: '{n} results' },
  results_none: { zh: '没有找到相符的藏品。', en: 'No works match.' },
  facet_dynasty: { zh: '朝代', en: 'Dynasty' },
  facet_object_type: { zh: '类别', en: 'Type' },
  facet_subject: { zh: '题材', en: 'Subject' },
  facet_creator: { zh: '作者', en: 'Creator' },
  facet_medium: { zh: '材质', en: 'Medium' },
  facet_has_images: { zh: '有图像', en: 'With images' },
  filters: { zh: '筛选', en: 'Filters' },
  clear_filters: { zh: '清除筛选', en: 'Clear filters' },
  years: { zh: '年代', en: 'Years' },
  year_from: { zh: '起', en: 'From' },
  year_to: { zh: '止', en: 'To' },
  year_apply: { zh: '应用', en: 'Apply' },
  bce: { zh: '前{n}', en: '{n} BCE' },
  sort: { zh: '排序', en: 'Sort' },
  sort_relevance: { zh: '相关度', en: 'Relevance' },
  sort_date: { zh: '年代（早→晚）', en: 'Date (oldest first)' },
  sort__date: { zh: '年代（晚→早）', en: 'Date (newest first)' },
  sort_accession: { zh: '编号', en: 'Accession' },
  page_next: { zh: '下一页', en: 'Next page' },
  page_prev: { zh: '上一页', en: 'Previous page' },
  page_first: { zh: '第一页', en: 'First page' },
  loading: { zh: '载入中……', en: 'Loading…' },
  error_load: { zh: '无法载入：{msg}', en: 'Could not load: {msg}' },
  not_found: { zh: '没有找到这件藏品。', en: 'This work was not found.' },
  page_not_found: { zh: '页面不存在。', en: 'Page not found.' },
  no_image: { zh: '暂无图像', en: 'No image' },
  // relic page
  meta_accession: { zh: '编号', en: 'Accession' },
  meta_creator: { zh: '作者', en: 'Creator' },
  meta_dynasty: { zh: '朝代', en: 'Dynasty' },
  meta_date: { zh: '年代', en: 'Date' },
  meta_type: { zh: '类别', en: 'Type' },
  meta_subject: { zh: '题材', en: 'Subject' },
  meta_medium: { zh: '材质', en: 'Medium' },
  meta_dimensions: { zh: '尺寸', en: 'Dimensions' },
  meta_school: { zh: '画派', en: 'School' },
  meta_places: { zh: '地点', en: 'Places' },
  meta_rights: { zh: '版权', en: 'Rights' },
  rights_unknown: { zh: '版权状况未评估', en: 'Copyright not evaluated' },
  snippet_label: { zh: '匹配', en: 'Match' },
  meta_description: { zh: '描述', en: 'Description' },
  meta_inscriptions: { zh: '题识', en: 'Inscriptions' },
  meta_seals: { zh: '钤印', en: 'Seals' },
  meta_provenance: { zh: '流传', en: 'Provenance' },
  dims: { zh: '纵 {h} 厘米，横 {w} 厘米', en: '{h} × {w} cm' },
  cite_title: { zh: '引用', en: 'Cite this' },
  cite_copy: { zh: '复制引用', en: 'Copy citation' },
  cite_copied: { zh: '已复制', en: 'Copied' },
  manifest_title: { zh: 'IIIF 清单', en: 'IIIF manifest' },
  manifest_hint: { zh: '把图标拖到其他 IIIF 查看器中打开。', en: 'Drag the icon into another IIIF viewer to open this work there.' },
  downloads: { zh: '下载', en: 'Download' },
  open_scroll: { zh: '展卷观看', en: 'Open as a handscroll' },
  open_compare: { zh: '对照观看', en: 'Compare' },
  viewer_label: { zh: '高清图像查看器：拖动平移，滚轮缩放', en: 'Deep-zoom viewer: drag to pan, wheel to zoom' },
  zoom_in: { zh: '放大', en: 'Zoom in' },
  zoom_out: { zh: '缩小', en: 'Zoom out' },
  zoom_home: { zh: '全图', en: 'Whole image' },
  fullscreen: { zh: '全屏', en: 'Full screen' },
  annotations: { zh: '标注', en: 'Annotations' },
  annotations_show: { zh: '显示标注', en: 'Show annotations' },
  annotations_count: { zh: '{n} 条标注', en: '{n} annotations' },
  annotations_count_one: { zh: '{n} 条标注', en: '{n} annotation' },
  tour: { zh: '导览', en: 'Guided tour' },
  tour_start: { zh: '开始导览', en: 'Start the tour' },
  tour_next: { zh: '下一处', en: 'Next stop' },
  tour_prev: { zh: '上一处', en: 'Previous stop' },
  tour_play: { zh: '自动播放', en: 'Play' },
  tour_pause: { zh: '暂停', en: 'Pause' },
  tour_close: { zh: '结束导览', en: 'End the tour' },
  tour_stop_n: { zh: '第 {i} 处，共 {n} 处', en: 'Stop {i} of {n}' },
  tour_start_named: { zh: '导览：{title}', en: 'Tour: {title}' },
  tour_choose: { zh: '选择导览', en: 'Choose a tour' },
  tour_private: { zh: '未公开', en: 'private' },
  tour_share_stop: { zh: '分享这一处', en: 'Share this stop' },
  tour_share_label: { zh: '第 {i} 处的链接', en: 'Link to stop {i}' },
  // accounts
  signin: { zh: '登录', en: 'Sign in' },
  signin_title: { zh: '登录丹青', en: 'Sign in to Danqing' },
  signin_user: { zh: '用户名', en: 'User name' },
  signin_password: { zh: '密码', en: 'Password' },
  signin_submit: { zh: '登录', en: 'Sign in' },
  signin_failed: { zh: '用户名或密码不正确。', en: 'The user name or password is not right.' },
  signout: { zh: '退出', en: 'Sign out' },
  signed_in_as: { zh: '已登录：{user}（{role}）', en: 'Signed in as {user} ({role})' },
  role_viewer: { zh: '读者', en: 'viewer' },
  role_conservator: { zh: '修复师', en: 'conservator' },
  role_curator: { zh: '策展人', en: 'curator' },
  role_admin: { zh: '管理员', en: 'admin' },
  required: { zh: '必填', en: 'Required' },
  cancel: { zh: '取消', en: 'Cancel' },
  save: { zh: '保存', en: 'Save' },
  edit: { zh: '编辑', en: 'Edit' },
  delete: { zh: '删除', en: 'Delete' },
  delete_confirm: { zh: '确认删除', en: 'Confirm delete' },
  close: { zh: '关闭', en: 'Close' },
  save_failed: { zh: '未能保存：{msg}', en: 'Not saved: {msg}' },
  conflict_stale: { zh: '别人刚刚改过这一条，请重新载入后再改。', en: 'Someone changed this meanwhile: reload it and try again.' },
  forbidden: { zh: '你的账号没有这项权限。', en: 'Your account may not do this.' },
  // annotations
  annotation: { zh: '标注', en: 'Annotation' },
  anno_new: { zh: '标注区域', en: 'Annotate a region' },
  anno_new_title: { zh: '新建标注', en: 'New annotation' },
  anno_edit_title: { zh: '编辑标注', en: 'Edit annotation' },
  anno_draw: { zh: '在图上框选', en: 'Draw on the image' },
  anno_draw_hint: { zh: '在图上拖出一个矩形；或直接填写下方坐标（默认是当前视图的中部）。', en: 'Drag a rectangle over the image, or type the region below (it starts as the middle of the current view).' },
  anno_text_zh: { zh: '文字（中文）', en: 'Text (Chinese)' },
  anno_text_en: { zh: '文字（英文）', en: 'Text (English)' },
  anno_text_required: { zh: '请至少用一种语言写下文字。', en: 'Write the text in at least one language.' },
  anno_motivation: { zh: '类型', en: 'Motivation' },
  anno_tag_hint: { zh: '多个标签用逗号分隔。', en: 'Separate tags with commas.' },
  anno_region: { zh: '区域（原图像素）', en: 'Region (full-size pixels)' },
  anno_region_bad: { zh: '区域须在画面之内（宽 {w}、高 {h} 像素）。', en: 'The region must lie inside the image ({w} × {h} px).' },
  anno_by: { zh: '{user} · {date}', en: '{user} · {date}' },
  anno_saved: { zh: '标注已保存', en: 'Annotation saved' },
  anno_updated: { zh: '标注已更新', en: 'Annotation updated' },
  anno_deleted: { zh: '标注已删除', en: 'Annotation deleted' },
  region_x: { zh: 'X', en: 'X' },
  region_y: { zh: 'Y', en: 'Y' },
  region_w: { zh: '宽', en: 'Width' },
  region_h: { zh: '高', en: 'Height' },
  motivation_commenting: { zh: '评注', en: 'Comment' },
  motivation_describing: { zh: '描述', en: 'Description' },
  motivation_identifying: { zh: '考订', en: 'Identification' },
  motivation_tagging: { zh: '标签', en: 'Tags' },
  // search inside the work
  find_label: { zh: '在此作品中查找', en: 'Find in this work' },
  find_placeholder: { zh: '在此作品中查找，如：船、boat', en: 'Find in this work, e.g. boat, 船' },
  find_go: { zh: '查找', en: 'Find' },
  find_results: { zh: '“{q}”：{n} 处', en: '“{q}”: {n} found' },
  find_none: { zh: '标注中没有“{q}”。', en: 'No annotation mentions “{q}”.' },
  // sharing
  share_view: { zh: '分享此视图', en: 'Share this view' },
  share_view_label: { zh: '此视图的链接（IIIF 内容状态）', en: 'Link to this view (IIIF Content State)' },
  share_copy: { zh: '复制链接', en: 'Copy link' },
  share_select: { zh: '已选中，请手动复制', en: 'Selected: copy it by hand' },
  // tour authoring
  tour_new: { zh: '新建导览', en: 'New tour' },
  tour_edit: { zh: '编辑导览', en: 'Edit tour' },
  tour_new_title: { zh: '新建导览', en: 'New tour' },
  tour_edit_title: { zh: '编辑导览', en: 'Edit the tour' },
  tour_title_zh: { zh: '标题（中文）', en: 'Title (Chinese)' },
  tour_title_en: { zh: '标题（英文）', en: 'Title (English)' },
  tour_title_required: { zh: '请至少用一种语言写下标题。', en: 'Give the tour a title in at least one language.' },
  tour_public: { zh: '公开（所有读者可见）', en: 'Public (every reader sees it)' },
  tour_stops: { zh: '各处', en: 'Stops' },
  tour_stop_count: { zh: '（{n}）', en: '({n})' },
  tour_stops_required: { zh: '至少添加一处。', en: 'Add at least one stop.' },
  tour_add_stop: { zh: '添加当前视图为一处', en: 'Add the current view as a stop' },
  tour_add_hint: { zh: '先在图上平移、缩放到要讲的地方，再添加。', en: 'Pan and zoom the image to the place, then add it.' },
  tour_stop_label: { zh: '第 {i} 处', en: 'Stop {i}' },
  tour_stop_view: { zh: '查看第 {i} 处', en: 'View stop {i}' },
  tour_stop_up: { zh: '第 {i} 处上移', en: 'Move stop {i} up' },
  tour_stop_down: { zh: '第 {i} 处下移', en: 'Move stop {i} down' },
  tour_stop_remove: { zh: '删除第 {i} 处', en: 'Remove stop {i}' },
  tour_text_zh: { zh: '讲解（中文）', en: 'Text (Chinese)' },
  tour_text_en: { zh: '讲解（英文）', en: 'Text (English)' },
  tour_zoom: { zh: '缩放（可选）', en: 'Zoom (optional)' },
  tour_zoom_fit: { zh: '适合区域', en: 'fit the region' },
  tour_added: { zh: '已添加第 {i} 处', en: 'Stop {i} added' },
  tour_moved: { zh: '第 {from} 处移到第 {to} 处', en: 'Stop {from} moved to {to}' },
  tour_removed: { zh: '已删除第 {i} 处', en: 'Stop {i} removed' },
  tour_saved: { zh: '导览已保存', en: 'Tour saved' },
  tour_deleted: { zh: '导览已删除', en: 'Tour deleted' },
  tour_delete: { zh: '删除导览', en: 'Delete the tour' },
  images: { zh: '图像', en: 'Images' },
  // handscroll
  scroll_label: { zh: '手卷：方向键、翻页键、滚轮或拖动以展卷', en: 'Handscroll: arrow keys, Page Up/Down, wheel or drag to unroll' },
  scroll_begin: { zh: '卷首', en: 'Beginning' },
  scroll_end: { zh: '卷尾', en: 'End' },
  scroll_back: { zh: '回卷', en: 'Roll back' },
  scroll_forward: { zh: '展卷', en: 'Unroll' },
  scroll_overview: { zh: '全卷缩略：点击跳转', en: 'Whole scroll: click to jump' },
  scroll_progress: { zh: '已展开 {p}%', en: '{p}% unrolled' },
  scroll_rolled_hint: { zh: '向左展开 ←', en: '← Unroll to the left' },
  scroll_exit: { zh: '返回详情', en: 'Back to the record' },
  scroll_fullscreen: { zh: '全屏展卷', en: 'Full screen' },
  scroll_fullscreen_exit: { zh: '退出全屏', en: 'Exit full screen' },
  scroll_section_frontispiece: { zh: '引首', en: 'Frontispiece' },
  scroll_section_painting: { zh: '画心', en: 'Painting' },
  scroll_section_colophon: { zh: '题跋', en: 'Colophons' },
  scroll_help: { zh: '← → 移动 · PageUp/PageDown 一臂之长 · Home/End 卷首/卷尾 · +/− 缩放', en: '← → move · Page Up/Down an arm’s length · Home/End · +/− zoom' },
  // compare
  compare_title: { zh: '对照', en: 'Compare' },
  compare_left: { zh: '左图', en: 'Left image' },
  compare_right: { zh: '右图', en: 'Right image' },
  compare_mode: { zh: '方式', en: 'Mode' },
  compare_side: { zh: '并列', en: 'Side by side' },
  compare_swipe: { zh: '叠加滑动', en: 'Overlay and swipe' },
  compare_divider: { zh: '分界线位置', en: 'Divider position' },
  compare_linked: { zh: '同步缩放', en: 'Linked zoom' },
  compare_pick: { zh: '选择两件作品（或同一作品的两次拍摄）进行对照。', en: 'Choose two works (or two captures of one work) to compare.' },
  footer_note: { zh: '图像经 IIIF 提供：可在任何 IIIF 查看器中打开。', en: 'Images served over IIIF: open them in any IIIF viewer.' },
  footer_api: { zh: '接口', en: 'API' },
};

const LANGS = ['zh', 'en'];
const KEY = 'danqing.lang';
let current = 'zh';
const listeners = new Set();

function fromList(list) {
  for (const l of list || []) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return null;
}

// The starting language: ?lang=, saved choice, browser preference, else Chinese.
export function detectLang(loc = window.location, nav = window.navigator, store = window.localStorage) {
  const q = new URLSearchParams(loc.search).get('lang');
  if (q && LANGS.includes(q)) return q;
  let saved = null;
  try { saved = store.getItem(KEY); } catch { /* storage may be off */ }
  if (saved && LANGS.includes(saved)) return saved;
  return fromList(nav.languages && nav.languages.length ? nav.languages : [nav.language]) || 'zh';
}

export function lang() { return current; }
export function otherLang() { return current === 'zh' ? 'en' : 'zh'; }
// BCP 47 tag for lang attributes: Chinese text here is Simplified.
export function tag(l = current) { return l === 'zh' ? 'zh-Hans' : 'en'; }

export function setLang(l, { save = true } = {}) {
  if (!LANGS.includes(l)) return;
  current = l;
  document.documentElement.lang = tag(l);
  document.documentElement.dataset.lang = l;
  if (save) { try { window.localStorage.setItem(KEY, l); } catch { /* ignore */ } }
  applyStatic(document);
  for (const fn of listeners) fn(l);
}

export function onLangChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

// A UI string with {name} substitutions.
export function t(key, vars, l = current) {
  const e = STRINGS[key];
  let s = e ? (e[l] ?? e.zh) : key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

// The best text of a language map for the reader: {text, lang} (lang of what was picked).
export function pick(map, l = current) {
  if (map == null) return { text: '', lang: l };
  if (typeof map === 'string') return { text: map, lang: /[\u3400-\u9fff]/.test(map) ? 'zh' : 'en' };
  if (map[l]) return { text: map[l], lang: l };
  const o = l === 'zh' ? 'en' : 'zh';
  if (map[o]) return { text: map[o], lang: o };
  const any = Object.values(map).find(Boolean);
  return { text: any || '', lang: l };
}

// The controlled vocabularies (dynasties, object types, subjects) come from the server
// (GET /api/vocab/{kind}, loaded by api.js loadVocab before the first render): the front end
// keeps no copy of its own, so the two cannot drift apart (issue 9).
const vocabIndex = new Map();
const vocabLists = new Map();
export function setVocab(kind, items) {
  vocabLists.set(kind, items || []);
  for (const it of items || []) vocabIndex.set(`${kind}:${it.key}`, it);
}
// The entries of a vocabulary in the server's order ([] before it loaded or when it failed).
export function vocabList(kind) { return vocabLists.get(kind) || []; }

// The label of key in the reader's language; '' for a missing key (a relic without a
// dynasty or type), the key itself (underscores as spaces) for one the server does not know.
export function vocabLabel(kind, key, l = current) {
  if (key == null || key === '') return '';
  const v = vocabIndex.get(`${kind}:${key}`);
  if (!v) return String(key).replaceAll('_', ' ');
  return v[l] || v.en || v.zh || key;
}

// A reader's label for a rights URI of the manifest (IIIF Presentation 3 §3.3.1 allows
// Creative Commons and RightsStatements.org URIs); null for one not listed here, which the
// page then shows as the URI itself. Only names: which statement applies is the server's.
const RIGHTS = [
  [/creativecommons\.org\/publicdomain\/zero\//, { zh: 'CC0 公有领域贡献', en: 'CC0 public domain dedication' }],
  [/creativecommons\.org\/publicdomain\/mark\//, { zh: '公有领域标记', en: 'Public Domain Mark' }],
  [/creativecommons\.org\/licenses\/([a-z-]+)\/([\d.]+)/, { zh: 'CC {1} {2} 许可', en: 'CC {1} {2} licence' }],
  [/rightsstatements\.org\/vocab\/InC\//, { zh: '受版权保护', en: 'In copyright' }],
  [/rightsstatements\.org\/vocab\/InC-EDU\//, { zh: '受版权保护，允许教育使用', en: 'In copyright, educational use permitted' }],
  [/rightsstatements\.org\/vocab\/NoC-US\//, { zh: '在美国无版权', en: 'No copyright in the United States' }],
  [/rightsstatements\.org\/vocab\/CNE\//, { zh: '版权状况未评估', en: 'Copyright not evaluated' }],
  [/rightsstatements\.org\/vocab\/UND\//, { zh: '版权状况未定', en: 'Copyright undetermined' }],
];
export function rightsLabel(uri, l = current) {
  for (const [re, label] of RIGHTS) {
    const m = re.exec(String(uri || ''));
    if (m) return label[l].replace('{1}', (m[1] || '').toUpperCase()).replace('{2}', m[2] || '');
  }
  return null;
}

export function vocabEntry(kind, key) { return vocabIndex.get(`${kind}:${key}`) || null; }

export function yearText(y, l = current) {
  if (y == null) return '';
  return y < 0 ? t('bce', { n: -y }, l) : String(y);
}

// A relic's date for the reader: its date text in the reader's language, with the year span
// when the text does not already say it. A Chinese-only text (a reign-period date) is not
// shown to an English reader, who gets the years instead; a Chinese reader may see an
// English-only text. '' when the record has neither.
export function dateText(r, l = current) {
  const dt = r.date_text;
  let text = '';
  if (dt && typeof dt === 'object') {
    const p = pick(dt, l);
    if (p.lang === l || l === 'zh') text = p.text;
  } else if (typeof dt === 'string' && dt) {
    if (l === 'zh' || !/[\u3400-\u9fff]/.test(dt)) text = dt;
  }
  const span = r.year_from != null
    ? (r.year_to != null && r.year_to !== r.year_from ? `${yearText(r.year_from, l)}–${yearText(r.year_to, l)}` : yearText(r.year_from, l))
    : '';
  if (!text) return span;
  return span && !text.includes(String(Math.abs(r.year_from))) ? `${text} (${span})` : text;
}

// Fills [data-i18n] text, [data-i18n-aria] aria-label, [data-i18n-placeholder] and
// [data-i18n-title] under root with the current language.
export function applyStatic(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) { el.textContent = t(el.dataset.i18n); el.lang = tag(); }
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

export const _strings = STRINGS; // for tests: both languages must be complete
