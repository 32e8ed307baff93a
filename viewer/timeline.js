// timeline.js — the canvas: a time ruler, process headers, thread tracks (slices by depth,
// coloured by kind), async tracks (tasks), counters as small charts, flows as arrows. Zoom and
// pan keep the work per frame bounded by what is visible (see visibleRects in model.js).
import { formatDuration, tickStep } from './format.js';
import { KIND_COLORS, ROW_HEIGHT, HEADER_HEIGHT, buildTracks, visibleRects, hitTest, lowerBoundIndirect, nameColor } from './model.js';

const RULER = 24;
const LABEL_WIDTH = 170;

export class Timeline {
  constructor(canvas, data) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.data = data;
    this.collapsed = new Set();
    this.layout = buildTracks(data, this.collapsed);
    this.t0 = 0;
    this.t1 = Math.max(1, data.duration);
    this.scrollY = 0;
    this.selected = -1;
    this.highlight = new Set();
    this.onSelect = () => {};
    this.frameTimes = [];
  }

  get width() { return this.canvas.clientWidth; }
  get height() { return this.canvas.clientHeight; }
  get plotWidth() { return Math.max(50, this.width - LABEL_WIDTH); }
  nsPerPx() { return (this.t1 - this.t0) / this.plotWidth; }
  timeAt(x) { return this.t0 + (x - LABEL_WIDTH) * this.nsPerPx(); }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.width * ratio);
    this.canvas.height = Math.round(this.height * ratio);
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.render();
  }

  toggleProcess(pid) {
    if (this.collapsed.has(pid)) this.collapsed.delete(pid); else this.collapsed.add(pid);
    this.layout = buildTracks(this.data, this.collapsed);
    this.render();
  }

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

  scrollBy(px) {
    const max = Math.max(0, this.layout.height + RULER - this.height + 40);
    this.scrollY = Math.min(Math.max(0, this.scrollY + px), max);
    this.render();
  }

  /** Shows [from, to] (ns) and scrolls slice `select`'s track into view. */
  reveal(from, to, select = -1) {
    const span = Math.max(to - from, 1000);
    this.t0 = from - span * 0.25;
    this.t1 = to + span * 0.25;
    if (select >= 0) {
      this.selected = select;
      const track = this.layout.tracks.find((t) => t.type === 'thread' && select >= this.data.threads[t.thread].first && select < this.data.threads[t.thread].end);
      if (track) this.scrollY = Math.max(0, track.y - 40);
    }
    this.render();
  }

  /** What is at canvas point (x, y): a slice index, a process header, or nothing. */
  pick(x, y) {
    const yy = y - RULER + this.scrollY;
    for (const t of this.layout.tracks) {
      if (yy < t.y || yy >= t.y + t.height) continue;
      if (t.type === 'process') return { process: t.pid };
      if (t.type === 'thread' && x >= LABEL_WIDTH) {
        const row = Math.floor((yy - t.y - HEADER_HEIGHT) / ROW_HEIGHT);
        if (row < 0) return {};
        const i = hitTest(this.data, this.data.threads[t.thread], this.timeAt(x), row, 2 * this.nsPerPx());
        return i >= 0 ? { slice: i } : {};
      }
      return {};
    }
    return {};
  }

  render() {
    const started = performance.now();
    const { ctx, data } = this;
    const w = this.width, h = this.height;
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const npp = this.nsPerPx();
    const t0 = this.t0, t1 = this.t1;
    const top = this.scrollY, bottom = this.scrollY + h - RULER;
    ctx.save();
    ctx.beginPath();
    ctx.rect(0, RULER, w, h - RULER);
    ctx.clip();
    const rowY = new Map();
    for (const track of this.layout.tracks) {
      if (track.y + track.height < top || track.y > bottom) continue;
      const y = RULER + track.y - this.scrollY;
      if (track.type === 'process') {
        ctx.fillStyle = '#e9ecf1';
        ctx.fillRect(0, y, w, HEADER_HEIGHT);
        ctx.fillStyle = '#222';
        ctx.fillText(`${track.open ? '▾' : '▸'} ${track.name} (${track.pid})`, 6, y + HEADER_HEIGHT / 2);
        continue;
      }
      ctx.fillStyle = '#444';
      const label = track.type === 'thread' ? `${track.name} (${track.tid})` : track.name;
      ctx.fillText(clipText(ctx, label, LABEL_WIDTH - 12), 10, y + (track.type === 'thread' ? HEADER_HEIGHT / 2 : ROW_HEIGHT / 2));
      ctx.strokeStyle = '#eee';
      ctx.beginPath(); ctx.moveTo(0, y + track.height - 0.5); ctx.lineTo(w, y + track.height - 0.5); ctx.stroke();
      if (track.type === 'thread') {
        rowY.set(track.thread, y + HEADER_HEIGHT);
        this.drawThread(track, y + HEADER_HEIGHT, t0, t1, npp);
      } else if (track.type === 'async') {
        this.drawAsync(track, y + 2, t0, t1, npp);
      } else if (track.type === 'counter') {
        this.drawCounter(track, y, t0, t1);
      }
    }
    this.drawFlows(rowY, t0, t1, npp);
    ctx.restore();
    this.drawRuler(w, t0, t1);
    const elapsed = performance.now() - started;
    this.frameTimes.push(elapsed);
    if (this.frameTimes.length > 1000) this.frameTimes.shift();
    return elapsed;
  }

  drawThread(track, y, t0, t1, npp) {
    const { ctx, data } = this;
    const t = data.threads[track.thread];
    // Sub-pixel slices are drawn in runs: adjacent merged columns of one kind on one row
    // become a single rectangle, so a dense track costs a few fillRects, not one per pixel.
    const runs = new Map();
    const flush = (d) => {
      const r = runs.get(d);
      if (!r) return;
      ctx.fillStyle = r.color;
      ctx.fillRect(LABEL_WIDTH + r.x0, y + d * ROW_HEIGHT + 1, r.x1 - r.x0, ROW_HEIGHT - 2);
      runs.delete(d);
    };
    visibleRects(data, t, t0, t1, npp, (i, x0, x1, d, merged) => {
      const k = data.kind[i];
      const marked = this.highlight.has(i) || i === this.selected;
      if (merged && !marked) {
        const color = KIND_COLORS[k] || '#8fa3bf';
        const r = runs.get(d);
        if (r && r.color === color && x0 <= r.x1 + 1) { r.x1 = Math.max(r.x1, x1); return; }
        flush(d);
        runs.set(d, { color, x0: Math.max(x0, -1), x1: Math.min(x1, this.plotWidth + 1) });
        return;
      }
      flush(d);
      ctx.fillStyle = KIND_COLORS[k] || nameColor(data.name[i]);
      const x = LABEL_WIDTH + Math.max(x0, -1);
      const right = LABEL_WIDTH + Math.min(x1, this.plotWidth + 1);
      const yy = y + d * ROW_HEIGHT + 1;
      ctx.fillRect(x, yy, Math.max(1, right - x), ROW_HEIGHT - 2);
      if (marked) {
        ctx.strokeStyle = i === this.selected ? '#000' : '#d000d0';
        ctx.lineWidth = 2;
        ctx.strokeRect(x, yy, Math.max(2, right - x), ROW_HEIGHT - 2);
        ctx.lineWidth = 1;
      }
      if (!merged && right - x > 30) {
        ctx.fillStyle = '#111';
        ctx.fillText(clipText(ctx, data.strings[data.name[i]], right - x - 6), x + 3, yy + ROW_HEIGHT / 2 - 1);
      }
    });
    for (const d of [...runs.keys()]) flush(d);
  }

  drawAsync(track, y, t0, t1, npp) {
    const { ctx, data } = this;
    const a = data.async;
    const at = data.asyncTracks[track.track];
    const from = lowerBoundIndirect(at.items, a.start, t0 - at.maxDur);
    let lastPx = -Infinity;
    for (let k = from; k < at.items.length; k++) {
      const i = at.items[k];
      if (a.start[i] > t1) break;
      if (a.start[i] + a.dur[i] < t0 || a.depth[i] >= track.rows) continue;
      const x0 = LABEL_WIDTH + (a.start[i] - t0) / npp;
      const x1 = Math.max(x0 + 1, LABEL_WIDTH + (a.start[i] + a.dur[i] - t0) / npp);
      if (a.depth[i] === 0 && x1 <= lastPx + 0.5) continue;
      if (a.depth[i] === 0) lastPx = x1;
      ctx.fillStyle = a.depth[i] === 0 ? 'rgba(42,157,143,0.35)' : 'rgba(42,157,143,0.7)';
      const left = Math.max(x0, LABEL_WIDTH - 1);
      ctx.fillRect(left, y + a.depth[i] * ROW_HEIGHT, Math.max(1, Math.min(x1, this.width) - left), ROW_HEIGHT - 2);
    }
  }

  drawCounter(track, y, t0, t1) {
    const { ctx, data } = this;
    const c = data.counters[track.counter];
    let lo = 0;
    while (lo < c.t.length - 1 && c.t[lo + 1] < t0) lo++;
    let max = 0;
    for (let i = lo; i < c.t.length && c.t[i] <= t1; i++) max = Math.max(max, c.v[i]);
    max = max || 1;
    ctx.strokeStyle = '#3f7fd9';
    ctx.fillStyle = 'rgba(63,127,217,0.15)';
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
      if (!started) { ctx.moveTo(Math.max(LABEL_WIDTH, x), yy); started = true; } else ctx.lineTo(x, yy);
      if (c.t[i] > t1) break;
    }
    ctx.stroke();
    ctx.fillStyle = '#666';
    ctx.fillText(`max ${Math.round(max * 100) / 100}`, LABEL_WIDTH + 4, y + 8);
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

  drawRuler(w, t0, t1) {
    const { ctx } = this;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, w, RULER);
    ctx.strokeStyle = '#ccc';
    ctx.beginPath(); ctx.moveTo(0, RULER - 0.5); ctx.lineTo(w, RULER - 0.5); ctx.stroke();
    const step = tickStep(t1 - t0, this.plotWidth / 110);
    ctx.fillStyle = '#333';
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const x = LABEL_WIDTH + (t - t0) / this.nsPerPx();
      ctx.beginPath(); ctx.moveTo(x, RULER - 6); ctx.lineTo(x, RULER); ctx.stroke();
      ctx.fillText(formatDuration(t), x + 3, RULER / 2);
    }
    ctx.fillText(`span ${formatDuration(t1 - t0)}`, 6, RULER / 2);
  }
}

function clipText(ctx, text, width) {
  const s = String(text);
  if (ctx.measureText(s).width <= width) return s;
  let lo = 0, hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (ctx.measureText(s.slice(0, mid) + '…').width <= width) lo = mid; else hi = mid - 1;
  }
  return lo > 0 ? s.slice(0, lo) + '…' : '';
}
