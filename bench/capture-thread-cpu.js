'use strict';
/**
 * Preload (`node -r ./bench/capture-thread-cpu.js bin/sensor.js ...`): at exit the main thread prints one line
 * `CAPTURE_THREAD_CPU <capture thread CPU s> <process CPU s>` to stderr. The capture thread's time comes from
 * /proc/self/task/<pid>/stat (Linux), the process's from process.cpuUsage() (every thread). Worker threads inherit the
 * preload and print nothing. Used by bench/threads.js.
 */
const fs = require('node:fs');
const { isMainThread } = require('node:worker_threads');

if (isMainThread) {
  process.on('exit', () => {
    let capture = NaN;
    try {
      const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state is field 3, utime 14 and stime 15 (clock ticks).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      capture = (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // not Linux: the process figure only
    }
    const u = process.cpuUsage();
    process.stderr.write(`CAPTURE_THREAD_CPU ${capture} ${(u.user + u.system) / 1e6}\n`);
  });
}
