// The live tail: new matching activities from the SSE stream, reconnecting
// (and resuming with Last-Event-ID) when the connection drops.

import { sse } from './api.js';

export class LiveTail {
  constructor(onActivity, onState) {
    this.onActivity = onActivity;
    this.onState = onState;
    this.abort = null;
    this.lastId = null;
  }

  get running() { return this.abort !== null; }

  start(params) {
    this.stop();
    const abort = new AbortController();
    this.abort = abort;
    this.lastId = null;
    const run = async () => {
      while (!abort.signal.aborted) {
        try {
          this.onState('live');
          await sse(params, this.lastId, abort.signal, (e) => {
            if (e.event === 'activity') {
              if (e.id) this.lastId = e.id;
              try { this.onActivity(JSON.parse(e.data)); } catch { /* a malformed event is skipped */ }
            } else if (e.event === 'lagged') {
              this.onState('lagged');
            }
          });
        } catch (err) {
          if (abort.signal.aborted) return;
          this.onState('error', err);
          if (err.status && err.status < 500 && err.status !== 429) { this.stop(); return; }
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    };
    run();
  }

  stop() {
    if (this.abort) this.abort.abort();
    this.abort = null;
  }
}
