// Node.js client (Node's own OpenSSL build, its own HTTP/1.1 stack or node:http2):
//   node webc.js BASEURL h1|h2 SEED PATH...
'use strict';
const http = require('node:http');
const https = require('node:https');
const http2 = require('node:http2');

const [base, mode, seedText, ...paths] = process.argv.slice(2);
let seed = Number(seedText) >>> 0;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
const url = new URL(base);
const tls = url.protocol === 'https:';
const timer = setTimeout(() => process.exit(1), 30000);

async function h1() {
  const mod = tls ? https : http;
  const agent = new mod.Agent({ keepAlive: rnd() < 0.7, maxSockets: 1 + Math.floor(rnd() * 6) });
  await Promise.all(paths.map((p) => new Promise((resolve, reject) => {
    const post = p.startsWith('upload');
    const req = mod.request(`${base}/${p}`, { agent, method: post ? 'POST' : 'GET', rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(post ? 'n'.repeat(1 + Math.floor(rnd() * 20000)) : undefined);
  })));
  agent.destroy();
}

async function h2() {
  const s = http2.connect(base, { rejectUnauthorized: false });
  await Promise.all(paths.map((p) => new Promise((resolve, reject) => {
    const req = s.request({ ':path': `/${p}` });
    req.on('data', () => {});
    req.on('end', resolve);
    req.on('error', reject);
    req.end();
  })));
  s.close();
}

(mode === 'h2' && tls ? h2() : h1()).then(() => { clearTimeout(timer); }, () => process.exit(1));
