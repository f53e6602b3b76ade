#!/usr/bin/env bash
# fastpath-same.sh TREE INPUT... : runs the built TREE on each capture with the fast path (default) and without it
# (SENSOR_FASTPATH=0), pinned to core ${CORE:-1}, and compares the records as /work/briefs/same.sh does: flows, hosts,
# host_events, monitor tables (sorted), JSON lines (sorted), stdout/stderr with timing figures masked (round perf44:
# the bench capture re-framed by bench/reframe.js as SLL, SLL2 and raw IP). Prints "SAME N inputs" or the differences.
set -u
TREE=$1; shift; OUT=$(mktemp -d /tmp/fpsame.XXXX)
n=0; bad=0
for inp in "$@"; do
  n=$((n+1)); tag=$(basename $inp)
  for side in js fast; do
    d=$OUT/$tag.$side; mkdir -p $d
    fp=; [ $side = js ] && fp=SENSOR_FASTPATH=0
    (cd $TREE && env -u NODE_EXTRA_CA_CERTS $fp taskset -c ${CORE:-1} node bin/sensor.js --pcap $inp --db $d/f.db --jsonl $d/f.jsonl --no-progress --sensor-name same >$d/stdout 2>$d/stderr; echo $? > $d/rc)
    for t in flows hosts host_events monitor_windows monitor_accuracy; do
      sqlite3 -csv $d/f.db "select * from $t" 2>/dev/null | sort > $d/$t.csv
    done
    sort $d/f.jsonl > $d/jsonl.sorted
    cat $d/stdout $d/stderr | sed -E "s#$TREE/##g; s/\"(seconds|packets_per_second|peak_rss_bytes|rss_bytes|heap_bytes|elapsed|duration_ms|cpu_seconds|timestamp)\":[0-9.eE+-]+/\"\\1\":<N>/g; s/[0-9]+(\.[0-9]+)? ?(s|ms|µs|MB|MiB|KiB|GB|B|flows\/s|pkt\/s|packets\/s|\/s)\b/<N>\2/g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/<T>/g" > $d/log.norm
  done
  rows=$(wc -l < $OUT/$tag.fast/flows.csv)
  for f in rc flows.csv hosts.csv host_events.csv monitor_windows.csv monitor_accuracy.csv jsonl.sorted log.norm; do
    if ! cmp -s $OUT/$tag.js/$f $OUT/$tag.fast/$f; then
      echo "DIFF $tag $f"; diff $OUT/$tag.js/$f $OUT/$tag.fast/$f | head -6; bad=$((bad+1))
    fi
  done
  echo "$tag: $rows flows"
done
if [ $bad = 0 ]; then echo "SAME $n inputs"; rm -rf $OUT; else echo "DIFFERENT ($bad); kept $OUT"; fi
