#!/usr/bin/env bash
# Benchmark the k8rs API server: creates (objects/s, p50/p99), LIST, watch event
# latency, RSS idle and with the objects, startup time; embedded vs etcd storage.
#
#   hack/bench.sh                       # 10,000 objects, 16 clients, 100 watchers, 3 runs, both backends
#   hack/bench.sh --backend embedded    # extra arguments go to k8rs-bench (see --help)
#   hack/bench.sh --objects 200 --watchers 5 --runs 1   # quick smoke run
#
# Builds release binaries first (the numbers of a debug build mean little).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -d "$HOME/.cargo/bin" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

cargo build --release -p k8rs -p k8rs-bench

target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/k8rs-bench" \
    --k8rs-bin "$target_dir/release/k8rs" \
    --objects 10000 --clients 16 --watchers 100 --runs 3 \
    "$@"
