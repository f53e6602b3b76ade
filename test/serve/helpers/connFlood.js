// Opens many connections to a loopback server from a separate process, so that they are really concurrent.
// Usage: node connFlood.js PORT N MODE   (MODE: hold = send half a request and keep the socket open;
// full = send whole requests at once). Prints one JSON line when every socket is open or closed (hold), or
// answered or closed (full); in hold mode it then waits for a line on stdin and closes its sockets.
'use strict';
const net = require('node:net');
const [port, n, mode] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4]];
if (!(port > 0) || !(n > 0) || !['hold', 'full'].includes(mode)) {
  process.stderr.write('usage: node connFlood.js PORT N hold|full\n');
  process.exit(2);
}
const host = '127.0.0.1';
if (host !== '127.0.0.1') process.exit(2); // loopback only, by construction
const body = '[[517,-1448' + ',0'.repeat(28) + ']]';
const sockets = [];
const tally = { connected: 0, closedByServer: 0, answered: {}, errors: {} };
let settled = 0;
let reported = false;
function report() {
  if (reported || settled < n) return;
  reported = true;
  process.stdout.write(JSON.stringify(tally) + '\n');
}
for (let i = 0; i < n; i++) {
  const s = net.connect({ host, port });
  sockets.push(s);
  let done = false;
  const settle = () => { if (!done) { done = true; settled++; report(); } };
  let data = '';
  s.on('connect', () => {
    tally.connected++;
    if (mode === 'hold') {
      s.write(`POST /v1/classify HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n[[517`);
      // Held open: counts as settled once the server has had time to accept or drop it.
      setTimeout(settle, 1500);
    } else {
      s.end(`POST /v1/classify HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    }
  });
  s.on('data', (d) => { data += d; });
  s.on('close', () => {
    const status = /^HTTP\/1\.1 (\d+)/.exec(data);
    if (status) tally.answered[status[1]] = (tally.answered[status[1]] || 0) + 1;
    else if (!reported || mode === 'full') tally.closedByServer++;
    settle();
  });
  s.on('error', (e) => { tally.errors[e.code || e.message] = (tally.errors[e.code || e.message] || 0) + 1; });
}
if (mode === 'hold') {
  process.stdin.once('data', () => { for (const s of sockets) s.destroy(); process.exit(0); });
}
