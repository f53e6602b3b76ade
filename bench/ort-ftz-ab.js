'use strict';
/**
 * Round perf24: onnxruntime's `session.set_denormal_as_zero` on one model, timed fairly. The option sets FTZ/DAZ in
 * the MXCSR of the thread that creates the session (checked: the JS thread's own double arithmetic flushes too), so
 * two sessions in one thread cannot be compared. Here the main thread runs the model with the sensor's options and a
 * worker thread with the option added; the two alternate (one waits while the other runs), 20 rounds of 3 passes over
 * the same 40 batches of 256 real rows, and every output of the rows in the sensor's own batch sizes is compared bit
 * for bit first. Prints each one's median process CPU a flow.
 *
 * Usage: taskset -c 0 node bench/ort-ftz-ab.js MODEL.onnx ROWS.f32   (ROWS.batches: the sensor's batch sizes, optional)
 */
const fs = require('node:fs');
const os = require('node:os');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const ort = require('onnxruntime-node');
const { SENSOR_SESSION_OPTIONS } = require('./ort-ab');
const { median } = require('./report');

function load(file, W) {
  const buf = fs.readFileSync(file);
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const n = x.length / W;
  const sf = file.replace(/\.f32$/, '.batches');
  const sizes = fs.existsSync(sf) ? fs.readFileSync(sf, 'utf8').trim().split('\n').map(Number) : [];
  const batches = [];
  for (let i = 0; i + 256 <= Math.min(40 * 256, n); i += 256) batches.push(new ort.Tensor('float32', x.slice(i * W, (i + 256) * W), [256, W]));
  return { x, sizes, batches };
}

async function side(opts, model, file) {
  const s = await ort.InferenceSession.create(model, opts);
  const W = s.inputMetadata[0].shape[1];
  const { x, sizes, batches } = load(file, W);
  const name = s.inputNames[0];
  return {
    async outputs() {
      const parts = [];
      let i = 0;
      for (const m of sizes) {
        const r = await s.run({ [name]: new ort.Tensor('float32', x.slice(i * W, (i + m) * W), [m, W]) });
        for (const o of s.outputNames) parts.push(Buffer.from(r[o].data.buffer, r[o].data.byteOffset, r[o].data.byteLength));
        i += m;
      }
      return Buffer.concat(parts);
    },
    async passes() { for (let r = 0; r < 3; r++) for (const t of batches) await s.run({ [name]: t }); return 3 * batches.length * 256; },
  };
}

if (!isMainThread) {
  (async () => {
    const me = await side({ ...SENSOR_SESSION_OPTIONS, extra: { session: { set_denormal_as_zero: '1' } } }, workerData.model, workerData.file);
    const probe = [1e-310][0] * 0.5;
    parentPort.on('message', async (m) => {
      if (m === 'outputs') { const b = await me.outputs(); parentPort.postMessage({ out: b, ftz: probe === 0 }); }
      else if (m === 'passes') parentPort.postMessage({ rows: await me.passes() });
      else process.exit(0);
    });
    parentPort.postMessage('ready');
  })();
} else {
  (async () => {
    const [model, file] = process.argv.slice(2);
    const w = new Worker(__filename, { workerData: { model, file } });
    const next = () => new Promise((res) => w.once('message', res));
    await next();
    const a = await side(SENSOR_SESSION_OPTIONS, model, file);
    const ask = async (m) => { w.postMessage(m); return next(); };
    const oa = await a.outputs();
    const ob = await ask('outputs');
    const res = [[], []];
    for (let round = 0; round < 20; round++) {
      for (const k of [round % 2, 1 - (round % 2)]) {
        const c = process.cpuUsage();
        const rows = k === 0 ? await a.passes() : (await ask('passes')).rows;
        const u = process.cpuUsage(c);
        res[k].push((u.user + u.system) / rows);
      }
    }
    w.postMessage('exit');
    const probe = [1e-310][0] * 0.5;
    process.stdout.write(`${JSON.stringify({ model, outputBytes: oa.length, identical: Buffer.compare(oa, Buffer.from(ob.out)) === 0,
      ftzInWorker: ob.ftz, ftzInMain: probe === 0, us_per_flow_plain_ftz: [+median(res[0]).toFixed(3), +median(res[1]).toFixed(3)],
      loadAverage1m: +os.loadavg()[0].toFixed(2) })}\n`);
  })();
}
