// worker.js — parses a dropped trace off the main thread.
import { parseChromeTrace } from './parse.js';

self.onmessage = (event) => {
  try {
    self.postMessage({ ok: true, doc: parseChromeTrace(event.data) });
  } catch (e) {
    self.postMessage({ ok: false, error: String(e && e.message ? e.message : e) });
  }
};
