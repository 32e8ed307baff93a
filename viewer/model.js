// model.js — what the timeline draws, computed from the document `cctrace view` serves (or
// the one parse.js builds from a dropped file): typed arrays, tracks and their layout, level
// of detail, hit testing, search, CPU states, range statistics, flame graphs, and two traces
// merged for comparison. No DOM here: `node --test` covers it.

/** Slice kinds (as ViewerData writes them) and their colours. */
export const KIND_NAMES = ['work', 'lock wait', 'lock hold', 'loop', 'IPC', 'task run', 'process', 'I/O wait', 'waiting'];
export const KIND_COLORS = [null, '#d9463b', '#f0a030', '#3f7fd9', '#8e5bd0', '#2a9d8f', '#8a8f98', '#e3c341', '#c8ccd2'];

/** CPU states of a thread, as the band under its name draws them. */
export const CPU_STATES = ['running', 'runnable', 'blocked', 'idle'];
export const CPU_COLORS = ['#2e9e4f', '#f08c1a', '#c9b8e8', '#eceef1'];

export const ROW_HEIGHT = 18;
export const HEADER_HEIGHT = 20;
export const COUNTER_HEIGHT = 32;
export const MAX_ROWS = 16;
/**
 * Task lanes of one process shown before the rest are folded under their parents: about two
 * screens of 22-pixel lanes — past that, lanes push the threads out of sight and a row of how
 * many were alive says more than a column of thin bars.
 */
export const OPEN_TASK_LANES = 40;

/** Turns the JSON document into typed arrays plus per-track indexes. */
export function prepare(input) {
  const doc = input.compare ? mergeDocuments(input, input.compare) : input;
  const s = doc.slices;
  const n = s.start.length;
  const data = {
    doc,
    strings: doc.strings,
    colors: doc.strings.map(nameColor),
    start: Float64Array.from(s.start),
    dur: Float64Array.from(s.dur),
    depth: Int32Array.from(s.depth),
    name: Int32Array.from(s.name),
    kind: Uint8Array.from(s.kind),
    parent: new Int32Array(n).fill(-1),
    count: n,
    duration: doc.duration_ns,
    threads: doc.threads.map((t, i) => ({ ...t, index: i, maxDur: 0, top: null, cpu: prepareCPU(t.cpu) })),
    processes: (doc.processes.length ? doc.processes : [{ pid: 0, name: 'trace', threads: doc.threads.map((_, i) => i) }])
      .map((p, i) => ({ ...p, index: i })),
    asyncTracks: [],
    counters: doc.counters || [],
    flows: doc.flows || { from_thread: [], from_t: [], to_thread: [], to_t: [], kind: [] },
    frames: { name: Int32Array.from(doc.frames?.name || []), parent: Int32Array.from(doc.frames?.parent || []) },
    samples: { t: Float64Array.from(doc.samples?.t || []), thread: Int32Array.from(doc.samples?.thread || []), frame: Int32Array.from(doc.samples?.frame || []) },
    args: doc.args || null,
    report: doc.report || null,
    diff: doc.diff || null,
  };
  // Slices sent on demand (a trace too big to send whole): the server answers windows
  // (prepareWindow); the document brings each thread's longest slice and the minimap.
  if (s.on_demand) {
    data.onDemand = true;
    data.count = s.count;
    data.activityBins = Float64Array.from(s.activity || []);
    for (const t of data.threads) { t.maxDur = t.max_dur || 0; t.top = new Int32Array(0); }
  }
  // Per thread: the longest slice (for searches that start early enough), each slice's
  // parent, and the outermost slices (for CPU states and the minimap).
  // The most recent slice at each depth: a slice's parent is the one a level up (slices
  // come by start, and the importer gave each its depth).
  const stack = new Int32Array(1024).fill(-1);
  for (const t of data.onDemand ? [] : data.threads) {
    let m = 0;
    const top = [];
    for (let i = t.first; i < t.end; i++) {
      const d = data.dur[i];
      if (d > m) m = d;
      const depth = data.depth[i];
      if (depth === 0) top.push(i);
      else if (depth <= stack.length) data.parent[i] = stack[depth - 1];
      if (depth < stack.length) stack[depth] = i;
    }
    t.maxDur = m;
    t.top = Int32Array.from(top);
  }
  // Async tracks: their slices, sorted by start; tasks as a tree.
  const a = doc.async || { track: [], start: [], dur: [], depth: [], name: [] };
  const tracks = (doc.async_tracks || []).map((t, i) => ({ kind: 'async', parent: -1, ...t, index: i, items: [], maxDepth: 0, maxDur: 0, children: [] }));
  for (let i = 0; i < a.track.length; i++) {
    const t = tracks[a.track[i]];
    if (!t) continue;
    t.items.push(i);
    if (a.depth[i] > t.maxDepth) t.maxDepth = a.depth[i];
    if (a.dur[i] > t.maxDur) t.maxDur = a.dur[i];
  }
  for (const t of tracks) {
    t.items.sort((x, y) => a.start[x] - a.start[y]);
    if (t.parent >= 0 && tracks[t.parent] && t.parent !== t.index) tracks[t.parent].children.push(t.index);
    else t.parent = -1;
  }
  data.async = a;
  data.asyncTracks = tracks;
  return data;
}

/**
 * A window of slices the server sent (a trace sent on demand) as data the drawing, hit
 * testing, range statistics and flame graphs read like the whole trace's: typed columns, per
 * thread `first`/`end`/`maxDur`/`top`, each entry's slice in the whole trace (`index`), and
 * for a full window each entry's parent within it. `merged` entries stand for runs of slices
 * narrower than a pixel at `npp`.
 */
export function prepareWindow(answer, data) {
  const n = answer.index.length;
  const win = {
    onDemand: false,
    window: true,
    full: !!answer.full,
    t0: answer.t0, t1: answer.t1, npp: answer.npp,
    strings: answer.strings,
    colors: answer.strings.map(nameColor),
    index: Int32Array.from(answer.index),
    start: Float64Array.from(answer.start),
    dur: Float64Array.from(answer.dur),
    depth: Int32Array.from(answer.depth),
    name: Int32Array.from(answer.name),
    kind: Uint8Array.from(answer.kind),
    merged: answer.merged ? Uint8Array.from(answer.merged) : null,
    parent: new Int32Array(n).fill(-1),
    count: n,
    duration: data.duration,
    processes: data.processes,
    samples: data.samples,
    frames: data.frames,
    threadSet: new Set(answer.threads.map((t) => t.thread)),
    threads: data.threads.map((t) => ({ ...t, first: 0, end: 0, maxDur: 0, top: new Int32Array(0) })),
  };
  const stack = new Int32Array(1024).fill(-1);
  for (const r of answer.threads) {
    const t = win.threads[r.thread];
    if (!t) continue;
    t.first = r.first;
    t.end = r.end;
    let m = 0;
    const top = [];
    for (let i = r.first; i < r.end; i++) {
      if (win.dur[i] > m) m = win.dur[i];
      const d = win.depth[i];
      if (d === 0) top.push(i);
      else if (win.full && d <= stack.length) win.parent[i] = stack[d - 1];
      if (d < stack.length) stack[d] = i;
    }
    t.maxDur = m;
    t.top = Int32Array.from(top);
  }
  return win;
}

/**
 * Whether window `win` can draw [t0, t1) at `nsPerPx` for `threads`: it spans the time, holds
 * the threads, and is full (every slice) or at least as fine as the view.
 */
export function windowCovers(win, t0, t1, nsPerPx, threads) {
  if (!win || win.t0 > t0 || win.t1 < t1) return false;
  if (!win.full && nsPerPx < win.npp) return false;
  for (const t of threads) if (!win.threadSet.has(t)) return false;
  return true;
}

/** Thread indexes as the window request writes them: `0-3,7,9-12`. */
export function threadRanges(threads) {
  const sorted = [...new Set(threads)].sort((a, b) => a - b);
  const out = [];
  for (let k = 0; k < sorted.length;) {
    let j = k;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    out.push(j > k ? `${sorted[k]}-${sorted[j]}` : `${sorted[k]}`);
    k = j + 1;
  }
  return out.join(',');
}

function prepareCPU(cpu) {
  if (!cpu || !cpu.t || cpu.t.length === 0) return null;
  return { t: Float64Array.from(cpu.t), e: Float64Array.from(cpu.e), run: Float64Array.from(cpu.run), rq: Float64Array.from(cpu.rq) };
}

/**
 * Two documents as one, for comparing: `b`'s threads, slices, tasks, counters, flows and
 * samples follow `a`'s (indexes shifted), its processes are labelled "after", and both start
 * at time 0 — runs of one program line up from their starts.
 */
export function mergeDocuments(a, b) {
  const strings = a.strings.concat(b.strings);
  const so = a.strings.length;
  const to = a.threads.length;
  const sliceOffset = a.slices.start.length;
  const trackOffset = (a.async_tracks || []).length;
  const frameOffset = (a.frames?.name || []).length;
  const label = (side, p) => ({ ...p, name: `${side} · ${p.name}`, side });
  const aProcesses = a.processes.length ? a.processes : [{ pid: 0, name: 'trace', threads: a.threads.map((_, i) => i) }];
  const bProcesses = b.processes.length ? b.processes : [{ pid: 0, name: 'trace', threads: b.threads.map((_, i) => i) }];
  const cat = (x, y, f = (v) => v) => (x || []).concat((y || []).map(f));
  const async = (x) => x || { track: [], start: [], dur: [], depth: [], name: [] };
  const flows = (x) => x || { from_thread: [], from_t: [], to_thread: [], to_t: [], kind: [] };
  return {
    version: 1,
    start_ns: a.start_ns,
    duration_ns: Math.max(a.duration_ns, b.duration_ns),
    trace: `${a.trace} ⇄ ${b.trace}`,
    strings,
    processes: aProcesses.map((p) => label('before', p)).concat(bProcesses.map((p) => label('after', { ...p, threads: p.threads.map((t) => t + to) }))),
    threads: a.threads.concat(b.threads.map((t) => ({ ...t, first: t.first + sliceOffset, end: t.end + sliceOffset }))),
    slices: {
      start: cat(a.slices.start, b.slices.start), dur: cat(a.slices.dur, b.slices.dur), depth: cat(a.slices.depth, b.slices.depth),
      name: cat(a.slices.name, b.slices.name, (v) => v + so), kind: cat(a.slices.kind, b.slices.kind),
      category: a.slices.category && b.slices.category ? cat(a.slices.category, b.slices.category, (v) => v + so) : undefined,
    },
    async_tracks: (a.async_tracks || []).map((t) => ({ ...t, side: 'before' })).concat((b.async_tracks || []).map((t) => ({ ...t, side: 'after', parent: t.parent >= 0 ? t.parent + trackOffset : -1 }))),
    async: {
      track: cat(async(a.async).track, async(b.async).track, (v) => v + trackOffset),
      start: cat(async(a.async).start, async(b.async).start), dur: cat(async(a.async).dur, async(b.async).dur),
      depth: cat(async(a.async).depth, async(b.async).depth), name: cat(async(a.async).name, async(b.async).name, (v) => v + so),
    },
    counters: (a.counters || []).map((c) => ({ ...c, side: 'before' })).concat((b.counters || []).map((c) => ({ ...c, side: 'after' }))),
    flows: {
      from_thread: cat(flows(a.flows).from_thread, flows(b.flows).from_thread, (v) => v + to), from_t: cat(flows(a.flows).from_t, flows(b.flows).from_t),
      to_thread: cat(flows(a.flows).to_thread, flows(b.flows).to_thread, (v) => v + to), to_t: cat(flows(a.flows).to_t, flows(b.flows).to_t),
      kind: cat(flows(a.flows).kind, flows(b.flows).kind),
    },
    frames: {
      name: cat(a.frames?.name, b.frames?.name, (v) => v + so),
      parent: cat(a.frames?.parent, b.frames?.parent, (v) => (v >= 0 ? v + frameOffset : -1)),
    },
    samples: {
      t: cat(a.samples?.t, b.samples?.t), thread: cat(a.samples?.thread, b.samples?.thread, (v) => v + to),
      frame: cat(a.samples?.frame, b.samples?.frame, (v) => (v >= 0 ? v + frameOffset : -1)),
    },
    args: a.args || b.args ? { ...(a.args || {}), ...Object.fromEntries(Object.entries(b.args || {}).map(([k, v]) => [String(Number(k) + sliceOffset), v])) } : null,
    report: a.report,
    compared: { before: a.trace, after: b.trace, afterFirstSlice: sliceOffset, afterFirstThread: to, afterReport: b.report },
    diff: a.diff || null,
  };
}

/**
 * The tracks in display order: per process a header, its threads, its task lanes (as a tree:
 * a task's children under it), its other async lanes and actor lanes, its counters.
 * `state.collapsed` holds process indexes whose tracks are hidden; `state.threads` thread
 * indexes shown folded (the band and the outermost row); `state.tasks` task lanes whose
 * children are hidden (`state.tasksOpen` overrides the default of folding past
 * OPEN_TASK_LANES lanes, and opens a process's row of many top-level tasks, `tasks:<index>`).
 */
export function buildTracks(data, state = {}) {
  const collapsed = state.collapsed || new Set();
  const folded = state.threads || new Set();
  const foldedTasks = state.tasks || new Set();
  const openedTasks = state.tasksOpen || new Set();
  const tracks = [];
  let y = 0;
  for (const p of data.processes) {
    const open = !collapsed.has(p.index);
    tracks.push({ type: 'process', process: p.index, pid: p.pid, name: p.name, y, height: HEADER_HEIGHT, open });
    y += HEADER_HEIGHT;
    if (!open) continue;
    for (const ti of p.threads) {
      const t = data.threads[ti];
      if (!t) continue;
      const fold = folded.has(ti);
      // A thread without slices is its header and CPU band alone.
      const rows = t.end <= t.first ? 0 : fold ? 1 : Math.min(t.max_depth + 1, MAX_ROWS);
      const height = HEADER_HEIGHT + rows * ROW_HEIGHT;
      tracks.push({ type: 'thread', pid: p.pid, thread: ti, name: t.name, tid: t.tid, y, height, rows, folded: fold, canFold: t.max_depth > 0 });
      y += height;
    }
    const lanes = data.asyncTracks.filter((at) => at.pid === p.pid && sameSide(at, p));
    const roots = lanes.filter((at) => at.parent < 0);
    const manyTasks = lanes.filter((at) => at.kind === 'task' || at.kind === 'span').length > OPEN_TASK_LANES;
    const visit = (at, level) => {
      const rows = Math.min(at.maxDepth + 1, MAX_ROWS);
      const h = rows * ROW_HEIGHT + 4;
      const hasChildren = at.children.length > 0;
      const closed = hasChildren && (foldedTasks.has(at.index) || (manyTasks && !openedTasks.has(at.index)));
      tracks.push({ type: 'async', pid: p.pid, track: at.index, name: at.name, kind: at.kind, level, y, height: h, rows, hasChildren, closed, hidden: closed ? countDescendants(data, at) : 0 });
      y += h;
      if (!closed) for (const c of at.children) visit(data.asyncTracks[c], level + 1);
    };
    // Many top-level tasks (a task per connection) sit under one row of how many were alive,
    // folded until opened.
    const taskRoots = roots.filter((at) => at.kind === 'task' || at.kind === 'span');
    if (taskRoots.length > OPEN_TASK_LANES) {
      const key = `tasks:${p.index}`;
      const closed = !openedTasks.has(key);
      const noun = taskRoots.every((at) => at.kind === 'span') ? 'spans' : 'tasks';
      tracks.push({ type: 'tasks', pid: p.pid, key, name: `${taskRoots.length} ${noun}`, lanes: taskRoots.map((at) => at.index), y, height: ROW_HEIGHT + 4, closed });
      y += ROW_HEIGHT + 4;
      if (!closed) for (const at of taskRoots) visit(at, 1);
    } else {
      for (const at of taskRoots) visit(at, 0);
    }
    for (const at of roots) if (at.kind !== 'task' && at.kind !== 'span') visit(at, 0);
    data.counters.forEach((c, ci) => {
      if (c.pid !== p.pid || c.t.length === 0 || !sameSide(c, p)) return;
      tracks.push({ type: 'counter', pid: p.pid, counter: ci, name: c.name, y, height: COUNTER_HEIGHT });
      y += COUNTER_HEIGHT;
    });
  }
  return { tracks, height: y };
}

function countDescendants(data, at) {
  let n = 0;
  const stack = [...at.children];
  while (stack.length) {
    const c = data.asyncTracks[stack.pop()];
    n++;
    stack.push(...c.children);
  }
  return n;
}

/** Whether an async lane or counter belongs to process `p`'s side of a comparison (a pid may be in both). */
function sameSide(item, p) {
  return !p.side || !item.side || item.side === p.side;
}

/** First index in sorted `arr` (between lo and hi) whose value is ≥ v. */
export function lowerBound(arr, v, lo = 0, hi = arr.length) {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < v) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** First index in `items` (indexes into `starts`, sorted by start) whose start is ≥ v. */
export function lowerBoundIndirect(items, starts, v) {
  let lo = 0, hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[items[mid]] < v) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Level of detail: the rectangles to draw for thread `t` between t0 and t1 at `nsPerPx`.
 * Slices narrower than a pixel that fall into a pixel already drawn at their depth are
 * merged, so the work per frame is bounded by what is visible, and a million tiny slices
 * become at most a few thousand rectangles. Calls draw(index, x0, x1, depth, merged).
 */
export function visibleRects(data, t, t0, t1, nsPerPx, draw, maxRows = MAX_ROWS) {
  const { start, dur, depth } = data;
  const from = lowerBound(start, t0 - t.maxDur, t.first, t.end);
  const to = lowerBound(start, t1, from, t.end);
  const lastPx = new Float64Array(MAX_ROWS).fill(-Infinity);
  let drawn = 0;
  for (let i = from; i < to; i++) {
    const end = start[i] + dur[i];
    if (end < t0) continue;
    const d = depth[i];
    if (d >= maxRows) continue;
    const x0 = (start[i] - t0) / nsPerPx;
    const x1 = (end - t0) / nsPerPx;
    // Whole pixel columns: a slice inside a column already drawn on this row adds nothing.
    const px0 = Math.floor(x0);
    const px1 = Math.max(px0 + 1, Math.ceil(x1));
    if (px1 <= lastPx[d]) continue;
    const merged = x1 - x0 < 1;
    const from = Math.max(px0, lastPx[d]);
    lastPx[d] = px1;
    draw(i, merged ? from : x0, merged ? px1 : Math.max(x1, x0 + 1), d, merged);
    drawn++;
  }
  return drawn;
}

/** The slice of thread `t` under time `time` at row `row`, or -1. */
export function hitTest(data, t, time, row, tolerance = 0) {
  const { start, dur, depth } = data;
  const from = lowerBound(start, time - t.maxDur - tolerance, t.first, t.end);
  const to = lowerBound(start, time + tolerance + 1, from, t.end);
  let best = -1;
  for (let i = from; i < to; i++) {
    if (depth[i] !== row) continue;
    if (start[i] - tolerance <= time && start[i] + dur[i] + tolerance >= time) {
      if (best < 0 || dur[i] < dur[best]) best = i;
    }
  }
  return best;
}

/** Slice indexes whose name contains `query` (case-insensitive), at most `limit`, by start. */
export function search(data, query, limit = 10000) {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const hits = new Uint8Array(data.strings.length);
  let any = false;
  data.strings.forEach((s, i) => {
    if (String(s).toLowerCase().includes(q)) { hits[i] = 1; any = true; }
  });
  if (!any) return [];
  const out = [];
  for (let i = 0; i < data.count && out.length < limit; i++) if (hits[data.name[i]]) out.push(i);
  out.sort((a, b) => data.start[a] - data.start[b]);
  return out;
}

/** The thread that owns slice `i`. */
export function threadOf(data, i) {
  for (const t of data.threads) if (i >= t.first && i < t.end) return t.index;
  return -1;
}

/**
 * A work slice's colour, from its name's characters: the same name gets the same colour in
 * every window the server sends and in the whole trace.
 */
export function nameColor(name) {
  let h = 0;
  const s = String(name);
  for (let k = 0; k < s.length; k++) h = (Math.imul(h, 31) + s.charCodeAt(k)) | 0;
  return `hsl(${((h % 360) + 360) % 360} 45% 62%)`;
}

/** Nanoseconds of [a0, a1) inside [b0, b1). */
function overlap(a0, a1, b0, b1) {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
}

/** Nanoseconds of thread `t`'s outermost slices inside [t0, t1): the time it was busy. */
export function busyTime(data, t, t0, t1) {
  const top = t.top;
  let k = Math.max(0, lowerBoundIndirect(top, data.start, t0) - 1);
  let busy = 0;
  for (; k < top.length; k++) {
    const i = top[k];
    if (data.start[i] >= t1) break;
    busy += overlap(data.start[i], data.start[i] + data.dur[i], t0, t1);
  }
  return busy;
}

/**
 * Thread `t`'s CPU states in [t0, t1) (nanoseconds): running and runnable from its CPU
 * readings; of the rest, blocked while it was inside a slice (it had work and waited) and idle
 * otherwise. Without readings: `measured` false, busy time as blocked (unknown on or off CPU).
 */
export function cpuStates(data, t, t0, t1) {
  const out = { running: 0, runnable: 0, blocked: 0, idle: 0, measured: !!t.cpu };
  const span = Math.max(0, t1 - t0);
  if (!t.cpu) {
    const busy = busyTime(data, t, t0, t1);
    out.blocked = busy;
    out.idle = span - busy;
    return out;
  }
  const c = t.cpu;
  let k = Math.max(0, lowerBound(c.t, t0) - 1);
  let covered = 0;
  for (; k < c.t.length && c.t[k] < t1; k++) {
    const o = overlap(c.t[k], c.e[k], t0, t1);
    if (o <= 0) continue;
    covered += o;
    const run = o * c.run[k], rq = o * c.rq[k];
    out.running += run;
    out.runnable += rq;
    const rest = o - run - rq;
    const busy = Math.min(o, busyTime(data, t, Math.max(c.t[k], t0), Math.min(c.e[k], t1)));
    const blocked = Math.max(0, Math.min(rest, busy - run - rq));
    out.blocked += blocked;
    out.idle += rest - blocked;
  }
  out.idle += Math.max(0, span - covered);
  return out;
}

/**
 * What happened in [t0, t1): per thread its CPU states and its time in wait slices (lock, I/O,
 * IPC, waiting for a result — what the trace says it waited for); the top slice names by self time
 * (each slice's time inside the range less its children's); lock waits and IPC per thread.
 */
export function rangeStats(data, t0, t1, top = 12) {
  const threads = [];
  const selfByName = new Map();
  const lockByThread = [];
  const ipcByThread = [];
  let lockTotal = 0, lockCount = 0, ipcTotal = 0, ipcCount = 0;
  for (const t of data.threads) {
    const states = cpuStates(data, t, t0, t1);
    const from = lowerBound(data.start, t0 - t.maxDur, t.first, t.end);
    const to = lowerBound(data.start, t1, from, t.end);
    let lock = 0, locks = 0, ipc = 0, ipcs = 0, waiting = 0;
    for (let i = from; i < to; i++) {
      const inside = overlap(data.start[i], data.start[i] + data.dur[i], t0, t1);
      if (inside <= 0) continue;
      // Waits by kind (lock wait, IPC, I/O wait, waiting for a result), outermost only.
      const k = data.kind[i];
      if (k === 1 || k === 4 || k === 7 || k === 8) {
        let nested = false;
        for (let p = data.parent[i]; p >= 0 && !nested; p = data.parent[p]) { const pk = data.kind[p]; nested = pk === 1 || pk === 4 || pk === 7 || pk === 8; }
        if (!nested) waiting += inside;
      }
      const name = data.name[i];
      selfByName.set(name, (selfByName.get(name) || 0) + inside);
      const p = data.parent[i];
      if (p >= 0) selfByName.set(data.name[p], (selfByName.get(data.name[p]) || 0) - inside);
      if (data.kind[i] === 1) { lock += inside; locks++; }
      if (data.kind[i] === 4) { ipc += inside; ipcs++; }
    }
    if (states.running + states.runnable + states.blocked > 0 || lock > 0 || ipc > 0) {
      threads.push({ thread: t.index, name: t.name, tid: t.tid, ...states, waiting });
    }
    if (locks) lockByThread.push({ thread: t.index, name: t.name, tid: t.tid, total: lock, count: locks });
    if (ipcs) ipcByThread.push({ thread: t.index, name: t.name, tid: t.tid, total: ipc, count: ipcs });
    lockTotal += lock; lockCount += locks; ipcTotal += ipc; ipcCount += ipcs;
  }
  threads.sort((a, b) => (b.running + b.runnable + b.blocked) - (a.running + a.runnable + a.blocked));
  const slices = [...selfByName.entries()].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, self]) => ({ name: data.strings[name], self }));
  lockByThread.sort((a, b) => b.total - a.total);
  ipcByThread.sort((a, b) => b.total - a.total);
  return { t0, t1, threads, slices, locks: { total: lockTotal, count: lockCount, threads: lockByThread }, ipc: { total: ipcTotal, count: ipcCount, threads: ipcByThread } };
}

/**
 * A flame graph (icicle: callers on top) as a tree of { name, value, children (Map by name),
 * path }. `source` 'samples': the profiler's stack samples counted; 'slices': slice self time
 * along the slice nesting. Limited to `threads` (a Set of indexes, or null for all) and to
 * [t0, t1).
 */
export function flameTree(data, { source = 'samples', threads = null, t0 = -Infinity, t1 = Infinity } = {}) {
  const root = { name: 'all', value: 0, children: new Map(), path: '' };
  const add = (names, value) => {
    let node = root;
    node.value += value;
    for (const name of names) {
      let child = node.children.get(name);
      if (!child) { child = { name, value: 0, children: new Map(), path: node.path + '\u0000' + name }; node.children.set(name, child); }
      child.value += value;
      node = child;
    }
  };
  if (source === 'samples') {
    const { t, thread, frame } = data.samples;
    const names = data.frames.name, parents = data.frames.parent;
    for (let k = 0; k < t.length; k++) {
      if (t[k] < t0 || t[k] >= t1 || (threads && !threads.has(thread[k])) || frame[k] < 0) continue;
      add(framePath(data, frame[k], names, parents), 1);
    }
  } else {
    for (const th of data.threads) {
      if (threads && !threads.has(th.index)) continue;
      const from = lowerBound(data.start, t0 - th.maxDur, th.first, th.end);
      const to = Number.isFinite(t1) ? lowerBound(data.start, t1, from, th.end) : th.end;
      const self = new Map();
      for (let i = from; i < to; i++) {
        const inside = overlap(data.start[i], data.start[i] + data.dur[i], t0, t1);
        if (inside <= 0) continue;
        self.set(i, (self.get(i) || 0) + inside);
        const p = data.parent[i];
        if (p >= 0) self.set(p, (self.get(p) || 0) - inside);
      }
      for (const [i, v] of self) {
        if (v <= 0) continue;
        const path = [];
        for (let j = i; j >= 0; j = data.parent[j]) path.push(data.strings[data.name[j]]);
        add(path.reverse(), v);
      }
    }
  }
  return root;
}

/** A stack sample's frames, outermost first. */
export function framePath(data, leaf, names = data.frames.name, parents = data.frames.parent) {
  const out = [];
  for (let f = leaf, guard = 0; f >= 0 && guard < 1024; f = parents[f], guard++) out.push(data.strings[names[f]]);
  return out.reverse();
}

/**
 * The icicle's rectangles: { node, depth, x0, x1 } with x in 0…1 of the root's value, nodes
 * narrower than `minWidth` left out (and their children).
 */
export function flameLayout(root, minWidth = 0.001) {
  const out = [];
  const visit = (node, depth, x0) => {
    const w = root.value > 0 ? node.value / root.value : 0;
    if (w < minWidth) return;
    out.push({ node, depth, x0, x1: x0 + w });
    let x = x0;
    const children = [...node.children.values()].sort((a, b) => b.value - a.value);
    for (const c of children) { visit(c, depth + 1, x); x += root.value > 0 ? c.value / root.value : 0; }
  };
  visit(root, 0, 0);
  return out;
}

/** The samples whose stack passes through the flame node at `path` (as flameTree builds it). */
export function samplesThrough(data, path, { threads = null, t0 = -Infinity, t1 = Infinity } = {}) {
  const names = path.split('\u0000').slice(1);
  const out = [];
  const { t, thread, frame } = data.samples;
  for (let k = 0; k < t.length; k++) {
    if (t[k] < t0 || t[k] >= t1 || (threads && !threads.has(thread[k])) || frame[k] < 0) continue;
    const p = framePath(data, frame[k]);
    if (p.length < names.length) continue;
    let match = true;
    for (let j = 0; j < names.length && match; j++) match = p[j] === names[j];
    if (match) out.push(k);
  }
  return out;
}

/** The slices whose nesting path is `path` (a flame node of the 'slices' source). */
export function slicesThrough(data, path, limit = 5000) {
  const names = path.split('\u0000').slice(1);
  if (names.length === 0) return [];
  const last = names[names.length - 1];
  const out = [];
  for (let i = 0; i < data.count && out.length < limit; i++) {
    if (data.strings[data.name[i]] !== last || data.depth[i] !== names.length - 1) continue;
    let ok = true;
    for (let j = names.length - 2, p = data.parent[i]; j >= 0 && ok; j--, p = p >= 0 ? data.parent[p] : -1) ok = p >= 0 && data.strings[data.name[p]] === names[j];
    if (ok) out.push(i);
  }
  return out;
}

/**
 * Activity over the whole trace in `bins` columns: per column, how many threads were busy on
 * average (their outermost slices' time), for the minimap.
 */
export function activity(data, bins) {
  const out = new Float64Array(bins);
  if (data.activityBins) {
    // Sent by the server (slices on demand): its columns averaged into ours.
    const src = data.activityBins, m = src.length;
    for (let b = 0; b < bins && m > 0; b++) {
      const from = Math.floor((b * m) / bins), to = Math.max(from + 1, Math.floor(((b + 1) * m) / bins));
      let sum = 0;
      for (let k = from; k < to && k < m; k++) sum += src[k];
      out[b] = sum / (to - from);
    }
    return out;
  }
  const width = Math.max(1, data.duration) / bins;
  for (const t of data.threads) {
    for (const i of t.top) {
      let s = data.start[i];
      const e = s + data.dur[i];
      let b = Math.max(0, Math.floor(s / width));
      while (s < e && b < bins) {
        const edge = (b + 1) * width;
        out[b] += (Math.min(e, edge) - s) / width;
        s = edge;
        b++;
      }
    }
  }
  return out;
}

/**
 * How many of `lanes` (async track indexes) were inside a top-level slice, per pixel column
 * of [t0, t1) at `nsPerPx` (the row standing for many folded tasks).
 */
export function lanesAlive(data, lanes, t0, t1, nsPerPx, columns) {
  const out = new Float64Array(columns);
  const a = data.async;
  for (const l of lanes) {
    const at = data.asyncTracks[l];
    for (let k = lowerBoundIndirect(at.items, a.start, t0 - at.maxDur); k < at.items.length; k++) {
      const i = at.items[k];
      if (a.start[i] >= t1) break;
      if (a.depth[i] !== 0) continue;
      const x0 = Math.max(0, (a.start[i] - t0) / nsPerPx), x1 = Math.min(columns, (a.start[i] + a.dur[i] - t0) / nsPerPx);
      for (let x = Math.floor(x0); x < x1 && x < columns; x++) out[x] += Math.min(x + 1, x1) - Math.max(x, x0);
    }
  }
  return out;
}
