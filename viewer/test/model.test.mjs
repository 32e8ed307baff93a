// node --test viewer/test — the viewer's logic without a browser: data preparation, track
// layout, level of detail, hit testing, search, and the dropped-file parser.
import test from 'node:test';
import assert from 'node:assert/strict';
import { prepare, buildTracks, visibleRects, hitTest, search, lowerBound, MAX_ROWS, HEADER_HEIGHT, ROW_HEIGHT } from '../model.js';
import { parseChromeTrace } from '../parse.js';
import { formatDuration, tickStep } from '../format.js';

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
  const collapsed = buildTracks(data, new Set([7]));
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
