// SMB2 client in plain JavaScript (v9u-smb2 1.0.6, the fork of @marsaud/smb2 that answers NTLM with NTLMv2;
// dialect 2.0.2, no signing; installed for the lab with npm install --prefix /opt/sensorlab/node v9u-smb2@1.0.6):
// smbc.js HOST SHARE USER PASSWORD KIND SEED FILE...
// KIND browse: list the share (and a folder); bulk: read files, sometimes write one; admin: exists/stat checks.
const SMB2 = require("/opt/sensorlab/node/node_modules/v9u-smb2");
const [host, share, user, pw, kind, seedArg, ...files] = process.argv.slice(2);
let seed = Number(seedArg) >>> 0;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const c = new SMB2({ share: `\\\\${host}\\${share}`, domain: pick(["WORKGROUP", "LAB", ""]), username: user, password: pw,
  autoCloseTimeout: 0 });
(async () => {
  if (kind === "browse") {
    await c.readdir("");
    if (rnd() < 0.5) await c.readdir("");
  } else if (kind === "bulk") {
    for (let i = 0; i < 1 + Math.floor(rnd() * 3); i++) await c.readFile(pick(files));
    if (rnd() < 0.4) await c.writeFile(`up${Math.floor(rnd() * 999)}.bin`, Buffer.alloc(Math.floor(rnd() * 200000), 7));
  } else {
    await c.exists(pick(files));
    await c.exists("nosuchfile.txt");
    await c.readdir("");
  }
  await c.disconnect();
})().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
