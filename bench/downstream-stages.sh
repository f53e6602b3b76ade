#!/bin/bash
# Round perf29: the downstream stages' cost on one core, stage by stage, from bench/downstream-replay.js (round perf28).
# Each variant is a real CLI run (SENSOR_BUNDLE=off) replaying the 1M capture's 20,000 finished flow records, pinned to
# one core, with one stage switched off by its CLI flag or config variable; variants alternate inside every round,
# the order reversed every other round. Prints one line per run: round variant wall cpu (downstream part) and the
# process's user+sys from /usr/bin/time. Variants (default: the first eight; round perf29 used them, 2 x 11 rounds):
#   full, noclassify (also stops the monitor), noanomaly, nohosts, nomonitor (SENSOR_MONITOR__ENABLED=false),
#   nodbnull (no database, no host profiles; JSON lines to a sink that writes nothing, DOWNSTREAM_NULL_JSONL=1),
#   jsonl (full plus a JSON lines file), floor (every stage off, the null JSON lines sink); and nodb, none as nodbnull
#   and floor with JSON lines really written to /dev/null, dbonly (the database alone, no model, no hosts).
# A stage's cost is the per-round difference from full, median of rounds (the database alone: nohosts - nodbnull).
# Usage: bench/downstream-stages.sh RECORDS.jsonl ROUNDS [VARIANT ...]   (records: DOWNSTREAM_DUMP, see the .js)
set -u
rec=$1; rounds=$2; shift 2
variants=("$@")
[ ${#variants[@]} -eq 0 ] && variants=(full noclassify noanomaly nohosts nomonitor nodbnull jsonl floor)
tmp=${TMPDIR:-/tmp}/ds-$$; mkdir -p "$tmp"
args() {
  case $1 in
    full) echo "--db $tmp/x.db" ;;
    noclassify) echo "--db $tmp/x.db --no-classify" ;;
    noanomaly) echo "--db $tmp/x.db --no-anomaly" ;;
    nohosts) echo "--db $tmp/x.db --no-hosts" ;;
    nomonitor) echo "--db $tmp/x.db" ;;             # with SENSOR_MONITOR__ENABLED=false
    jsonl) echo "--db $tmp/x.db --jsonl $tmp/x.jsonl" ;;
    nodb) echo "--jsonl /dev/null --no-hosts" ;;  # both models and the monitor, no database (nor host profiles)
    dbonly) echo "--db $tmp/x.db --no-classify --no-anomaly --no-hosts" ;;
    none) echo "--jsonl /dev/null --no-classify --no-anomaly --no-hosts" ;;
    nodbnull) echo "--jsonl /dev/null --no-hosts" ;;  # as nodb, the JSON lines sink writing nothing
    floor) echo "--jsonl /dev/null --no-classify --no-anomaly --no-hosts" ;;  # as none, the same
  esac
}
for ((r = 1; r <= rounds; r++)); do
  order=("${variants[@]}")
  if ((r % 2 == 0)); then order=(); for ((i = ${#variants[@]} - 1; i >= 0; i--)); do order+=("${variants[i]}"); done; fi
  for v in "${order[@]}"; do
    rm -f "$tmp"/x.db* "$tmp"/x.jsonl
    mon=true; [ "$v" = nomonitor ] && mon=false
    null=0; [ "$v" = floor ] || [ "$v" = nodbnull ] && null=1
    out=$(env -u NODE_EXTRA_CA_CERTS SENSOR_BUNDLE=off SENSOR_MONITOR__ENABLED=$mon DOWNSTREAM_REPLAY="$rec" \
      DOWNSTREAM_NULL_JSONL=$null \
      DOWNSTREAM_TIMES=1 /usr/bin/time -f 'TIME %e %U %S' taskset -c 0 node -r ./bench/downstream-replay.js \
      bin/sensor.js --pcap bench/out/bench-1m.pcap $(args "$v") --no-progress --no-summary 2>&1 >/dev/null)
    ds=$(echo "$out" | grep -o 'downstream-replay {.*}' | sed 's/downstream-replay //')
    t=$(echo "$out" | grep '^TIME' | sed 's/TIME //')
    node -e 'const d=JSON.parse(process.argv[1]);const [e,u,s]=process.argv[2].split(" ").map(Number);
      console.log([process.argv[3],process.argv[4],d.downstreamWall.toFixed(3),d.downstreamCpu.toFixed(3),
      e.toFixed(2),(u+s).toFixed(2)].join(" "))' "$ds" "$t" "$r" "$v"
  done
  echo "# round $r done $(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg)"
done
rm -rf "$tmp"
