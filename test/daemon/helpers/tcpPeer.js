'use strict';
/**
 * Both ends of the test connections, run inside a network namespace by `ip netns exec NS node tcpPeer.js ...`.
 *
 *   server ADDR PORT
 *     Answers the first data on each connection with (request bytes + 100) zero bytes, closes when the client
 *     closes. Prints "listening" once ready.
 *   clients ADDR PORT COUNT REQLEN hold|close
 *     Opens COUNT connections at once; each sends REQLEN zero bytes in one write and waits for the answer. With
 *     `hold` the connections then stay open, silent, until this process is killed; with `close` each closes
 *     (FIN both ways). Prints "ready" when every connection got its answer (and, with close, has closed).
 *
 * So every connection's payload-length sequence is [REQLEN, -(REQLEN + 100)]: one segment each way, since both
 * sizes are far below the MSS and each side writes once.
 */
const net = require('node:net');

const EXTRA = 100;
const [mode, addr, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);

function fail(msg) {
  process.stderr.write(`tcpPeer: ${msg}\n`);
  process.exit(1);
}

if (mode === 'server') {
  const server = net.createServer((sock) => {
    let answered = false;
    sock.on('data', (d) => {
      if (answered) return;
      answered = true;
      sock.write(Buffer.alloc(d.length + EXTRA));
    });
    sock.on('end', () => sock.end());
    sock.on('error', () => sock.destroy());
  });
  server.on('error', (e) => fail(`server on ${addr}:${port}: ${e.message}`));
  server.listen(port, addr, () => process.stdout.write('listening\n'));
} else if (mode === 'clients') {
  const count = Number(rest[0]);
  const reqLen = Number(rest[1]);
  const hold = rest[2] === 'hold';
  const sockets = [];
  let done = 0;
  const finished = () => {
    if (++done === count) process.stdout.write('ready\n');
  };
  for (let i = 0; i < count; i++) {
    const sock = net.connect({ host: addr, port, noDelay: true }, () => sock.write(Buffer.alloc(reqLen)));
    sockets.push(sock);
    let got = 0;
    sock.on('data', (d) => {
      got += d.length;
      if (got < reqLen + EXTRA) return;
      if (hold) finished();
      else sock.end();
    });
    if (!hold) sock.on('close', finished);
    sock.on('error', (e) => fail(`connection ${i} to ${addr}:${port}: ${e.message}`));
  }
  // Hold until killed; a timer keeps the event loop alive even when every socket is idle.
  setInterval(() => {}, 1 << 30);
  process.on('SIGTERM', () => {
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
} else {
  fail(`unknown mode ${mode}: use server ADDR PORT, or clients ADDR PORT COUNT REQLEN hold|close`);
}
