#!/usr/bin/env bash
# THE test command: install dependencies, build the k8rs binary, run every
# unit test and the end-to-end conformance suite. Exits non-zero on any
# failure.
#
# Extra arguments are passed to `cargo test` (e.g. `hack/test.sh -p
# k8rs-conformance --test crud`).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -d "$HOME/.cargo/bin" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

bash hack/install-deps.sh

# Keep CI logs free of ANSI colour codes.
if [[ "${CI:-}" == "true" ]]; then
    export CARGO_TERM_COLOR=never
fi

# The conformance tests run target/debug/k8rs (see conformance/src/lib.rs);
# build it first so they test the current source.
cargo build --bin k8rs

if (($#)); then
    exec cargo test "$@"
fi
# --no-fail-fast: report every failing test binary, not only the first.
exec cargo test --workspace --no-fail-fast
