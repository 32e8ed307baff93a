// node --test viewer/test — the viewer's logic without a browser: data preparation, track
// layout, level of detail, hit testing, search, and the dropped-file parser.
import test from 'node:test';
import assert from 'node:assert/strict';
import { prepare, buildTracks, visibleRects, hitTest, search, lowerBound, MAX_ROWS, HEADER_HEIGHT, ROW_HEIGHT, cpuStates, rangeStats, flameTree, flameLayout, samplesThrough, slicesThrough, mergeDocuments, activity, lanesAlive, OPEN_TASK_LANES, prepareWindow, windowCovers, threadRanges } from '../model.js';
import { parseChromeTrace } from '../parse.js';
import { formatDuration, formatTick, tickStep } from '../format.js';

function doc({ slices = 3, perThread = null } = {}) {
  // Two threads in one process: thread 0 has `slices` nested pairs, thread 1 one slice.
  const start = [], dur = [], depth = [], name = [], kind = [];
  const n = perThread ?? slices;
  for (let i = 0; i < n; i++) {
    start.push(i * 100, i * 100 + 10); dur.push(50, 20); depth.push(0, 1); name.push(0, 1); kind.push(0, 1);
  }
  start.push(5); dur.push(1000); depth.push(0); name.push(2); kind.push(3);
  return {
    version: 1, start_ns: 0, duration_ns: n * 100 + 1000, strings: ['work', 'lock wait', '<img src=x onerror=alert(1)>'],
    processes: [{ pid: 7, name: 'app', threads: [0, 1] }],
    threads: [
      { pid: 7, tid: 70, name: 'main', first: 0, end: 2 * n, max_depth: 1 },
      { pid: 7, tid: 71, name: 'loop', first: 2 * n, end: 2 * n + 1, max_depth: 0 },
    ],
    slices: { start, dur, depth, name, kind },
    async_tracks: [{ pid: 7, name: 'task' }],
    async: { track: [0, 0], start: [0, 10], dur: [500, 100], depth: [0, 1], name: [0, 0] },
    counters: [{ pid: 7, name: 'loop lag', t: [0, 100], v: [1, 5] }],
    flows: { from_thread: [0], from_t: [10], to_thread: [1], to_t: [20], kind: [4] },
    report: null,
  };
}

test('tracks: a header per process, threads with a row per depth, tasks, counters', () => {
  const data = prepare(doc());
  const { tracks, height } = buildTracks(data);
  assert.deepEqual(tracks.map((t) => t.type), ['process', 'thread', 'thread', 'async', 'counter']);
  assert.equal(tracks[1].rows, 2);
  assert.equal(tracks[1].y, HEADER_HEIGHT);
  assert.equal(tracks[2].y, HEADER_HEIGHT + HEADER_HEIGHT + 2 * ROW_HEIGHT);
  assert.equal(height, tracks.at(-1).y + tracks.at(-1).height);
  const collapsed = buildTracks(data, { collapsed: new Set([0]) });
  assert.deepEqual(collapsed.tracks.map((t) => t.type), ['process']);
});

test('level of detail: a million sub-pixel slices become at most a few rectangles per pixel', () => {
  const n = 500_000;
  const data = prepare(doc({ perThread: n }));
  const t = data.threads[0];
  let rects = 0;
  const width = 1000;
  const drawn = visibleRects(data, t, 0, n * 100, (n * 100) / width, () => rects++);
  assert.equal(drawn, rects);
  assert.ok(rects <= 2 * width + 2, `${rects} rectangles for ${2 * n} slices`);
  // Zoomed in, every slice in view is drawn.
  let near = 0;
  visibleRects(data, t, 0, 1000, 1, () => near++);
  assert.equal(near, 20);
});

test('a slice that starts before the view but reaches into it is drawn', () => {
  const data = prepare(doc());
  const loop = data.threads[1];
  const seen = [];
  visibleRects(data, loop, 500, 600, 1, (i) => seen.push(i));
  assert.deepEqual(seen, [loop.first]);
});

test('hit testing finds the slice under a point, at its depth', () => {
  const data = prepare(doc());
  const t = data.threads[0];
  assert.equal(hitTest(data, t, 15, 1), 1);
  assert.equal(hitTest(data, t, 15, 0), 0);
  assert.equal(hitTest(data, t, 75, 0), -1);
});

test('search is case-insensitive over names and returns slices by start', () => {
  const data = prepare(doc());
  assert.deepEqual(search(data, 'LOCK'), [1, 3, 5]);
  assert.deepEqual(search(data, ''), []);
  assert.deepEqual(search(data, 'onerror'), [6]);
});

test('lowerBound', () => {
  assert.equal(lowerBound([1, 2, 2, 5], 2), 1);
  assert.equal(lowerBound([1, 2, 2, 5], 6), 4);
  assert.equal(lowerBound(Float64Array.from([1, 3]), 0), 0);
});

test('the dropped-file parser nests B/E and X per thread, reads names, counters and flows', () => {
  const text = JSON.stringify([
    { ph: 'M', name: 'thread_name', pid: 1, tid: 2, args: { name: 'worker' } },
    { ph: 'B', name: 'outer', pid: 1, tid: 2, ts: 0 },
    { ph: 'X', name: 'inner', pid: 1, tid: 2, ts: 1, dur: 2 },
    { ph: 'E', pid: 1, tid: 2, ts: 10 },
    { ph: 'C', name: 'queue', pid: 1, tid: 2, ts: 3, args: { depth: 4 } },
    { ph: 's', name: 'm', pid: 1, tid: 2, ts: 2, id: 9 },
    { ph: 'f', name: 'm', pid: 1, tid: 3, ts: 8, id: 9 },
  ]);
  const d = parseChromeTrace(text);
  const data = prepare(d);
  assert.equal(data.threads[0].name, 'worker');
  assert.deepEqual(Array.from(data.depth.slice(0, 2)), [0, 1]);
  assert.equal(data.strings[data.name[0]], 'outer');
  assert.equal(data.dur[0], 10_000);
  assert.equal(data.counters[0].v[0], 4);
  assert.equal(data.flows.from_t.length, 1);
});

test('a trace cut off by a crash still opens', () => {
  const d = parseChromeTrace('[\n{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":5},\n{"ph":"X","name":"b","pid":1,"tid":1,"ts":6,"dur');
  assert.equal(d.slices.start.length, 1);
});

test('formatting', () => {
  assert.equal(formatDuration(1_500_000), '1.50 ms');
  assert.equal(formatDuration(2e9), '2.00 s');
  assert.equal(tickStep(1000, 10), 100);
  assert.ok(MAX_ROWS >= 8);
});

test('a slice knows its parent; a thread its outermost slices', () => {
  const data = prepare(doc());
  assert.equal(data.parent[0], -1);
  assert.equal(data.parent[1], 0);
  assert.equal(data.parent[3], 2);
  assert.deepEqual([...data.threads[0].top], [0, 2, 4]);
});

test('CPU states: running and runnable from the readings, blocked inside a slice, idle outside', () => {
  const d = doc();
  // Thread 0 is inside slices during [0,50), [100,150), [200,250). Readings: [0,100) 40 % running,
  // 10 % runnable; [100,300) 0 % running.
  d.threads[0].cpu = { t: [0, 100], e: [100, 300], run: [0.4, 0], rq: [0.1, 0] };
  const data = prepare(d);
  const s = cpuStates(data, data.threads[0], 0, 100);
  assert.equal(s.measured, true);
  assert.ok(Math.abs(s.running - 40) < 1e-9 && Math.abs(s.runnable - 10) < 1e-9);
  // Inside a slice 50 ns, of which 50 on or wanting a CPU: nothing left blocked; the rest idle.
  assert.equal(s.blocked, 0);
  assert.ok(Math.abs(s.idle - 50) < 1e-9);
  const later = cpuStates(data, data.threads[0], 100, 300);
  assert.equal(later.running, 0);
  assert.equal(later.blocked, 100);
  assert.equal(later.idle, 100);
  // Without readings: busy time counts as blocked (unknown), the rest idle.
  const loop = cpuStates(data, data.threads[1], 0, 100);
  assert.equal(loop.measured, false);
  assert.equal(loop.blocked, 95);
});

test('range statistics: self time clipped to the range, lock waits per thread', () => {
  const data = prepare(doc());
  const s = rangeStats(data, 0, 100);
  // work [0,50) holds lock wait [10,30): work's self time 30, lock wait 20; the loop slice 95.
  const self = Object.fromEntries(s.slices.map((x) => [x.name, x.self]));
  assert.equal(self.work, 30);
  assert.equal(self['lock wait'], 20);
  assert.equal(self['<img src=x onerror=alert(1)>'], 95);
  assert.equal(s.locks.count, 1);
  assert.equal(s.locks.total, 20);
  assert.equal(s.locks.threads[0].name, 'main');
  assert.equal(s.threads.length, 2);
  // main's time in wait slices: its lock wait.
  assert.equal(s.threads.find((t) => t.name === 'main').waiting, 20);
});

test('flame graph of slice self time nests by the slices and sums to their time', () => {
  const data = prepare(doc());
  const root = flameTree(data, { source: 'slices', threads: new Set([0]) });
  assert.equal(root.value, 3 * 50);
  const work = root.children.get('work');
  assert.equal(work.value, 150);
  assert.equal(work.children.get('lock wait').value, 60);
  const rects = flameLayout(root);
  assert.equal(rects[0].x1, 1);
  assert.ok(rects.some((r) => r.depth === 2 && r.node.name === 'lock wait' && Math.abs(r.x1 - r.x0 - 0.4) < 1e-9));
  const marked = slicesThrough(data, work.children.get('lock wait').path);
  assert.deepEqual(marked, [1, 3, 5]);
});

test('flame graph of stack samples counts each sample along its frames, outermost first', () => {
  const d = doc();
  d.strings.push('main', 'parse', 'hash');
  const s0 = d.strings.length - 3;
  d.frames = { name: [s0, s0 + 1, s0 + 2], parent: [-1, 0, 0] };
  d.samples = { t: [10, 20, 30, 40], thread: [0, 0, 0, 1], frame: [1, 1, 2, -1] };
  const data = prepare(d);
  const root = flameTree(data);
  assert.equal(root.value, 3);
  const main = root.children.get('main');
  assert.equal(main.children.get('parse').value, 2);
  assert.equal(main.children.get('hash').value, 1);
  assert.deepEqual(samplesThrough(data, main.children.get('parse').path), [0, 1]);
  assert.equal(flameTree(data, { t0: 25, t1: 100 }).value, 1);
});

test('two documents merged: the indexes of the second shifted, its processes marked after', () => {
  const a = doc(), b = doc();
  b.async_tracks = [{ pid: 7, name: 'child', kind: 'task', parent: -1 }];
  const m = mergeDocuments(a, b);
  const n = a.slices.start.length;
  assert.equal(m.slices.start.length, 2 * n);
  assert.equal(m.threads[2].first, n);
  assert.equal(m.slices.name[n], a.strings.length);
  assert.deepEqual(m.processes.map((p) => p.side), ['before', 'after']);
  assert.deepEqual(m.processes[1].threads, [2, 3]);
  assert.equal(m.flows.from_thread[1], 2);
  const data = prepare({ ...a, compare: b });
  const { tracks } = buildTracks(data);
  // Each process shows only its own side's lanes and counters although the pids are equal.
  assert.deepEqual(tracks.map((t) => t.type), ['process', 'thread', 'thread', 'async', 'counter', 'process', 'thread', 'thread', 'async', 'counter']);
  assert.equal(tracks[8].name, 'child');
});

test('task lanes form a tree; many lanes start folded under their parents', () => {
  const d = doc();
  const n = OPEN_TASK_LANES + 5;
  d.async_tracks = [{ pid: 7, name: 'root', kind: 'task', parent: -1 }];
  d.async = { track: [0], start: [0], dur: [1000], depth: [0], name: [0] };
  for (let i = 1; i <= n; i++) {
    d.async_tracks.push({ pid: 7, name: `child ${i}`, kind: 'task', parent: 0 });
    d.async.track.push(i); d.async.start.push(i); d.async.dur.push(10); d.async.depth.push(0); d.async.name.push(0);
  }
  const data = prepare(d);
  const folded = buildTracks(data).tracks.filter((t) => t.type === 'async');
  assert.equal(folded.length, 1);
  assert.equal(folded[0].closed, true);
  assert.equal(folded[0].hidden, n);
  const open = buildTracks(data, { tasksOpen: new Set([0]) }).tracks.filter((t) => t.type === 'async');
  assert.equal(open.length, n + 1);
  assert.equal(open[1].level, 1);
});

test('a folded thread shows one row', () => {
  const data = prepare(doc());
  const t = buildTracks(data, { threads: new Set([0]) }).tracks.find((x) => x.type === 'thread');
  assert.equal(t.rows, 1);
  assert.equal(t.folded, true);
});

test('minimap activity: busy threads per column', () => {
  const data = prepare(doc());
  const a = activity(data, 4);
  // Duration 1300, columns of 325 ns: main is busy 150 ns in the first; the loop slice
  // [5,1005) covers 320 ns of it, the next two whole, and 30 ns of the last.
  const close = (x, y) => assert.ok(Math.abs(x - y) < 1e-9, `${x} vs ${y}`);
  close(a[0], (150 + 320) / 325);
  close(a[1], 1);
  close(a[2], 1);
  close(a[3], 30 / 325);
});

test('many top-level tasks sit under one row of how many were alive, folded until opened', () => {
  const d = doc();
  const n = OPEN_TASK_LANES + 10;
  d.async_tracks = [];
  d.async = { track: [], start: [], dur: [], depth: [], name: [] };
  for (let i = 0; i < n; i++) {
    d.async_tracks.push({ pid: 7, name: `conn ${i}`, kind: 'task', parent: -1 });
    // Each task alive [0, 100) plus i: all alive in the first column.
    d.async.track.push(i); d.async.start.push(i); d.async.dur.push(100); d.async.depth.push(0); d.async.name.push(0);
  }
  const data = prepare(d);
  const closed = buildTracks(data).tracks;
  const group = closed.find((t) => t.type === 'tasks');
  assert.equal(group.closed, true);
  assert.equal(closed.filter((t) => t.type === 'async').length, 0);
  const opened = buildTracks(data, { tasksOpen: new Set([group.key]) }).tracks;
  assert.equal(opened.filter((t) => t.type === 'async').length, n);
  const alive = lanesAlive(data, group.lanes, 0, 200, 50, 4);
  // Column [50,100): every task; [100,150): those that started after 50 ns.
  assert.equal(alive[1], n);
  assert.ok(alive[2] > 0 && alive[2] < n);
  assert.equal(alive[3], 0);
});

test('a window from the server reads like the whole trace: same rectangles, hits, range statistics', () => {
  const whole = prepare(doc({ slices: 50 }));
  // The server's full window of [1000, 3000) for thread 0: the slices that overlap it.
  const keep = [];
  for (let i = 0; i < 100; i++) if (whole.start[i] < 3000 && whole.start[i] + whole.dur[i] >= 1000) keep.push(i);
  const pick = (col) => keep.map((i) => col[i]);
  const answer = {
    t0: 1000, t1: 3000, npp: 1, full: true, strings: ['work', 'lock wait'],
    threads: [{ thread: 0, first: 0, end: keep.length }],
    index: keep, start: pick(whole.start), dur: pick(whole.dur), depth: pick(whole.depth), name: pick(whole.name), kind: pick(whole.kind),
  };
  const on = prepare({ ...doc({ slices: 50 }), slices: { on_demand: true, count: 101, start: [], dur: [], depth: [], name: [], kind: [], activity: [0, 1, 2, 3] } });
  on.threads[0].max_dur = 50;
  const win = prepareWindow(answer, on);
  const rects = (d) => { const out = []; visibleRects(d, d.threads[0], 1200, 2600, 3, (i, x0, x1, depth, merged) => out.push([d.index ? d.index[i] : i, x0, x1, depth, merged])); return out; };
  assert.deepEqual(rects(win), rects(whole));
  assert.equal(win.index[hitTest(win, win.threads[0], 1515, 1)], hitTest(whole, whole.threads[0], 1515, 1));
  assert.deepEqual([...win.parent].filter((p) => p >= 0).map((p) => win.index[p]), keep.filter((i) => whole.parent[i] >= 0).map((i) => whole.parent[i]));
  const stats = (d) => { const r = rangeStats(d, 1200, 2600); return [r.slices, r.locks.total, r.locks.count, r.threads[0].blocked]; };
  assert.deepEqual(stats(win), stats({ ...whole, threads: [whole.threads[0]] }));
  // What the window can draw: inside it, with its threads.
  assert.ok(windowCovers(win, 1200, 2600, 3, [0]));
  assert.ok(!windowCovers(win, 900, 2600, 3, [0]));
  assert.ok(!windowCovers(win, 1200, 2600, 3, [0, 1]));
  assert.ok(!windowCovers({ ...win, full: false, npp: 10 }, 1200, 2600, 3, [0]), 'a coarser level of detail than the view');
  // The server's activity columns averaged into the minimap's.
  assert.deepEqual([...activity(on, 2)], [0.5, 2.5]);
  assert.equal(threadRanges([7, 0, 1, 2, 9, 10, 4]), '0-2,4,7,9-10');
});

test('ruler ticks carry the decimals their step needs', () => {
  assert.equal(formatTick(175_012_500, 2500), '175.0125 ms');
  assert.equal(formatTick(175_015_000, 2500), '175.0150 ms');
  assert.equal(formatTick(150_000_000, 50_000_000), '150 ms');
  assert.equal(formatTick(2_500_000_000, 500_000_000), '2.5 s');
  assert.equal(formatTick(1_200, 100), '1.2 µs');
  assert.equal(formatTick(0, 100), '0 ns');
});
