#!/usr/bin/env bash
# THE test command: install dependencies, build the k8rs binary, run every
# unit test and the end-to-end conformance suite. Exits non-zero on any
# failure.
#
# Extra arguments are passed to `cargo test` (e.g. `hack/test.sh -p
# k8rs-conformance --test crud`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo_home="${CARGO_HOME:-${HOME:-/root}/.cargo}"
if [[ -d "$cargo_home/bin" ]]; then
    export PATH="$cargo_home/bin:$PATH"
fi

bash hack/install-deps.sh

# Keep CI logs free of ANSI colour codes.
if [[ "${CI:-}" == "true" ]]; then
    export CARGO_TERM_COLOR=never
    # A one-shot build gains nothing from incremental state but its disk use.
    export CARGO_INCREMENTAL=0
fi

# The conformance tests run target/debug/k8rs (see conformance/src/lib.rs);
# build it first so they test the current source.
cargo build --bin k8rs

# A watchdog: a hung test must fail the run well inside CI's time limit
# rather than eat it. timeout(1) signals its whole process group, so test
# binaries and the servers they started go too.
limit="${K8RS_TEST_TIMEOUT:-40m}"
if (($#)); then
    args=("$@")
else
    # --no-fail-fast: report every failing test binary, not only the first.
    args=(--workspace --no-fail-fast)
fi
status=0
timeout --kill-after=30s "$limit" cargo test "${args[@]}" || status=$?
if ((status == 124 || status == 137)); then
    echo "hack/test.sh: cargo test did not finish within $limit (K8RS_TEST_TIMEOUT); a test hangs" >&2
fi
exit "$status"
