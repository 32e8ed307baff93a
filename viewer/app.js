// app.js — the viewer page: loads the document (embedded in a self-contained file, or from
// the server), draws the timeline, the findings with the recommendation on top (and the diff
// of two traces opened together), slice details, range selection with its statistics, the
// flame graph, search, keyboard and mouse, and files dropped onto the page (parsed in a
// worker). Every string from a trace goes into the page with textContent, never as HTML.
import { formatDuration } from './format.js';
import { prepare, prepareWindow, threadRanges, search, threadOf, rangeStats, flameTree, flameLayout, samplesThrough, slicesThrough, KIND_NAMES, CPU_COLORS } from './model.js';
import { parseChromeTrace } from './parse.js';
import { Timeline, FlameView, LABEL_WIDTH } from './timeline.js';

const $ = (id) => document.getElementById(id);
const state = { data: null, timeline: null, flame: null, matches: [], match: -1, metrics: {}, server: false };
window.cctraceViewer = state;

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = String(text);
  return e;
}

function setStatus(text) { $('status').textContent = text; }

async function start() {
  const embedded = document.getElementById('cctrace-data');
  try {
    let doc;
    if (embedded) {
      doc = JSON.parse(embedded.textContent);
    } else {
      const response = await fetch('data/model.json');
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      const bytes = await response.arrayBuffer();
      // The data has arrived: from here to the first full view is what the viewer costs.
      state.metrics.dataArrivedAt = performance.now();
      state.metrics.bytes = bytes.byteLength;
      doc = JSON.parse(new TextDecoder().decode(bytes));
      state.server = true;
    }
    load(doc);
    if (state.metrics.dataArrivedAt) state.metrics.arrivalToFirstViewMs = performance.now() - state.metrics.dataArrivedAt;
  } catch (e) {
    setStatus(`could not load the trace: ${e.message}`);
  }
}

function load(doc) {
  const arrived = performance.now();
  const data = prepare(doc);
  state.data = data;
  $('trace-name').textContent = data.doc.trace || '';
  const timeline = new Timeline($('timeline'), data);
  state.timeline = timeline;
  state.rangeWindow = null;
  if (data.onDemand) timeline.fetchWindow = fetchWindow;
  timeline.resize();
  state.metrics.firstRenderMs = performance.now() - arrived;
  setStatus(`${data.count.toLocaleString()} slices · ${data.threads.length} threads · ${formatDuration(data.duration)}`);
  $('flame-source').value = data.samples.t.length > 0 ? 'samples' : 'slices';
  renderDiff(data.diff);
  renderFindings(data.report);
  if (!$('flame-panel').hidden) updateFlame();
  document.body.dataset.loaded = 'true';
}

/**
 * A window of slices from the server (slices sent on demand), prepared; times how long each
 * took from asking to ready (state.metrics.windows, for the benchmark).
 */
async function fetchWindow(request) {
  const asked = performance.now();
  const q = `t0=${Math.floor(request.t0)}&t1=${Math.ceil(request.t1)}&npp=${request.npp}&threads=${request.threads}${request.full !== undefined ? `&full=${request.full}` : ''}`;
  const response = await fetch(`data/window?${q}`);
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  const answer = await response.json();
  if (answer.error) return answer;
  const win = prepareWindow(answer, state.data);
  (state.metrics.windows ||= []).push({ ms: performance.now() - asked, entries: win.count, full: win.full });
  document.body.dataset.windows = String(state.metrics.windows.length);
  return win;
}

function renderFindings(report) {
  const rec = $('recommendation');
  const list = $('finding-list');
  rec.replaceChildren();
  list.replaceChildren();
  if (!report) {
    rec.append(el('div', 'reason', 'Opened without the server: run `cctrace view TRACE` for findings.'));
    return;
  }
  const r = report.recommendation;
  rec.append(el('div', 'model', `${r.model}`), el('div', '', r.headline));
  rec.append(el('div', 'reason', `now: ${r.current_model} (${r.current_detail}) · confidence ${r.confidence} · expected speedup ≈ ${r.expected_speedup}×`));
  rec.append(el('div', 'reason', r.advice));
  for (const reason of r.reasons) rec.append(el('div', 'reason', `• ${reason}`));
  report.findings.forEach((f, index) => {
    const li = el('li');
    li.dataset.index = String(index);
    li.append(el('span', `sev sev-${f.severity}`, f.severity), el('span', 'finding-id', f.id), el('span', 'summary', f.summary));
    li.addEventListener('click', () => selectFinding(index));
    list.append(li);
  });
}

/** Two traces opened together: `cctrace diff`'s verdict, figures and findings on top. */
function renderDiff(diff) {
  const box = $('diff');
  box.replaceChildren();
  if (!diff) return;
  const s = diff.speedup;
  const verdict = s === null ? 'no work window to compare'
    : !diff.speedup_beyond_noise ? `same speed within noise (${s.toFixed(2)}×)`
      : s >= 1 ? `${s.toFixed(2)}× faster` : `${(1 / s).toFixed(2)}× slower`;
  box.append(el('div', 'verdict', `after vs before: ${verdict}`));
  box.append(el('div', 'reason', `before: ${diff.before.trace} · after: ${diff.after.trace} (lanes marked “before ·” and “after ·”, both from their start)`));
  const figures = el('ul');
  for (const f of diff.figures) {
    if (f.change === 'unchanged') continue;
    const fmt = (v) => (f.unit === 'ms' ? formatDuration(v * 1e6) : f.unit === 'share' ? `${(v * 100).toFixed(1)} %` : v.toFixed(2));
    figures.append(el('li', f.change, `${f.label}: ${fmt(f.before)} → ${fmt(f.after)} (${f.change})`));
  }
  if (figures.children.length) box.append(figures);
  const findings = el('ul');
  for (const f of diff.findings) {
    if (f.status === 'unchanged') continue;
    findings.append(el('li', f.status, `${f.status}: ${f.id}${f.subject ? ` (${f.subject})` : ''} ${f.before_severity || '—'} → ${f.after_severity || '—'}`));
  }
  if (findings.children.length) box.append(findings);
  for (const r of diff.regressions) box.append(el('div', 'worse', `regression: ${r}`));
}

/** Jumps to a finding's evidence and highlights its slices. */
function selectFinding(index) {
  const f = state.data.report.findings[index];
  for (const li of $('finding-list').children) li.classList.toggle('selected', li.dataset.index === String(index));
  const t = state.timeline;
  t.highlight = new Set(f.evidence.filter((e) => typeof e.slice === 'number').map((e) => e.slice));
  const withTime = f.evidence.filter((e) => typeof e.ts_us === 'number');
  document.body.dataset.finding = f.id;
  if (withTime.length === 0) { t.render(); return; }
  const origin = state.data.doc.start_ns;
  const from = Math.min(...withTime.map((e) => e.ts_us * 1000 - origin));
  const to = Math.max(...withTime.map((e) => e.ts_us * 1000 - origin + (e.dur_us || 0) * 1000));
  const first = f.evidence.find((e) => typeof e.slice === 'number');
  t.reveal(from, to, first ? first.slice : -1);
  if (first) showDetails(first.slice);
}

function row(body, key, value) {
  const p = el('div');
  p.append(el('b', '', `${key}: `), el('span', '', value));
  body.append(p);
}

function showArgs(body, args) {
  if (!args) return;
  const frames = args.frames;
  if (Array.isArray(frames)) {
    body.append(el('b', '', 'stack:'));
    body.append(el('pre', '', frames.join('\n')));
  }
  body.append(el('b', '', 'args:'), el('pre', '', JSON.stringify(args, null, 2)));
}

async function showDetails(i) {
  const data = state.data;
  const body = $('details-body');
  body.replaceChildren();
  $('details').querySelector('h2').textContent = 'Details';
  document.body.dataset.selected = String(i);
  state.timeline.selected = i;
  state.timeline.render();
  if (data.onDemand) return showDetailsOnDemand(i, body);
  const ti = threadOf(data, i);
  const thread = data.threads[ti];
  state.selectedThread = ti;
  row(body, 'name', data.strings[data.name[i]]);
  row(body, 'kind', KIND_NAMES[data.kind[i]] || 'work');
  row(body, 'thread', thread ? `${thread.name} (${thread.tid}), pid ${thread.pid}` : '?');
  row(body, 'start', formatDuration(data.start[i]));
  row(body, 'duration', formatDuration(data.dur[i]));
  row(body, 'self', formatDuration(selfTime(data, i)));
  const categories = data.doc.slices.category;
  if (categories) row(body, 'category', data.strings[categories[i]]);
  if (!$('flame-panel').hidden && $('flame-scope').value !== 'all') updateFlame();
  if (data.args) {
    // A self-contained file carries the args of its slices.
    showArgs(body, data.args[String(i)] || null);
    return;
  }
  if (!state.server) return;
  try {
    const response = await fetch(`data/slice/${i}`);
    const d = await response.json();
    if (state.timeline.selected !== i) return;
    row(body, 'category', d.category);
    showArgs(body, d.args);
  } catch (e) {
    body.append(el('div', '', `details unavailable: ${e.message}`));
  }
}

/** Slice `i`'s details when the slices stay on the server: all from its answer. */
async function showDetailsOnDemand(i, body) {
  const data = state.data;
  try {
    const response = await fetch(`data/slice/${i}`);
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    const d = await response.json();
    if (state.timeline.selected !== i) return;
    const thread = data.threads[d.thread_index];
    state.selectedThread = d.thread_index;
    row(body, 'name', d.name);
    row(body, 'kind', KIND_NAMES[d.kind] || 'work');
    row(body, 'thread', thread ? `${thread.name} (${thread.tid}), pid ${thread.pid}` : '?');
    row(body, 'start', formatDuration(d.start_ns));
    row(body, 'duration', formatDuration(d.dur_ns));
    row(body, 'self', formatDuration(d.self_ns));
    row(body, 'category', d.category);
    showArgs(body, d.args);
    if (!$('flame-panel').hidden && $('flame-scope').value !== 'all') updateFlame();
  } catch (e) {
    body.append(el('div', '', `details unavailable: ${e.message}`));
  }
}

/** Slice `i`'s time less its children's. */
function selfTime(data, i) {
  const end = data.start[i] + data.dur[i];
  let self = data.dur[i];
  const t = data.threads[threadOf(data, i)];
  for (let j = i + 1; t && j < t.end && data.start[j] < end; j++) if (data.parent[j] === i) self -= data.dur[j];
  return Math.max(0, self);
}

/** The statistics of the selected range in the details panel. */
async function showRange(t0, t1) {
  const data = state.data;
  state.rangeWindow = null;
  let s;
  if (data.onDemand) {
    // The slices stay on the server: it computes the same statistics from all of them.
    const body = $('details-body');
    body.replaceChildren(el('div', '', `${formatDuration(t0)} – ${formatDuration(t1)}: asking the server…`));
    $('details').querySelector('h2').textContent = 'Range';
    try {
      const response = await fetch(`data/range?t0=${t0}&t1=${t1}`);
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      s = await response.json();
    } catch (e) {
      body.replaceChildren(el('div', '', `range unavailable: ${e.message}`));
      return;
    }
    const r = state.timeline.range;
    if (!r || r.t0 !== t0 || r.t1 !== t1) return;
  } else {
    s = rangeStats(data, t0, t1);
  }
  state.rangeStats = s;
  const body = $('details-body');
  body.replaceChildren();
  $('details').querySelector('h2').textContent = 'Range';
  document.body.dataset.range = `${Math.round(t0)}-${Math.round(t1)}`;
  const box = el('div', 'range');
  const close = el('button', 'close', '×');
  close.title = 'Clear the range (Esc)';
  close.addEventListener('click', clearRange);
  box.append(close, el('div', '', `${formatDuration(t0)} – ${formatDuration(t1)} (${formatDuration(t1 - t0)})`));
  box.append(el('h3', '', 'Threads'));
  const threads = el('table');
  const head = el('tr');
  for (const h of ['thread', 'states', 'on CPU', 'in waits']) head.append(el('th', '', h));
  threads.append(head);
  for (const t of s.threads.slice(0, 30)) {
    const tr = el('tr');
    tr.append(el('td', '', `${t.name} (${t.tid})`));
    const bar = el('td');
    const strip = el('div', 'bar');
    const span = Math.max(1, t.running + t.runnable + t.blocked + t.idle);
    [t.running, t.runnable, t.blocked, t.idle].forEach((v, k) => {
      const part = el('span');
      part.style.width = `${(v / span) * 100}%`;
      // Without CPU readings the busy part is neither running nor blocked for sure: grey.
      part.style.background = k === 2 && !t.measured ? '#9aa3b0' : CPU_COLORS[k];
      strip.append(part);
    });
    strip.title = t.measured
      ? `running ${pct(t.running, span)}, runnable ${pct(t.runnable, span)}, blocked ${pct(t.blocked, span)}, idle ${pct(t.idle, span)}`
      : `inside slices ${pct(t.blocked, span)}, idle ${pct(t.idle, span)} (no CPU readings)`;
    bar.append(strip);
    tr.append(bar, el('td', 'num', t.measured ? pct(t.running, span) : '—'), el('td', 'num', pct(t.waiting, span)));
    threads.append(tr);
  }
  box.append(threads);
  box.append(el('h3', '', 'Top slices by self time'));
  const top = el('table');
  for (const x of s.slices) {
    const tr = el('tr');
    tr.append(el('td', '', x.name), el('td', 'num', formatDuration(x.self)));
    top.append(tr);
  }
  box.append(top);
  box.append(el('h3', '', `Lock waits: ${formatDuration(s.locks.total)} in ${s.locks.count}`));
  const locks = el('table');
  for (const x of s.locks.threads.slice(0, 10)) {
    const tr = el('tr');
    tr.append(el('td', '', `${x.name} (${x.tid})`), el('td', 'num', `${formatDuration(x.total)} · ${x.count}`));
    locks.append(tr);
  }
  box.append(locks);
  box.append(el('h3', '', `IPC: ${formatDuration(s.ipc.total)} in ${s.ipc.count}`));
  const ipc = el('table');
  for (const x of s.ipc.threads.slice(0, 10)) {
    const tr = el('tr');
    tr.append(el('td', '', `${x.name} (${x.tid})`), el('td', 'num', `${formatDuration(x.total)} · ${x.count}`));
    ipc.append(tr);
  }
  box.append(ipc);
  body.append(box);
  if (!$('flame-panel').hidden) updateFlame();
}

function pct(v, total) { return `${((v / Math.max(1, total)) * 100).toFixed(v / Math.max(1, total) < 0.1 ? 1 : 0)} %`; }

function clearRange() {
  state.timeline.range = null;
  state.rangeWindow = null;
  delete document.body.dataset.range;
  $('details').querySelector('h2').textContent = 'Details';
  $('details-body').textContent = 'Click a slice, or drag on the ruler (Shift+drag anywhere) to select a range. Click a thread, process or task name to fold it; the strip under the ruler is the whole trace (click to go there). W/S zoom, A/D pan, wheel scrolls, Ctrl+wheel zooms, Z zooms to the range, F opens the flame graph. Drop a Chrome trace file onto the page to open it.';
  state.timeline.render();
  if (!$('flame-panel').hidden) updateFlame();
}

/** The flame graph for the chosen source and scope, within the selected range if any. */
function updateFlame() {
  const data = state.data;
  if (!data) return;
  const source = $('flame-source').value;
  const scope = $('flame-scope').value;
  let threads = null;
  const ti = state.selectedThread;
  if (scope === 'thread' && ti >= 0) threads = new Set([ti]);
  if (scope === 'process' && ti >= 0) {
    const p = data.processes.find((x) => x.threads.includes(ti));
    if (p) threads = new Set(p.threads);
  }
  const r = state.timeline.range;
  const range = r ? { t0: Math.min(r.t0, r.t1), t1: Math.max(r.t0, r.t1) } : {};
  // Slices sent on demand: the slice flame graph is of a selected range's slices, fetched
  // (every one of them, up to the server's cap) when first needed.
  const from = source === 'slices' && data.onDemand ? state.rangeWindow : data;
  if (!from) {
    if (state.flame) { state.flame.show([], source); }
    document.body.dataset.flame = '0';
    if (!r) {
      $('flame-info').textContent = 'this trace\'s slices stay on the server: select a range (drag on the ruler) for their flame graph';
      return;
    }
    $('flame-info').textContent = 'asking the server for the range\'s slices…';
    const all = threadRanges(data.threads.map((t) => t.index));
    const asked = state.timeline.range;
    fetchWindow({ t0: range.t0, t1: range.t1, npp: 1, full: 'force', threads: all }).then((win) => {
      if (state.timeline.range !== asked) return;
      if (win.error) {
        $('flame-info').textContent = `${win.candidates.toLocaleString()} slices in this range — more than the ${win.cap.toLocaleString()} a slice flame graph is built from when slices are sent on demand: select a narrower range`;
        return;
      }
      state.rangeWindow = win;
      updateFlame();
    }, (e) => { $('flame-info').textContent = `slices unavailable: ${e.message}`; });
    return;
  }
  const tree = flameTree(from, { source, threads, ...range });
  state.flameQuery = { source, threads, from, ...range };
  if (!state.flame) state.flame = new FlameView($('flame'));
  state.flame.resize();
  state.flame.picked = null;
  state.flame.show(flameLayout(tree, 0.0005), source);
  const what = source === 'samples' ? `${tree.value.toLocaleString()} samples` : `${formatDuration(tree.value)} of self time`;
  $('flame-info').textContent = tree.value > 0 ? `${what}${r ? ' in the range' : ''} · click a frame to mark it on the timeline` : (source === 'samples' ? 'no stack samples here (record with CCTRACE_SAMPLE_HZ=100, or cctrace record)' : 'no slices here');
  document.body.dataset.flame = String(tree.value);
}

function toggleFlame() {
  const panel = $('flame-panel');
  panel.hidden = !panel.hidden;
  state.timeline.resize();
  if (!panel.hidden) updateFlame();
}

function pickFlame(x, y) {
  const hit = state.flame && state.flame.pick(x, y);
  if (!hit || hit.depth === 0) return;
  state.flame.picked = hit.node.path;
  state.flame.render();
  const q = state.flameQuery;
  const t = state.timeline;
  if (q.source === 'samples') {
    t.sampleMarks = samplesThrough(state.data, hit.node.path, q);
    t.highlight = new Set();
  } else {
    const local = slicesThrough(q.from, hit.node.path);
    t.highlight = new Set(q.from.index ? local.map((i) => q.from.index[i]) : local);
    t.sampleMarks = [];
  }
  const n = q.source === 'samples' ? t.sampleMarks.length : t.highlight.size;
  $('flame-info').textContent = `${hit.node.name}: ${q.source === 'samples' ? `${hit.node.value} samples` : formatDuration(hit.node.value)} · ${n} marked on the timeline`;
  document.body.dataset.flamePicked = String(n);
  t.render();
}

async function runSearch(query) {
  if (state.data.onDemand) {
    // The server searches every slice's name; matches come with their times.
    state.searching = query;
    const response = await fetch(`data/search?q=${encodeURIComponent(query)}`);
    const found = await response.json();
    if (state.searching !== query) return;
    state.matchTimes = found;
    state.matches = found.index;
  } else {
    state.matches = search(state.data, query);
  }
  state.match = -1;
  state.timeline.highlight = new Set(state.matches.slice(0, 5000));
  $('search-count').textContent = query ? `${state.matches.length}${state.matches.length >= 10000 ? '+' : ''} matches` : '';
  state.timeline.render();
}

function nextMatch() {
  if (state.matches.length === 0) return;
  state.match = (state.match + 1) % state.matches.length;
  const i = state.matches[state.match];
  if (state.data.onDemand) {
    const m = state.matchTimes, k = state.match;
    state.timeline.reveal(m.start[k], m.start[k] + m.dur[k], i, m.depth[k]);
  } else {
    state.timeline.reveal(state.data.start[i], state.data.start[i] + state.data.dur[i], i);
  }
  showDetails(i);
}

function wireEvents() {
  const canvas = $('timeline');
  let drag = null;
  canvas.addEventListener('mousedown', (e) => {
    if (!state.timeline) return;
    const hit = state.timeline.pick(e.offsetX, e.offsetY);
    const t = state.timeline;
    let mode = 'pan';
    if (hit.minimap) { mode = 'minimap'; t.centre(t.minimapTimeAt(e.offsetX)); }
    else if ((hit.ruler || e.shiftKey) && e.offsetX >= LABEL_WIDTH) mode = 'range';
    drag = { x: e.offsetX, startX: e.offsetX, moved: false, mode, at: t.timeAt(e.offsetX) };
    canvas.focus();
  });
  window.addEventListener('mousemove', (e) => {
    if (!drag || !state.timeline) return;
    const t = state.timeline;
    const x = e.target === canvas ? e.offsetX : drag.x;
    if (Math.abs(x - drag.startX) > 2) drag.moved = true;
    if (!drag.moved) return;
    if (drag.mode === 'pan') { t.pan(-(x - drag.x) * t.nsPerPx()); drag.x = x; }
    else if (drag.mode === 'minimap') t.centre(t.minimapTimeAt(x));
    else { t.range = { t0: drag.at, t1: t.timeAt(x) }; t.render(); }
  });
  window.addEventListener('mouseup', (e) => {
    const t = state.timeline;
    if (drag && t) {
      if (drag.mode === 'range' && drag.moved && t.range) {
        const t0 = Math.min(t.range.t0, t.range.t1), t1 = Math.max(t.range.t0, t.range.t1);
        t.range = { t0, t1 };
        t.render();
        showRange(t0, t1);
      } else if (!drag.moved && e.target === canvas) {
        const hit = t.pick(e.offsetX, e.offsetY);
        if (hit.process !== undefined) t.toggleProcess(hit.process);
        else if (hit.thread !== undefined) t.toggleThread(hit.thread);
        else if (hit.task !== undefined) t.toggleTask(hit.task);
        else if (hit.taskGroup !== undefined) t.toggleTaskGroup(hit.taskGroup);
        else if (hit.slice !== undefined) showDetails(hit.slice);
      }
    }
    drag = null;
  });
  canvas.addEventListener('wheel', (e) => {
    if (!state.timeline) return;
    e.preventDefault();
    if (e.ctrlKey || e.metaKey || e.altKey) {
      state.timeline.zoom(Math.pow(1.0015, e.deltaY), state.timeline.timeAt(e.offsetX));
    } else {
      if (e.deltaX) state.timeline.pan(e.deltaX * state.timeline.nsPerPx());
      if (e.deltaY) state.timeline.scrollBy(e.deltaY);
    }
  }, { passive: false });
  window.addEventListener('keydown', (e) => {
    if (!state.timeline || e.target === $('search') || e.target.tagName === 'SELECT') return;
    const t = state.timeline;
    const span = t.t1 - t.t0;
    switch (e.key.toLowerCase()) {
      case 'w': t.zoom(0.8); break;
      case 's': t.zoom(1.25); break;
      case 'a': t.pan(-span * 0.15); break;
      case 'd': t.pan(span * 0.15); break;
      case '0': t.reveal(0, t.data.duration); break;
      case 'f': toggleFlame(); break;
      case 'z': if (t.range) t.reveal(t.range.t0, t.range.t1); break;
      case 'escape': clearRange(); break;
      default: return;
    }
    e.preventDefault();
  });
  window.addEventListener('resize', () => {
    if (!state.timeline) return;
    state.timeline.resize();
    if (!$('flame-panel').hidden) updateFlame();
  });
  $('search').addEventListener('input', (e) => state.data && runSearch(e.target.value));
  $('search').addEventListener('keydown', (e) => { if (e.key === 'Enter') nextMatch(); });
  $('flame-toggle').addEventListener('click', () => state.timeline && toggleFlame());
  $('flame-source').addEventListener('change', updateFlame);
  $('flame-scope').addEventListener('change', updateFlame);
  $('flame').addEventListener('click', (e) => pickFlame(e.offsetX, e.offsetY));
  // Drop a raw Chrome trace onto the page: parsed in a worker.
  window.addEventListener('dragover', (e) => { e.preventDefault(); document.body.classList.add('dragging'); });
  window.addEventListener('dragleave', () => document.body.classList.remove('dragging'));
  window.addEventListener('drop', async (e) => {
    e.preventDefault();
    document.body.classList.remove('dragging');
    const file = e.dataTransfer.files[0];
    if (file) openText(await file.text(), file.name);
  });
}

/** Opens a raw Chrome trace's text (parsed off the main thread when a worker is available). */
async function openText(text, name) {
  setStatus(`parsing ${name}…`);
  const done = (doc) => { doc.trace = name; state.server = false; load(doc); };
  const here = () => {
    try { done(parseChromeTrace(text)); } catch (e) { setStatus(`could not parse ${name}: ${e.message}`); }
  };
  try {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (m) => {
      worker.terminate();
      if (m.data.ok) done(m.data.doc); else setStatus(`could not parse ${name}: ${m.data.error}`);
    };
    // A self-contained file (file://) cannot start the worker: parse here instead.
    worker.onerror = (e) => { e.preventDefault(); worker.terminate(); here(); };
    worker.postMessage(text);
  } catch (e) {
    here();
  }
}
state.openText = openText;
state.showRange = (t0, t1) => { state.timeline.range = { t0, t1 }; state.timeline.render(); return showRange(t0, t1); };
state.runSearch = runSearch;
state.toggleFlame = toggleFlame;
state.showDetails = showDetails;
state.pickFlame = pickFlame;

/** Benchmark hook: n zoom/pan frames, each rendered synchronously; returns frame times (ms). */
state.benchPanZoom = (n = 60) => {
  const t = state.timeline;
  const times = [];
  for (let i = 0; i < n; i++) {
    const span = t.t1 - t.t0;
    if (i % 3 === 0) t.zoom(i % 6 === 0 ? 0.7 : 1.4); else t.pan(span * (i % 2 ? 0.1 : -0.1));
    times.push(t.frameTimes[t.frameTimes.length - 1]);
  }
  return times;
};

wireEvents();
start();
