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
