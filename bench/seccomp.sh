#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/seccomp.sh - cost of the seccomp filter: compile time of the default profile (paid by
# every container start, in the parent) and per-syscall overhead once loaded, side by side
# with no filter; plus a shell workload under each (hyperfine).
#
# Usage: bash bench/seccomp.sh   (no root needed; RUNS=20 hyperfine runs, N=2000000 calls)
set -u -o pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-20}; N=${N:-2000000}
(cd "$here" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target} cargo build -q --release \
  -p stockade-seccomp --bin stockade-seccomp-helper) || exit 1
H=${CARGO_TARGET_DIR:-$here/target}/release/stockade-seccomp-helper

echo "== compile the default profile (libseccomp 2.5 + export + ENOSYS prologue)"
"$H" --none time-compile=200
"$H" --none print-default | python3 -c 'import json,sys; p=json.load(sys.stdin); print("profile:", sum(len(r["names"]) for r in p["syscalls"]), "names,", len(p["syscalls"]), "entries")'

echo "== per-syscall cost (getppid: allowed; mkdirat(NULL): allowed, fails EFAULT; bpf: denied)"
for mode in --none --default; do
  for call in getppid mkdirat bpf; do
    printf '%-10s ' "$mode"; "$H" $mode --nnp "loop:$call=$N"
  done
done

echo "== shell workload: busybox sh, 20000 loop iterations with a fork every 100"
script='i=0; while [ $i -lt 20000 ]; do i=$((i+1)); [ $((i % 100)) = 0 ] && /bin/busybox true; done'
hyperfine -N -w 3 -r "$RUNS" \
  -n none "$H --none --nnp exec /bin/busybox sh -c '$script'" \
  -n default-profile "$H --default --nnp exec /bin/busybox sh -c '$script'"
