// app.js — the viewer page: loads the document (embedded in a self-contained file, or from
// the server), draws the timeline, the findings with the recommendation on top, slice
// details, search, keyboard and mouse, and files dropped onto the page (parsed in a worker).
// Every string from a trace goes into the page with textContent, never as HTML.
import { formatDuration } from './format.js';
import { prepare, search, threadOf, KIND_NAMES } from './model.js';
import { parseChromeTrace } from './parse.js';
import { Timeline } from './timeline.js';

const $ = (id) => document.getElementById(id);
const state = { data: null, timeline: null, matches: [], match: -1, metrics: {}, server: false };
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
  $('trace-name').textContent = doc.trace || '';
  const canvas = $('timeline');
  const timeline = new Timeline(canvas, data);
  state.timeline = timeline;
  timeline.resize();
  state.metrics.firstRenderMs = performance.now() - arrived;
  setStatus(`${data.count.toLocaleString()} slices · ${data.threads.length} threads · ${formatDuration(data.duration)}`);
  renderFindings(doc.report);
  document.body.dataset.loaded = 'true';
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

async function showDetails(i) {
  const data = state.data;
  const body = $('details-body');
  body.replaceChildren();
  document.body.dataset.selected = String(i);
  state.timeline.selected = i;
  state.timeline.render();
  const ti = threadOf(data, i);
  const thread = data.threads[ti];
  const rows = [
    ['name', data.strings[data.name[i]]],
    ['kind', KIND_NAMES[data.kind[i]] || 'work'],
    ['thread', thread ? `${thread.name} (${thread.tid}), pid ${thread.pid}` : '?'],
    ['start', formatDuration(data.start[i])],
    ['duration', formatDuration(data.dur[i])],
  ];
  for (const [k, v] of rows) {
    const p = el('div');
    p.append(el('b', '', `${k}: `), el('span', '', v));
    body.append(p);
  }
  if (!state.server) return;
  try {
    const response = await fetch(`data/slice/${i}`);
    const d = await response.json();
    if (state.timeline.selected !== i) return;
    const p = el('div');
    p.append(el('b', '', 'self: '), el('span', '', formatDuration(d.self_ns)));
    body.append(p, el('div', '', `category: ${d.category}`));
    if (d.args) {
      const frames = d.args.frames;
      if (Array.isArray(frames)) {
        body.append(el('b', '', 'stack:'));
        const pre = el('pre', '', frames.join('\n'));
        body.append(pre);
      }
      body.append(el('b', '', 'args:'), el('pre', '', JSON.stringify(d.args, null, 2)));
    }
  } catch (e) {
    body.append(el('div', '', `details unavailable: ${e.message}`));
  }
}

function runSearch(query) {
  state.matches = search(state.data, query);
  state.match = -1;
  state.timeline.highlight = new Set(state.matches.slice(0, 5000));
  $('search-count').textContent = query ? `${state.matches.length}${state.matches.length >= 10000 ? '+' : ''} matches` : '';
  state.timeline.render();
}

function nextMatch() {
  if (state.matches.length === 0) return;
  state.match = (state.match + 1) % state.matches.length;
  const i = state.matches[state.match];
  state.timeline.reveal(state.data.start[i], state.data.start[i] + state.data.dur[i], i);
  showDetails(i);
}

function wireEvents() {
  const canvas = $('timeline');
  let drag = null;
  canvas.addEventListener('mousedown', (e) => { drag = { x: e.offsetX, moved: false }; canvas.focus(); });
  window.addEventListener('mousemove', (e) => {
    if (!drag || !state.timeline) return;
    const dx = e.offsetX - drag.x;
    if (Math.abs(dx) > 2) drag.moved = true;
    if (drag.moved) { state.timeline.pan(-dx * state.timeline.nsPerPx()); drag.x = e.offsetX; }
  });
  window.addEventListener('mouseup', (e) => {
    if (drag && !drag.moved && state.timeline && e.target === canvas) {
      const hit = state.timeline.pick(e.offsetX, e.offsetY);
      if (hit.process !== undefined) state.timeline.toggleProcess(hit.process);
      else if (hit.slice !== undefined) showDetails(hit.slice);
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
    if (!state.timeline || e.target === $('search')) return;
    const t = state.timeline;
    const span = t.t1 - t.t0;
    switch (e.key.toLowerCase()) {
      case 'w': t.zoom(0.8); break;
      case 's': t.zoom(1.25); break;
      case 'a': t.pan(-span * 0.15); break;
      case 'd': t.pan(span * 0.15); break;
      case '0': t.reveal(0, t.data.duration); break;
      default: return;
    }
    e.preventDefault();
  });
  window.addEventListener('resize', () => state.timeline && state.timeline.resize());
  $('search').addEventListener('input', (e) => state.data && runSearch(e.target.value));
  $('search').addEventListener('keydown', (e) => { if (e.key === 'Enter') nextMatch(); });
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
