// model.js — what the timeline draws, computed from the document `cctrace view` serves (or
// the one parse.js builds from a dropped file): typed arrays, tracks and their layout, level
// of detail, hit testing and search. No DOM here: `node --test` covers it.

/** Slice kinds (as ViewerData writes them) and their colours. */
export const KIND_NAMES = ['work', 'lock wait', 'lock hold', 'loop', 'IPC', 'task run', 'process', 'I/O wait', 'waiting'];
export const KIND_COLORS = [null, '#d9463b', '#f0a030', '#3f7fd9', '#8e5bd0', '#2a9d8f', '#8a8f98', '#e3c341', '#c8ccd2'];

export const ROW_HEIGHT = 18;
export const HEADER_HEIGHT = 20;
export const COUNTER_HEIGHT = 32;
export const MAX_ROWS = 16;

/** Turns the JSON document into typed arrays plus per-track indexes. */
export function prepare(doc) {
  const s = doc.slices;
  const n = s.start.length;
  const data = {
    doc,
    strings: doc.strings,
    start: Float64Array.from(s.start),
    dur: Float64Array.from(s.dur),
    depth: Int32Array.from(s.depth),
    name: Int32Array.from(s.name),
    kind: Uint8Array.from(s.kind),
    count: n,
    duration: doc.duration_ns,
    threads: doc.threads.map((t, i) => ({ ...t, index: i, maxDur: 0 })),
    asyncTracks: [],
    counters: doc.counters || [],
    flows: doc.flows || { from_thread: [], from_t: [], to_thread: [], to_t: [], kind: [] },
    report: doc.report || null,
  };
  for (const t of data.threads) {
    let m = 0;
    for (let i = t.first; i < t.end; i++) if (data.dur[i] > m) m = data.dur[i];
    t.maxDur = m;
  }
  // Async tracks: their slices, sorted by start.
  const a = doc.async || { track: [], start: [], dur: [], depth: [], name: [] };
  const tracks = (doc.async_tracks || []).map((t, i) => ({ ...t, index: i, items: [], maxDepth: 0, maxDur: 0 }));
  for (let i = 0; i < a.track.length; i++) {
    const t = tracks[a.track[i]];
    if (!t) continue;
    t.items.push(i);
    if (a.depth[i] > t.maxDepth) t.maxDepth = a.depth[i];
    if (a.dur[i] > t.maxDur) t.maxDur = a.dur[i];
  }
  for (const t of tracks) t.items.sort((x, y) => a.start[x] - a.start[y]);
  data.async = a;
  data.asyncTracks = tracks;
  return data;
}

/**
 * The tracks in display order: per process a header, its threads, its async tracks, its
 * counters. `collapsed` is a Set of pids whose tracks are hidden.
 */
export function buildTracks(data, collapsed = new Set()) {
  const doc = data.doc;
  const tracks = [];
  const processes = doc.processes.length ? doc.processes : [{ pid: 0, name: 'trace', threads: data.threads.map((t) => t.index) }];
  let y = 0;
  for (const p of processes) {
    const open = !collapsed.has(p.pid);
    tracks.push({ type: 'process', pid: p.pid, name: p.name, y, height: HEADER_HEIGHT, open });
    y += HEADER_HEIGHT;
    if (!open) continue;
    for (const ti of p.threads) {
      const t = data.threads[ti];
      const rows = Math.min(t.max_depth + 1, MAX_ROWS);
      const height = HEADER_HEIGHT + rows * ROW_HEIGHT;
      tracks.push({ type: 'thread', pid: p.pid, thread: ti, name: t.name, tid: t.tid, y, height, rows });
      y += height;
    }
    for (const at of data.asyncTracks) {
      if (at.pid !== p.pid) continue;
      const rows = Math.min(at.maxDepth + 1, MAX_ROWS);
      tracks.push({ type: 'async', pid: p.pid, track: at.index, name: at.name, y, height: rows * ROW_HEIGHT + 4, rows });
      y += rows * ROW_HEIGHT + 4;
    }
    data.counters.forEach((c, ci) => {
      if (c.pid !== p.pid || c.t.length === 0) return;
      tracks.push({ type: 'counter', pid: p.pid, counter: ci, name: c.name, y, height: COUNTER_HEIGHT });
      y += COUNTER_HEIGHT;
    });
  }
  return { tracks, height: y };
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
export function visibleRects(data, t, t0, t1, nsPerPx, draw) {
  const { start, dur, depth } = data;
  const from = lowerBound(start, t0 - t.maxDur, t.first, t.end);
  const to = lowerBound(start, t1, from, t.end);
  const lastPx = new Float64Array(MAX_ROWS).fill(-Infinity);
  let drawn = 0;
  for (let i = from; i < to; i++) {
    const end = start[i] + dur[i];
    if (end < t0) continue;
    const d = depth[i];
    if (d >= MAX_ROWS) continue;
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

/** A stable colour for a work slice's name. */
export function nameColor(nameIndex) {
  const h = (nameIndex * 47) % 360;
  return `hsl(${h} 45% 62%)`;
}
