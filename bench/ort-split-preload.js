'use strict';
/**
 * Round perf24, a preload (not shipped): onnxruntime-node's native InferenceSession wrapped in every thread that loads
 * it, so a real run reports the process CPU (process.cpuUsage(), around each synchronous native call; on one pinned core
 * nothing else runs meanwhile) of each model's loadModel and run, with calls and rows, by model (input width 30: the
 * classifier; else the anomaly model). With ORTSPLIT_DUMP=DIR every run's input is appended to DIR/<model>.f32 and
 * its batch size to DIR/<model>.batches: the capture's real rows in the sensor's own batches, for
 * bench/ort-options-ab.js, bench/ort-profile.js and bench/ort-ftz-ab.js. (/proc/thread-self/schedstat was tried for
 * thread CPU and is not usable here: it is only brought up to date at ticks, in 4 ms steps.)
 *
 * Usage: env -u NODE_EXTRA_CA_CERTS taskset -c 0 node -r ./bench/ort-split-preload.js bin/sensor.js --pcap bench/out/bench-1m.pcap --db NEW.db --no-progress
 *        prints `ORTSPLIT thread N {...}` on standard error at exit (and every 0.5 s while it runs)
 */
const fs = require('node:fs');
const { threadId } = require('node:worker_threads');
function tns() { const c = process.cpuUsage(); return (c.user + c.system) * 1000; }
const stats = {};
const DUMP = process.env.ORTSPLIT_DUMP;
let patched = false;
function add(k, d, rows) { const s = (stats[k] ??= { ms: 0, n: 0, rows: 0 }); s.ms += d / 1e6; s.n++; s.rows += rows; }
function patch(b) {
  patched = true;
  const N = b.binding.InferenceSession;
  class W {
    constructor() { this.i = new N(); }
    loadModel(...a) { const t = tns(); const r = this.i.loadModel(...a); const w = this.i.inputMetadata[0].shape[1];
      this.label = w === 30 ? 'classifier' : `anomaly(w${w})`; add(this.label + ':load', tns() - t, 0); return r; }
    get inputMetadata() { return this.i.inputMetadata; }
    get outputMetadata() { return this.i.outputMetadata; }
    run(feeds, ...a) { if (DUMP) { const x = Object.values(feeds)[0]; fs.appendFileSync(`${DUMP}/${this.label.replace(/[()]/g, '')}.f32`, Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)); fs.appendFileSync(`${DUMP}/${this.label.replace(/[()]/g, '')}.batches`, `${x.dims[0]}\n`); } const t = tns(); const r = this.i.run(feeds, ...a); add(this.label, tns() - t, Object.values(feeds)[0].dims[0]); return r; }
    dispose() { return this.i.dispose(); }
    endProfiling() { return this.i.endProfiling(); }
  }
  const nb = Object.create(b.binding); nb.InferenceSession = W; b.binding = nb;
}
const Module = require('node:module');
const origLoad = Module._load;
Module._load = function (req, ...rest) { const r = origLoad.call(this, req, ...rest); if (!patched && /binding$/.test(req) && r && r.initOrt) patch(r); return r; };
const dump = () => { if (Object.keys(stats).length) process.stderr.write(`ORTSPLIT thread ${threadId} ${JSON.stringify(stats)}\n`); };
process.on('exit', dump); setInterval(dump, 500).unref();
