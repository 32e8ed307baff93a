// timeline.js — the canvas: a time ruler, a minimap of the whole trace, process headers,
// thread tracks (a CPU band under the name, slices by depth coloured by kind), task lanes as a
// tree, actor lanes, counters, flows, the selected range and highlighted samples. Zoom and pan
// keep the work per frame bounded by what is visible (see visibleRects in model.js).
import { formatDuration, formatTick, tickStep } from './format.js';
import { KIND_COLORS, CPU_COLORS, ROW_HEIGHT, HEADER_HEIGHT, buildTracks, visibleRects, hitTest, lowerBound, lowerBoundIndirect, activity, lanesAlive, windowCovers, threadRanges } from './model.js';

export const RULER = 24;
export const MINIMAP = 28;
const TOP = RULER + MINIMAP;
export const LABEL_WIDTH = 190;
const BAND_Y = 5;
const BAND_HEIGHT = 10;

export class Timeline {
  constructor(canvas, data) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.data = data;
    this.fold = { collapsed: new Set(), threads: new Set(), tasks: new Set(), tasksOpen: new Set() };
    this.layout = buildTracks(data, this.fold);
    this.t0 = 0;
    this.t1 = Math.max(1, data.duration);
    this.scrollY = 0;
    this.selected = -1;
    this.highlight = new Set();
    this.sampleMarks = [];
    this.range = null;
    this.onSelect = () => {};
    this.frameTimes = [];
    this.minimapCache = null;
    this.labels = new Map();
    // Slices sent on demand: the window drawn (prepareWindow), the one asked for, and how the
    // page asks (app.js sets it: a request → a promise of a window).
    this.window = null;
    this.asked = null;
    this.fetchWindow = null;
    /** A window is full (every slice) when at most this many overlap it (undefined: the server's choice). */
    this.windowFullLimit = undefined;
    /** The slices the last frame drew whole (not merged), by index: what tests compare. */
    this.drawn = [];
  }

  /** What thread slices are drawn from: the whole trace, or the window the server sent. */
  get slices() { return this.data.onDemand ? this.window : this.data; }

  /**
   * With slices on demand: asks for a window when the one held cannot draw this view — three
   * views wide and twice as fine, so panning by a view or zooming in twice needs nothing new —
   * for the thread tracks within a screen of the visible ones. Until it arrives, the last
   * window draws what it has.
   */
  requestWindow(t0, t1, npp) {
    if (!this.data.onDemand || !this.fetchWindow) return;
    const h = this.height;
    const threads = [];
    for (const track of this.layout.tracks) {
      if (track.type !== 'thread' || track.y + track.height < this.scrollY - h || track.y > this.scrollY + 2 * h) continue;
      threads.push(track.thread);
    }
    // Nothing lies outside the trace: neither the view's part there nor the margins are asked for.
    const end = Math.max(1, this.data.duration);
    const span = t1 - t0;
    t0 = Math.min(Math.max(0, t0), end);
    t1 = Math.max(Math.min(end, t1), t0);
    if (windowCovers(this.window, t0, t1, npp, threads)) return;
    if (this.asked && windowCovers(this.asked, t0, t1, npp, threads)) return;
    const request = { t0: Math.max(0, t0 - span), t1: Math.min(end, t1 + span), npp: Math.max(1, npp / 2), full: this.windowFullLimit, threadSet: new Set(threads), threads: threadRanges(threads) };
    this.asked = request;
    this.fetchWindow(request).then((win) => {
      if (this.asked !== request) return;
      this.asked = null;
      this.window = win;
      this.render();
    }, () => { if (this.asked === request) this.asked = null; });
  }

  get width() { return this.canvas.clientWidth; }
  get height() { return this.canvas.clientHeight; }
  get plotWidth() { return Math.max(50, this.width - LABEL_WIDTH); }
  nsPerPx() { return (this.t1 - this.t0) / this.plotWidth; }
  timeAt(x) { return this.t0 + (x - LABEL_WIDTH) * this.nsPerPx(); }
  xAt(t) { return LABEL_WIDTH + (t - this.t0) / this.nsPerPx(); }
  /** The minimap's time at x (the whole trace across the plot width). */
  minimapTimeAt(x) { return ((x - LABEL_WIDTH) / this.plotWidth) * Math.max(1, this.data.duration); }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.width * ratio);
    this.canvas.height = Math.round(this.height * ratio);
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.minimapCache = null;
    this.render();
  }

  relayout() {
    this.layout = buildTracks(this.data, this.fold);
    this.render();
  }

  toggle(set, key) {
    if (set.has(key)) set.delete(key); else set.add(key);
    this.relayout();
  }

  toggleProcess(index) { this.toggle(this.fold.collapsed, index); }
  toggleThread(index) { this.toggle(this.fold.threads, index); }

  /** Opens or folds a task lane's children (lanes of a process with many start folded). */
  toggleTask(track) {
    const t = this.layout.tracks.find((x) => x.type === 'async' && x.track === track);
    if (!t) return;
    if (t.closed) { this.fold.tasks.delete(track); this.fold.tasksOpen.add(track); } else { this.fold.tasks.add(track); this.fold.tasksOpen.delete(track); }
    this.relayout();
  }

  /** Opens or folds a process's row of many top-level tasks. */
  toggleTaskGroup(key) { this.toggle(this.fold.tasksOpen, key); }

  /** Zooms by `factor` (< 1 zooms in) around time `at`. */
  zoom(factor, at = (this.t0 + this.t1) / 2) {
    const span = Math.min(Math.max((this.t1 - this.t0) * factor, 1000), this.data.duration * 2 + 1e6);
    const f = (at - this.t0) / (this.t1 - this.t0);
    this.t0 = at - f * span;
    this.t1 = this.t0 + span;
    this.render();
  }

  pan(ns) {
    this.t0 += ns;
    this.t1 += ns;
    this.render();
  }

  /** Centres the view on `t` keeping its span (the minimap's click). */
  centre(t) {
    const span = this.t1 - this.t0;
    this.t0 = t - span / 2;
    this.t1 = t + span / 2;
    this.render();
  }

  scrollBy(px) {
    const max = Math.max(0, this.layout.height + TOP - this.height + 40);
    this.scrollY = Math.min(Math.max(0, this.scrollY + px), max);
    this.render();
  }

  /** Shows [from, to] (ns) and scrolls slice `select`'s track into view. */
  reveal(from, to, select = -1, depth = this.data.onDemand ? 1 : this.data.depth[select]) {
    const span = Math.max(to - from, 1000);
    this.t0 = from - span * 0.25;
    this.t1 = to + span * 0.25;
    if (select >= 0) {
      this.selected = select;
      const owner = this.data.threads.find((t) => select >= t.first && select < t.end);
      if (owner && this.fold.threads.has(owner.index) && depth > 0) this.fold.threads.delete(owner.index);
      const process = this.data.processes.find((p) => owner && p.threads.includes(owner.index));
      if (process && this.fold.collapsed.has(process.index)) this.fold.collapsed.delete(process.index);
      this.layout = buildTracks(this.data, this.fold);
      const track = owner && this.layout.tracks.find((t) => t.type === 'thread' && t.thread === owner.index);
      if (track) this.scrollY = Math.max(0, track.y - 40);
    }
    this.render();
  }

  /**
   * What is at canvas point (x, y): { ruler }, { minimap }, { process }, { thread } (its label),
   * { task } (a lane's label), { slice }, or nothing.
   */
  pick(x, y) {
    if (y < RULER) return { ruler: true };
    if (y < TOP) return x >= LABEL_WIDTH ? { minimap: true } : {};
    const yy = y - TOP + this.scrollY;
    for (const t of this.layout.tracks) {
      if (yy < t.y || yy >= t.y + t.height) continue;
      if (t.type === 'process') return { process: t.process };
      if (x < LABEL_WIDTH) {
        if (t.type === 'thread' && yy - t.y < HEADER_HEIGHT) return { thread: t.thread };
        if (t.type === 'async' && t.hasChildren) return { task: t.track };
        if (t.type === 'tasks') return { taskGroup: t.key };
        return {};
      }
      if (t.type === 'thread') {
        const row = Math.floor((yy - t.y - HEADER_HEIGHT) / ROW_HEIGHT);
        if (row < 0) return { band: t.thread };
        const src = this.slices;
        if (!src) return {};
        const i = hitTest(src, src.threads[t.thread], this.timeAt(x), row, 2 * this.nsPerPx());
        return i >= 0 ? { slice: src.index ? src.index[i] : i } : {};
      }
      return {};
    }
    return {};
  }

  render() {
    const started = performance.now();
    const { ctx } = this;
    const w = this.width, h = this.height;
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const npp = this.nsPerPx();
    const t0 = this.t0, t1 = this.t1;
    const top = this.scrollY, bottom = this.scrollY + h - TOP;
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, TOP, w, h - TOP);
    ctx.clip();
    const rowY = new Map();
    this.drawn = [];
    for (const track of this.layout.tracks) {
      if (track.y + track.height < top || track.y > bottom) continue;
      const y = TOP + track.y - this.scrollY;
      if (track.type === 'process') {
        const p = this.data.processes[track.process];
        ctx.fillStyle = p.side === 'after' ? '#e3efe6' : p.side === 'before' ? '#efe8e1' : '#e9ecf1';
        ctx.fillRect(0, y, w, HEADER_HEIGHT);
        ctx.fillStyle = '#222';
        ctx.fillText(clipText(ctx, `${track.open ? '▾' : '▸'} ${track.name} (${track.pid}) · ${p.threads.length} threads`, w - 12), 6, y + HEADER_HEIGHT / 2);
        continue;
      }
      ctx.strokeStyle = '#eee';
      ctx.beginPath(); ctx.moveTo(0, y + track.height - 0.5); ctx.lineTo(w, y + track.height - 0.5); ctx.stroke();
      if (track.type === 'thread') {
        this.drawLabel(`${track.canFold ? (track.folded ? '▸ ' : '▾ ') : '  '}${track.name} (${track.tid})`, y + HEADER_HEIGHT / 2, 6, '#333');
        rowY.set(track.thread, y + HEADER_HEIGHT);
        const busy = this.drawThread(track, y + HEADER_HEIGHT, t0, t1, npp);
        this.drawBand(track, y, t0, t1, busy);
      } else if (track.type === 'async') {
        const fold = track.hasChildren ? (track.closed ? '▸ ' : '▾ ') : '  ';
        const kind = track.kind === 'task' ? 'task ' : track.kind === 'span' ? 'span ' : '';
        const more = track.closed ? ` (+${track.hidden})` : '';
        this.drawLabel(`${fold}${kind}${track.name}${more}`, y + ROW_HEIGHT / 2 + 2, 6 + 10 * Math.min(track.level, 8), track.kind === 'actor' ? '#6b3fa0' : '#2a6f66');
        this.drawAsync(track, y + 2, t0, t1, npp);
      } else if (track.type === 'tasks') {
        const max = this.drawTasksAlive(track, y + 2, t0, t1, npp);
        this.drawLabel(`${track.closed ? '▸' : '▾'} ${track.name}${max > 0 ? ` · ≤ ${Math.round(max)} alive` : ''}`, y + ROW_HEIGHT / 2 + 2, 6, '#2a6f66');
      } else if (track.type === 'counter') {
        this.drawCounter(track, y, t0, t1);
      }
    }
    this.drawFlows(rowY, t0, t1, npp);
    this.drawSampleMarks(rowY);
    ctx.restore();
    this.drawRange(h);
    this.drawRuler(w, t0, t1);
    this.drawMinimap(w);
    this.requestWindow(t0, t1, npp);
    const elapsed = performance.now() - started;
    this.frameTimes.push(elapsed);
    if (this.frameTimes.length > 1000) this.frameTimes.shift();
    return elapsed;
  }

  /** A label in the label column, clipped to it: labels never run into the plot. */
  drawLabel(text, y, indent, color) {
    const { ctx } = this;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, y - 8, LABEL_WIDTH - 2, 16);
    ctx.fillStyle = color;
    // Labels repeat frame after frame: their clipped form is measured once.
    const key = `${indent}\u0000${text}`;
    let clipped = this.labels.get(key);
    if (clipped === undefined) {
      if (this.labels.size > 5000) this.labels.clear();
      clipped = clipText(ctx, text, LABEL_WIDTH - indent - 8);
      this.labels.set(key, clipped);
    }
    ctx.fillText(clipped, indent, y);
  }

  /**
   * The thread's CPU states as a band in its header row: running, runnable, blocked (inside a
   * slice, off CPU), idle. `busy` are the pixel runs its outermost slices cover (drawThread
   * finds them anyway). Without CPU readings the band shows those runs.
   */
  drawBand(track, y, t0, t1, busy) {
    const { ctx, data } = this;
    const t = data.threads[track.thread];
    const c = t.cpu;
    const by = y + BAND_Y;
    if (!c) {
      ctx.fillStyle = CPU_COLORS[3];
      ctx.fillRect(LABEL_WIDTH, by + 3, this.plotWidth, BAND_HEIGHT - 6);
      ctx.fillStyle = '#9aa3b0';
      for (let r = 0; r < busy.length; r += 2) {
        ctx.fillRect(LABEL_WIDTH + busy[r], by + 3, Math.max(1, busy[r + 1] - busy[r]), BAND_HEIGHT - 6);
      }
      return;
    }
    ctx.fillStyle = CPU_COLORS[3];
    ctx.fillRect(LABEL_WIDTH, by, this.plotWidth, BAND_HEIGHT);
    const from = Math.max(0, lowerBound(c.t, t0) - 1);
    let r = 0;
    for (let k = from; k < c.t.length && c.t[k] < t1; k++) {
      const x0 = Math.max(LABEL_WIDTH, this.xAt(c.t[k]));
      const x1 = Math.min(this.width, this.xAt(c.e[k]));
      if (x1 <= x0) continue;
      const wdt = Math.max(1, x1 - x0);
      // Stacked from the bottom: running, runnable, then blocked when the thread was inside a slice.
      const run = c.run[k], rq = c.rq[k];
      let yy = by + BAND_HEIGHT;
      const hRun = run * BAND_HEIGHT, hRq = rq * BAND_HEIGHT;
      ctx.fillStyle = CPU_COLORS[0]; ctx.fillRect(x0, yy - hRun, wdt, hRun); yy -= hRun;
      ctx.fillStyle = CPU_COLORS[1]; ctx.fillRect(x0, yy - hRq, wdt, hRq); yy -= hRq;
      const mid = (x0 + x1) / 2 - LABEL_WIDTH;
      while (r < busy.length && busy[r + 1] < mid) r += 2;
      if (r < busy.length && busy[r] <= mid) { ctx.fillStyle = CPU_COLORS[2]; ctx.fillRect(x0, by, wdt, yy - by); }
    }
  }

  drawThread(track, y, t0, t1, npp) {
    const { ctx } = this;
    // The whole trace's slices, or the server's window of them (entries name their slice by `index`).
    const data = this.slices;
    if (!data) return [];
    const t = data.threads[track.thread];
    const global = data.index || null;
    // Sub-pixel slices are drawn in runs: adjacent merged columns of one kind on one row
    // become a single rectangle, so a dense track costs a few fillRects, not one per pixel.
    const runs = new Map();
    // Pixel runs covered by outermost slices (x0, x1 pairs), for the CPU band.
    const busy = [];
    const flush = (d) => {
      const r = runs.get(d);
      if (!r) return;
      ctx.fillStyle = r.color;
      ctx.fillRect(LABEL_WIDTH + r.x0, y + d * ROW_HEIGHT + 1, r.x1 - r.x0, ROW_HEIGHT - 2);
      runs.delete(d);
    };
    visibleRects(data, t, t0, t1, npp, (i, x0, x1, d, narrow) => {
      const merged = narrow || (!!data.merged && data.merged[i] === 1);
      const slice = global ? global[i] : i;
      if (d === 0) {
        const n = busy.length;
        if (n > 0 && x0 <= busy[n - 1] + 1) busy[n - 1] = Math.max(busy[n - 1], x1);
        else busy.push(Math.max(0, x0), x1);
      }
      const k = data.kind[i];
      const marked = this.highlight.has(slice) || slice === this.selected;
      if (merged && !marked) {
        const color = KIND_COLORS[k] || '#8fa3bf';
        const r = runs.get(d);
        if (r && r.color === color && x0 <= r.x1 + 1) { r.x1 = Math.max(r.x1, x1); return; }
        flush(d);
        runs.set(d, { color, x0: Math.max(x0, -1), x1: Math.min(x1, this.plotWidth + 1) });
        return;
      }
      flush(d);
      if (!merged) this.drawn.push(slice);
      ctx.fillStyle = KIND_COLORS[k] || data.colors[data.name[i]];
      const x = LABEL_WIDTH + Math.max(x0, -1);
      const right = LABEL_WIDTH + Math.min(x1, this.plotWidth + 1);
      const yy = y + d * ROW_HEIGHT + 1;
      ctx.fillRect(x, yy, Math.max(1, right - x), ROW_HEIGHT - 2);
      if (marked) {
        ctx.strokeStyle = slice === this.selected ? '#000' : '#d000d0';
        ctx.lineWidth = 2;
        ctx.strokeRect(x, yy, Math.max(2, right - x), ROW_HEIGHT - 2);
        ctx.lineWidth = 1;
      }
      if (!merged && right - x > 30) {
        ctx.fillStyle = '#111';
        ctx.fillText(clipText(ctx, data.strings[data.name[i]], right - x - 6), x + 3, yy + ROW_HEIGHT / 2 - 1);
      }
    }, Math.max(1, track.rows));
    for (const d of [...runs.keys()]) flush(d);
    return busy;
  }

  drawAsync(track, y, t0, t1, npp) {
    const { ctx, data } = this;
    const a = data.async;
    const at = data.asyncTracks[track.track];
    const from = lowerBoundIndirect(at.items, a.start, t0 - at.maxDur);
    const color = track.kind === 'actor' ? [107, 63, 160] : [42, 157, 143];
    let lastPx = -Infinity;
    for (let k = from; k < at.items.length; k++) {
      const i = at.items[k];
      if (a.start[i] > t1) break;
      if (a.start[i] + a.dur[i] < t0 || a.depth[i] >= track.rows) continue;
      const x0 = this.xAt(a.start[i]);
      const x1 = Math.max(x0 + 1, this.xAt(a.start[i] + a.dur[i]));
      if (a.depth[i] === 0 && x1 <= lastPx + 0.5) continue;
      if (a.depth[i] === 0) lastPx = x1;
      ctx.fillStyle = `rgba(${color.join(',')},${a.depth[i] === 0 ? 0.35 : 0.7})`;
      const left = Math.max(x0, LABEL_WIDTH);
      const right = Math.min(x1, this.width);
      if (right <= left) continue;
      ctx.fillRect(left, y + a.depth[i] * ROW_HEIGHT, Math.max(1, right - left), ROW_HEIGHT - 2);
      if (right - left > 40) {
        ctx.fillStyle = '#113';
        ctx.fillText(clipText(ctx, data.strings[a.name[i]], right - left - 6), left + 3, y + a.depth[i] * ROW_HEIGHT + ROW_HEIGHT / 2 - 1);
      }
    }
  }

  /** Many tasks in one row: per pixel column how many were alive, as a bar. */
  drawTasksAlive(track, y, t0, t1, npp) {
    const { ctx } = this;
    const columns = Math.ceil(this.plotWidth);
    const alive = lanesAlive(this.data, track.lanes, t0, t1, npp, columns);
    let max = 0;
    for (const v of alive) max = Math.max(max, v);
    if (max <= 0) return 0;
    ctx.fillStyle = 'rgba(42,157,143,0.75)';
    const h = ROW_HEIGHT - 2;
    for (let x = 0; x < columns; x++) {
      if (alive[x] <= 0) continue;
      const bh = Math.max(1, (alive[x] / max) * h);
      ctx.fillRect(LABEL_WIDTH + x, y + h - bh, 1, bh);
    }
    return max;
  }

  drawCounter(track, y, t0, t1) {
    const { ctx, data } = this;
    const c = data.counters[track.counter];
    let lo = Math.max(0, lowerBound(c.t, t0) - 1);
    let max = 0;
    for (let i = lo; i < c.t.length && c.t[i] <= t1; i++) max = Math.max(max, c.v[i]);
    max = max || 1;
    // Name on the first line, the scale under it: both in the label column.
    this.drawLabel(track.name, y + 9, 6, '#333');
    ctx.fillStyle = '#888';
    ctx.fillText(`max ${Math.round(max * 100) / 100}`, 14, y + 23);
    ctx.save();
    ctx.beginPath();
    ctx.rect(LABEL_WIDTH, y, this.plotWidth, track.height);
    ctx.clip();
    ctx.strokeStyle = '#3f7fd9';
    ctx.beginPath();
    const h = track.height - 6;
    const npp = this.nsPerPx();
    let started = false;
    let lastX = -Infinity;
    for (let i = lo; i < c.t.length; i++) {
      const x = LABEL_WIDTH + (c.t[i] - t0) / npp;
      if (x - lastX < 1 && i + 1 < c.t.length) continue;
      lastX = x;
      const yy = y + 3 + h - (c.v[i] / max) * h;
      if (!started) { ctx.moveTo(x, yy); started = true; } else ctx.lineTo(x, yy);
      if (c.t[i] > t1) break;
    }
    ctx.stroke();
    ctx.restore();
  }

  drawFlows(rowY, t0, t1, npp) {
    const { ctx, data } = this;
    const f = data.flows;
    ctx.strokeStyle = 'rgba(120,60,180,0.7)';
    ctx.fillStyle = 'rgba(120,60,180,0.7)';
    let drawn = 0;
    for (let i = 0; i < f.from_t.length && drawn < 2000; i++) {
      if (Math.max(f.from_t[i], f.to_t[i]) < t0 || Math.min(f.from_t[i], f.to_t[i]) > t1) continue;
      const ya = rowY.get(f.from_thread[i]), yb = rowY.get(f.to_thread[i]);
      if (ya === undefined || yb === undefined) continue;
      const xa = LABEL_WIDTH + (f.from_t[i] - t0) / npp, xb = LABEL_WIDTH + (f.to_t[i] - t0) / npp;
      ctx.beginPath(); ctx.moveTo(xa, ya + 4); ctx.lineTo(xb, yb + 4); ctx.stroke();
      ctx.beginPath(); ctx.arc(xb, yb + 4, 2.5, 0, Math.PI * 2); ctx.fill();
      drawn++;
    }
  }

  /** Samples picked in the flame graph: a tick on their thread's band. */
  drawSampleMarks(rowY) {
    if (!this.sampleMarks.length) return;
    const { ctx, data } = this;
    ctx.fillStyle = '#d000d0';
    for (const k of this.sampleMarks) {
      const y = rowY.get(data.samples.thread[k]);
      if (y === undefined) continue;
      const x = this.xAt(data.samples.t[k]);
      if (x < LABEL_WIDTH || x > this.width) continue;
      ctx.fillRect(x - 1, y - HEADER_HEIGHT + 2, 2, HEADER_HEIGHT - 4);
    }
  }

  drawRange(h) {
    if (!this.range) return;
    const { ctx } = this;
    const x0 = Math.max(LABEL_WIDTH, this.xAt(Math.min(this.range.t0, this.range.t1)));
    const x1 = Math.min(this.width, this.xAt(Math.max(this.range.t0, this.range.t1)));
    if (x1 <= x0) return;
    ctx.fillStyle = 'rgba(74,123,208,0.12)';
    ctx.fillRect(x0, RULER, x1 - x0, h - RULER);
    ctx.strokeStyle = '#4a7bd0';
    ctx.beginPath(); ctx.moveTo(x0 + 0.5, RULER); ctx.lineTo(x0 + 0.5, h); ctx.moveTo(x1 - 0.5, RULER); ctx.lineTo(x1 - 0.5, h); ctx.stroke();
  }

  drawRuler(w, t0, t1) {
    const { ctx } = this;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, RULER);
    ctx.strokeStyle = '#ccc';
    ctx.beginPath(); ctx.moveTo(0, RULER - 0.5); ctx.lineTo(w, RULER - 0.5); ctx.stroke();
    const step = tickStep(t1 - t0, this.plotWidth / 110);
    ctx.fillStyle = '#333';
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const x = this.xAt(t);
      ctx.beginPath(); ctx.moveTo(x, RULER - 6); ctx.lineTo(x, RULER); ctx.stroke();
      ctx.fillText(formatTick(t, step), x + 3, RULER / 2);
    }
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, LABEL_WIDTH, RULER - 1);
    ctx.fillStyle = '#333';
    const r = this.range;
    ctx.fillText(r ? `range ${formatDuration(Math.abs(r.t1 - r.t0))}` : `view ${formatDuration(t1 - t0)}`, 6, RULER / 2);
  }

  /** The whole trace: how many threads were busy, with the view's window on it. */
  drawMinimap(w) {
    const { ctx, data } = this;
    const bins = Math.max(1, Math.floor(this.plotWidth));
    const y = RULER;
    if (!this.minimapCache || this.minimapCache.bins !== bins) {
      // The whole trace does not change with the view: drawn once into a canvas of its own.
      const a = activity(data, bins);
      let max = 0;
      for (const v of a) max = Math.max(max, v);
      max = max || 1;
      const ratio = window.devicePixelRatio || 1;
      const image = document.createElement('canvas');
      image.width = Math.round(w * ratio);
      image.height = Math.round(MINIMAP * ratio);
      const g = image.getContext('2d');
      g.setTransform(ratio, 0, 0, ratio, 0, 0);
      g.fillStyle = '#f6f7f9';
      g.fillRect(0, 0, w, MINIMAP);
      g.font = '11px system-ui, sans-serif';
      g.textBaseline = 'middle';
      g.fillStyle = '#666';
      g.fillText(`whole trace · up to ${Math.round(max * 10) / 10} busy`, 6, MINIMAP / 2);
      g.fillStyle = '#8fa3bf';
      const h = MINIMAP - 6;
      for (let b = 0; b < a.length; b++) {
        if (a[b] <= 0) continue;
        const bh = Math.max(1, (a[b] / max) * h);
        g.fillRect(LABEL_WIDTH + b, 3 + h - bh, 1, bh);
      }
      this.minimapCache = { bins, image, w };
    }
    ctx.drawImage(this.minimapCache.image, 0, y, this.minimapCache.w, MINIMAP);
    const d = Math.max(1, data.duration);
    const x0 = LABEL_WIDTH + Math.max(0, this.t0 / d) * this.plotWidth;
    const x1 = LABEL_WIDTH + Math.min(1, this.t1 / d) * this.plotWidth;
    ctx.fillStyle = 'rgba(74,123,208,0.18)';
    ctx.fillRect(x0, y + 1, Math.max(2, x1 - x0), MINIMAP - 2);
    ctx.strokeStyle = '#4a7bd0';
    ctx.strokeRect(x0 + 0.5, y + 1.5, Math.max(2, x1 - x0) - 1, MINIMAP - 3);
    ctx.strokeStyle = '#ccc';
    ctx.beginPath(); ctx.moveTo(0, y + MINIMAP - 0.5); ctx.lineTo(w, y + MINIMAP - 0.5); ctx.stroke();
  }
}

/** A flame graph (icicle) on its own canvas: rectangles from flameLayout, callers on top. */
export class FlameView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.rects = [];
    this.unit = 'samples';
    this.picked = null;
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.canvas.clientWidth * ratio);
    this.canvas.height = Math.round(this.canvas.clientHeight * ratio);
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  }

  show(rects, unit) {
    this.rects = rects;
    this.unit = unit;
    this.render();
  }

  render() {
    const { ctx } = this;
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (const r of this.rects) {
      const x = r.x0 * w, width = (r.x1 - r.x0) * w, y = r.depth * ROW_HEIGHT;
      if (y > h) continue;
      ctx.fillStyle = r.depth === 0 ? '#c8ccd2' : flameColor(r.node.name);
      ctx.fillRect(x, y, Math.max(1, width - 1), ROW_HEIGHT - 1);
      if (this.picked && r.node.path === this.picked) {
        ctx.strokeStyle = '#d000d0'; ctx.lineWidth = 2; ctx.strokeRect(x + 1, y + 1, Math.max(2, width - 3), ROW_HEIGHT - 3); ctx.lineWidth = 1;
      }
      if (width > 30) {
        ctx.fillStyle = '#111';
        ctx.fillText(clipText(ctx, r.node.name, width - 6), x + 3, y + ROW_HEIGHT / 2);
      }
    }
  }

  pick(x, y) {
    const w = this.canvas.clientWidth;
    const depth = Math.floor(y / ROW_HEIGHT);
    return this.rects.find((r) => r.depth === depth && r.x0 * w <= x && r.x1 * w >= x) || null;
  }
}

function flameColor(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) | 0;
  return `hsl(${20 + (Math.abs(h) % 40)} 75% ${58 + (Math.abs(h >> 8) % 16)}%)`;
}

function clipText(ctx, text, width) {
  const s = String(text);
  if (width <= 8) return '';
  if (ctx.measureText(s).width <= width) return s;
  let lo = 0, hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (ctx.measureText(s.slice(0, mid) + '…').width <= width) lo = mid; else hi = mid - 1;
  }
  return lo > 0 ? s.slice(0, lo) + '…' : '';
}
