// format.js — numbers and durations for display. Trace strings are never turned into HTML:
// the viewer sets them with textContent only.

/** `1.23 s`, `45.6 ms`, `789 µs`, `12 ns` from nanoseconds. */
export function formatDuration(ns) {
  const a = Math.abs(ns);
  if (a >= 1e9) return `${three(ns / 1e9)} s`;
  if (a >= 1e6) return `${three(ns / 1e6)} ms`;
  if (a >= 1e3) return `${three(ns / 1e3)} µs`;
  return `${Math.round(ns)} ns`;
}

/** Three significant digits. */
export function three(v) {
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return v.toFixed(digits);
}

/** A "nice" tick step (1, 2 or 5 × 10^k ns) for about `target` ticks over `span` ns. */
export function tickStep(span, target) {
  const raw = span / Math.max(1, target);
  const power = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/**
 * A ruler tick at `ns`, with as many decimals as ticks `step` ns apart need to differ (a deep
 * zoom 175 ms into a trace reads `175.0125 ms`, `175.0150 ms`, not `175 ms` at every tick).
 */
export function formatTick(ns, step) {
  const a = Math.abs(ns);
  const unit = a >= 1e9 ? [1e9, 's'] : a >= 1e6 ? [1e6, 'ms'] : a >= 1e3 ? [1e3, 'µs'] : [1, 'ns'];
  // The step's own decimals in that unit (2.5 µs in ms: 0.0025, four).
  const v = step / unit[0];
  let decimals = 0;
  while (decimals < 6 && Math.abs(v * 10 ** decimals - Math.round(v * 10 ** decimals)) > 1e-6 * Math.max(1, v * 10 ** decimals)) decimals++;
  return `${(ns / unit[0]).toFixed(decimals)} ${unit[1]}`;
}
