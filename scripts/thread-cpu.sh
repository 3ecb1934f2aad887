#!/usr/bin/env bash
# CPU of a process's main thread against all its other threads (libuv's thread pool, V8's GC and
# compiler helpers), every 4 seconds, from /proc/<pid>/task/*/stat: how much of a server's cost runs
# off its event loop. Waits for the first process whose command line matches <pattern> (pgrep -f;
# bracket a letter, e.g. 'kefu-hu[b].ts', so that the pattern does not match this script), prints
# until it exits or <periods> have passed. Figures are clock ticks per period (100 = a whole core
# for 1 s, so 400 per period = one core). docs/benchmarks.md (hub-latency, session 9) quotes it:
#   scripts/thread-cpu.sh 'kefu-hu[b].ts.*--store leve[l]' 40 > /tmp/level.txt &
#   node bench/run.mjs hub-latency --only raw_ws_ack,kefu,kefu_memory --ladder 1000 --rate 1000 --rounds 2
set -euo pipefail
pattern=${1:?usage: thread-cpu.sh <pgrep -f pattern> [periods=40]}
periods=${2:-40}
pid=""
while [ -z "$pid" ]; do pid=$(pgrep -f "$pattern" | head -1 || true); sleep 0.5; done
echo "pid $pid $(date -u +%T)"
# utime + stime (fields 14 and 15 of stat; after the ") " that ends the command name, 12 and 13).
snap() { for t in /proc/"$pid"/task/*; do s=($(sed 's/.*) //' "$t/stat" 2>/dev/null || true)); echo "${t##*/} $(( ${s[11]:-0} + ${s[12]:-0} ))"; done | sort; }
prev=$(snap)
for _ in $(seq 1 "$periods"); do
  sleep 4
  [ -d /proc/"$pid" ] || break
  cur=$(snap)
  echo "$(date -u +%T) $(join <(echo "$prev") <(echo "$cur") | awk -v pid="$pid" '{d=$3-$2; if ($1==pid) m+=d; else o+=d} END {printf "main=%d other=%d", m, o}')"
  prev=$cur
done
