#!/usr/bin/env bash
# Compare `redpocket serve` with redis-server under redis-benchmark, in the same run.
#
#   bash benchmarks/server.sh            # the full run: -c 50 -n 100000, -P 1 and -P 16
#   N=20000 bash benchmarks/server.sh    # a quicker one
#   REPEAT=3 bash benchmarks/server.sh   # best of 3 runs per server: steadier on a shared machine
#
# Prints requests/s of both servers per test and pipeline depth, and the ratio
# redpocket / redis-server. Targets: >= 0.90 at -P 1, >= 0.50 at -P 16.
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS=${TESTS:-set,get,incr,lpush,rpop,sadd,hset,zadd,lrange_100}
CLIENTS=${CLIENTS:-50}
N=${N:-100000}
PIPELINES=${PIPELINES:-"1 16"}
REPEAT=${REPEAT:-1}

for tool in redis-benchmark redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install redis-server redis-tools)" >&2; exit 1; }
done

free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; return 1; }

WORK=$(mktemp -d)
REDIS_PORT=$(free_port)
POCKET_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" --logfile "$WORK/redis.log" &
REDIS_PID=$!
python -m redpocket serve --port "$POCKET_PORT" --dir "$WORK" --loglevel warning 2>"$WORK/redpocket.log" &
POCKET_PID=$!
trap 'kill $REDIS_PID $POCKET_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
wait_port "$REDIS_PORT"
wait_port "$POCKET_PORT"

run() {  # port pipeline -> CSV of test,rps
    redis-benchmark -p "$1" -t "$TESTS" -c "$CLIENTS" -n "$N" -P "$2" -q --csv 2>/dev/null
}

for P in $PIPELINES; do
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
    redis-cli -p "$POCKET_PORT" flushall >/dev/null
    for R in $(seq "$REPEAT"); do  # alternate the servers, so a busy spell of the machine hits both
        run "$REDIS_PORT" "$P" >> "$WORK/redis.$P"
        run "$POCKET_PORT" "$P" >> "$WORK/pocket.$P"
    done
done

python - "$WORK" $PIPELINES <<'PY'
import csv, sys
work, pipelines = sys.argv[1], sys.argv[2:]
def load(path):
    with open(path) as f:
        best = {}  # the best of the repeated runs
        for row in csv.reader(f):
            if row and row[0] != "test":
                best[row[0]] = max(best.get(row[0], 0.0), float(row[1]))
        return best
print(f"{'test':<40} {'P':>3} {'redis-server':>13} {'redpocket':>11} {'ratio':>6}")
for p in pipelines:
    redis, pocket = load(f"{work}/redis.{p}"), load(f"{work}/pocket.{p}")
    ratios = []
    for name, base in redis.items():
        ours = pocket.get(name, 0.0)
        ratios.append(ours / base)
        print(f"{name:<40} {p:>3} {base:>13.0f} {ours:>11.0f} {ours / base:>6.2f}")
    mean = sum(ratios) / len(ratios)
    print(f"{'mean ratio':<40} {p:>3} {'':>13} {'':>11} {mean:>6.2f}")
PY
