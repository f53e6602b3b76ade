'use strict';
/**
 * A preload that times the SQLite sink inside a real run: the CPU time (user + system, this process) spent in
 * SqliteSink.write() (the uid, the row's parameters, the inserts, the commits made on the way) and in close() (the last
 * commit, the deferred indexes, the checkpoint), printed as one line on stderr at exit:
 *
 *   SINK write USER+SYS close USER+SYS total MS
 *
 * The sink runs on the calling thread where the process has one CPU (pin it), so pin the run to one core. Loads the
 * sink of the checkout it is run from (the current directory), so the same file times any built tree:
 *
 *   cd TREE && taskset -c 0 node -r /path/to/bench/sqlite-sink-cpu.js bin/sensor.js --pcap bench-1m.pcap --db X.db --no-progress
 */
const path = require('node:path');

const { SqliteSink } = require(path.join(process.cwd(), 'dist', 'sink', 'sqliteSink.js'));
const spent = { write: [0, 0], close: [0, 0] };
for (const name of ['write', 'close']) {
  const inner = SqliteSink.prototype[name];
  SqliteSink.prototype[name] = function timed(...args) {
    const c0 = process.cpuUsage();
    try {
      return inner.apply(this, args);
    } finally {
      const c = process.cpuUsage(c0);
      spent[name][0] += c.user / 1000;
      spent[name][1] += c.system / 1000;
    }
  };
}
process.on('exit', () => {
  const f = ([u, s]) => `${u.toFixed(1)}+${s.toFixed(1)}`;
  const total = spent.write[0] + spent.write[1] + spent.close[0] + spent.close[1];
  process.stderr.write(`SINK write ${f(spent.write)} close ${f(spent.close)} total ${total.toFixed(1)}\n`);
});
