// Node.js static web server for the lab (node:http, node:https, or node:http2 with HTTP/1.1 fallback):
//   node webd.js ADDR PORT ROOT http|https|h2 [KEY CERT]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [addr, port, root, mode, key, cert] = process.argv.slice(2);
function handler(req, res) {
  if (req.url.startsWith('/upload')) {
    req.resume();
    req.on('end', () => { res.writeHead(201); res.end(); });
    return;
  }
  const file = path.join(root, path.normalize(decodeURIComponent(req.url.split('?')[0])));
  fs.readFile(file.endsWith('/') ? file + 'index.html' : file, (err, data) => {
    if (err) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not found\n'); return; }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(data);
  });
}
let server;
if (mode === 'http') server = require('node:http').createServer(handler);
else if (mode === 'https') server = require('node:https').createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, handler);
else server = require('node:http2').createSecureServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert), allowHTTP1: true }, handler);
server.listen(Number(port), addr);
