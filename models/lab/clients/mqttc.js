// MQTT.js (Debian node-mqtt) session: node mqttc.js URL SEED [USER PASSWORD]  (URL mqtt://host:1883 or mqtts://host:8883)
'use strict';
const mqtt = require('/usr/share/nodejs/mqtt');

const [url, seedText, username, password] = process.argv.slice(2);
let seed = Number(seedText) >>> 0;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const c = mqtt.connect(url, {
  rejectUnauthorized: false, protocolVersion: username ? pick([4, 4, 5]) : pick([3, 4, 4, 5]), clientId: `mqttjs_${Math.floor(rnd() * 1e8).toString(16)}`,
  keepalive: pick([10, 30, 60]), clean: rnd() < 0.8, connectTimeout: 15000, reconnectPeriod: 0,
  ...(username ? { username, password } : {}),
});
const timer = setTimeout(() => process.exit(1), 25000);
c.on('error', (e) => { console.error(String(e)); process.exit(1); });
c.on('connect', async () => {
  const topic = pick(['home/temp', 'plant/line1/status', 'devices/abc/telemetry', 'js/t']);
  if (rnd() < 0.4) c.subscribe(pick([topic, '#', 'home/#']), { qos: pick([0, 1]) });
  const n = 1 + Math.floor(rnd() * 8);
  for (let i = 0; i < n; i++) {
    c.publish(topic, 'j'.repeat(1 + Math.floor(rnd() * 1500)), { qos: pick([0, 0, 1, 2]), retain: rnd() < 0.2 });
    await new Promise((r) => setTimeout(r, rnd() * 400));
  }
  c.end(false, {}, () => { clearTimeout(timer); });
});
