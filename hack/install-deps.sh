#!/usr/bin/env bash
# Install what building and testing k8rs needs. Idempotent and quiet on
# success: it only touches apt/pip when something is missing.
#
# To add a Debian package, add it to APT_PACKAGES; a Python module, add a
# "module:pip-package" entry to PIP_PACKAGES.
set -euo pipefail

APT_PACKAGES=(
    etcd-server        # /usr/bin/etcd for the --etcd-servers conformance tests
    protobuf-compiler  # protoc
    curl               # raw HTTP in the conformance harness
)

PIP_PACKAGES=(
    kubernetes:kubernetes  # the official Python client (conformance/python)
)

# Binaries that must already be on the machine (not installable from here).
REQUIRED_FILES=(
    /usr/bin/kubectl
)

log=$(mktemp)
trap 'rm -f "$log"' EXIT

die() {
    echo "install-deps: $*" >&2
    if [[ -s "$log" ]]; then
        echo "--- output ---" >&2
        tail -n 50 "$log" >&2
    fi
    exit 1
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root to run: $*"
    fi
}

# --- apt ---------------------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq >>"$log" 2>&1 || die "apt-get update failed"
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 \
        || die "apt-get install ${missing[*]} failed"
fi

# --- pip ---------------------------------------------------------------------
for entry in "${PIP_PACKAGES[@]}"; do
    module=${entry%%:*}
    package=${entry#*:}
    if ! python3 -c "import $module" >/dev/null 2>&1; then
        python3 -m pip install -q "$package" >>"$log" 2>&1 \
            || python3 -m pip install -q --break-system-packages "$package" >>"$log" 2>&1 \
            || die "pip install $package failed"
        python3 -c "import $module" >/dev/null 2>&1 || die "python module $module still missing"
    fi
done

# --- checks ------------------------------------------------------------------
for f in "${REQUIRED_FILES[@]}"; do
    [[ -x "$f" ]] || die "$f is missing (it is part of the machine image)"
done
