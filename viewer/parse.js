// parse.js — a dropped Chrome trace (JSON text) to the document shape `cctrace view` serves,
// for opening files without the server. It runs in a worker. It is deliberately simple —
// complete (X) and begin/end (B/E) slices nested per thread, counters, v1 flows, async b/e —
// `cctrace report`/`view` remain the tolerant importer.

export function parseChromeTrace(text) {
  let root;
  try {
    root = JSON.parse(text);
  } catch (e) {
    // A file cut off by a crash: close the array after the last complete event.
    const cut = text.lastIndexOf('}');
    root = JSON.parse(text.slice(0, cut + 1).replace(/,\s*$/, '') + ']');
  }
  const events = Array.isArray(root) ? root : (root.traceEvents || []);
  const threadKey = new Map();
  const threads = [];
  const processNames = new Map();
  const threadNames = new Map();
  const perThread = [];
  const open = [];
  const counters = new Map();
  const flowStarts = new Map();
  const flows = { from_thread: [], from_t: [], to_thread: [], to_t: [], kind: [] };
  const asyncOpen = new Map();
  const asyncRaw = [];
  let min = Infinity, max = -Infinity;
  const thread = (pid, tid) => {
    const key = `${pid}:${tid}`;
    let i = threadKey.get(key);
    if (i === undefined) {
      i = threads.length;
      threadKey.set(key, i);
      threads.push({ pid, tid });
      perThread.push([]);
      open.push([]);
    }
    return i;
  };
  for (const e of events) {
    if (!e || typeof e !== 'object') continue;
    const pid = Number(e.pid) || 0, tid = Number(e.tid) || 0;
    const ts = Number(e.ts) * 1000;
    const ph = e.ph;
    if (ph === 'M') {
      if (e.name === 'process_name') processNames.set(pid, String(e.args?.name ?? ''));
      if (e.name === 'thread_name') threadNames.set(`${pid}:${tid}`, String(e.args?.name ?? ''));
      continue;
    }
    if (!Number.isFinite(ts)) continue;
    min = Math.min(min, ts);
    max = Math.max(max, ts);
    if (ph === 'X') {
      const dur = Math.max(0, Number(e.dur) * 1000 || 0);
      max = Math.max(max, ts + dur);
      perThread[thread(pid, tid)].push([ts, dur, String(e.name ?? ''), String(e.cat ?? '')]);
    } else if (ph === 'B') {
      open[thread(pid, tid)].push([ts, String(e.name ?? ''), String(e.cat ?? '')]);
    } else if (ph === 'E') {
      const t = thread(pid, tid);
      const b = open[t].pop();
      if (b) perThread[t].push([b[0], Math.max(0, ts - b[0]), b[1], b[2]]);
    } else if (ph === 'C') {
      for (const [k, v] of Object.entries(e.args || {})) {
        if (typeof v !== 'number') continue;
        const key = `${pid}\u0000${e.name} ${k}`;
        if (!counters.has(key)) counters.set(key, { pid, name: `${e.name}${Object.keys(e.args).length > 1 ? ' ' + k : ''}`, t: [], v: [] });
        const c = counters.get(key);
        c.t.push(ts);
        c.v.push(v);
      }
    } else if (ph === 's') {
      flowStarts.set(String(e.id), [thread(pid, tid), ts]);
    } else if (ph === 'f' || ph === 't') {
      const s = flowStarts.get(String(e.id));
      if (s) {
        flows.from_thread.push(s[0]); flows.from_t.push(s[1]);
        flows.to_thread.push(thread(pid, tid)); flows.to_t.push(ts); flows.kind.push(0);
      }
    } else if (ph === 'b') {
      const key = `${pid}:${e.cat}:${e.id}`;
      if (!asyncOpen.has(key)) asyncOpen.set(key, []);
      asyncOpen.get(key).push([ts, String(e.name ?? '')]);
    } else if (ph === 'e') {
      const key = `${pid}:${e.cat}:${e.id}`;
      const stack = asyncOpen.get(key);
      const b = stack && stack.pop();
      if (b) asyncRaw.push({ key, pid, start: b[0], dur: Math.max(0, ts - b[0]), depth: stack.length, name: b[1] });
    }
  }
  if (!Number.isFinite(min)) { min = 0; max = 0; }
  // Strings, slices nested per thread.
  const strings = [];
  const stringIndex = new Map();
  const intern = (s) => {
    let i = stringIndex.get(s);
    if (i === undefined) { i = strings.length; stringIndex.set(s, i); strings.push(s); }
    return i;
  };
  const slices = { start: [], dur: [], depth: [], name: [], kind: [] };
  const outThreads = [];
  threads.forEach((t, ti) => {
    const list = perThread[ti].sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const first = slices.start.length;
    const ends = [];
    let maxDepth = 0;
    for (const [ts, dur, name, cat] of list) {
      while (ends.length && ends[ends.length - 1] <= ts) ends.pop();
      const depth = ends.length;
      ends.push(ts + dur);
      maxDepth = Math.max(maxDepth, depth);
      slices.start.push(ts - min); slices.dur.push(dur); slices.depth.push(depth);
      slices.name.push(intern(name)); slices.kind.push(kindOf(cat, name));
    }
    outThreads.push({ pid: t.pid, tid: t.tid, name: threadNames.get(`${t.pid}:${t.tid}`) || `tid ${t.tid}`, first, end: slices.start.length, max_depth: maxDepth });
  });
  const pids = [...new Set(threads.map((t) => t.pid))].sort((a, b) => a - b);
  const processes = pids.map((pid) => ({ pid, name: processNames.get(pid) || `process ${pid}`, threads: outThreads.map((t, i) => (t.pid === pid ? i : -1)).filter((i) => i >= 0) }));
  const trackIndex = new Map();
  const asyncTracks = [];
  const async = { track: [], start: [], dur: [], depth: [], name: [] };
  for (const a of asyncRaw) {
    let ti = trackIndex.get(a.key);
    if (ti === undefined) { ti = asyncTracks.length; trackIndex.set(a.key, ti); asyncTracks.push({ pid: a.pid, name: a.name }); }
    async.track.push(ti); async.start.push(a.start - min); async.dur.push(a.dur); async.depth.push(a.depth); async.name.push(intern(a.name));
  }
  for (const c of counters.values()) c.t = c.t.map((t) => t - min);
  flows.from_t = flows.from_t.map((t) => t - min);
  flows.to_t = flows.to_t.map((t) => t - min);
  return {
    version: 1, start_ns: min, duration_ns: max - min, trace: 'dropped file', strings, processes, threads: outThreads,
    slices, async_tracks: asyncTracks, async, counters: [...counters.values()], flows, report: null,
  };
}

function kindOf(cat, name) {
  switch (cat) {
    case 'cctrace.lock': return name === 'lock hold' ? 2 : 1;
    case 'cctrace.loop': return 3;
    case 'cctrace.ipc': return 4;
    case 'cctrace.task': return 5;
    case 'cctrace.process': return 6;
    default: return 0;
  }
}
