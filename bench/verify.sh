#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/verify.sh - `stockade verify` on a 1 GiB signed image against sha256sum over the same
# bytes, and a cached ECL re-verify (what `run` pays under an active ECL), side by side.
#
#   sha256sum   : sha256sum of the 1 GiB random partition file (page cache warm; coreutils'
#                 own SHA-256, no SHA-NI)
#   openssl     : openssl dgst -sha256 of the same file (SHA-NI), the faster peer
#   verify      : stockade verify --key (DSSE Ed25519) of an image holding that partition
#   verify pgp  : stockade verify --keyring (PGP) of its PGP-signed twin
#   ecl cold    : stockade verify --ecl, cache entry removed before each run (full verify)
#   ecl cached  : stockade verify --ecl with the root-only verification cache warm: the same
#                 Ecl::load + Ecl::check_global that `stockade run` does before mounting
#   start       : stockade --version, the process start every `stockade` command pays
# Columns: wall median and min, CPU (user+sys, mean; robust on a busy machine), throughput and
# ratio computed from the min. Then the in-process cost of one cache hit (first call in a
# fresh process, median of 20 processes) from crates/trust/examples/ecl_check.rs: `global` is
# the run path (Ecl::check_global), `parsed` the older Keyring::load + Ecl::check.
# RUST_BACKTRACE is unset (as in production: with it, every internal error captures a
# backtrace). The load average is printed: on a shared 2-core VM, compare CPU and min.
#
# Usage (root): bash bench/verify.sh        RUNS=5 (hyperfine runs), SIZE_MIB=1024
# BIN=<stockade> (default: built here with cargo --release). Works in a tempdir (removed);
# removes /var/cache/stockade again if it did not exist before.
set -u -o pipefail
[ "$(id -u)" = 0 ] || { echo "verify.sh: run as root" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}; SIZE_MIB=${SIZE_MIB:-1024}
shared=${STOCKADE_SHARED:-$here/../shared}/testdata/sif
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
tdir=${CARGO_TARGET_DIR:-$here/target}
if [ -z "${BIN:-}" ]; then
  (cd "$here" && CARGO_TARGET_DIR=$tdir cargo build -q --release -p stockade) || exit 1
  BIN=$tdir/release/stockade
fi
(cd "$here" && CARGO_TARGET_DIR=$tdir cargo build -q --release -p stockade-trust --example ecl_check) || exit 1
ECL_CHECK=$tdir/release/examples/ecl_check
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
W=$(mktemp -d /tmp/stockade-verify-bench.XXXXXX)
cache_existed=0; [ -e /var/cache/stockade ] && cache_existed=1
cleanup() {
  rm -rf "$W"
  [ "$cache_existed" = 0 ] && rm -rf /var/cache/stockade
}
trap cleanup EXIT
export HOME=$W/home STOCKADE_SYSCONFDIR=$W/conf
mkdir -p "$HOME" "$STOCKADE_SYSCONFDIR" "$W/img"

echo "# making a ${SIZE_MIB} MiB image" >&2
head -c $((SIZE_MIB << 20)) /dev/urandom > "$W/part.bin"
cp "$shared/sylabs-sif/images/one-group.sif" "$W/img/big.sif"
"$BIN" -q sif add --datatype 4 --partfs 4 --parttype 3 --partarch amd64 --groupid 1 "$W/img/big.sif" "$W/part.bin" >/dev/null
"$BIN" -q key newpair --pem ed25519 --out "$W/ed.pem" >/dev/null
printf e2e > "$W/pw"
cp "$W/img/big.sif" "$W/dsse.sif"   # the ECL accepts PGP only: DSSE goes on a twin image
"$BIN" -q sign --key "$W/ed.pem" "$W/dsse.sif" >/dev/null
"$BIN" -q sign --keyring "$shared/ecl/pgpkeys/key1.asc" --passphrase-file "$W/pw" "$W/img/big.sif" >/dev/null
"$BIN" -q key import --global "$shared/ecl/pgpkeys/pubkey1.asc" >/dev/null
cat > "$STOCKADE_SYSCONFDIR/ecl.toml" <<TOML
activated = true
[[execgroup]]
tagname = "bench"
mode = "whitelist"
dirpath = "$W/img"
keyfp = ["0C5B8C9A5FFC44E2A0AC79851CD6FA281D476DD1"]
TOML
sleep 3   # the cache refuses files changed in the last 2 s
cat "$W/part.bin" "$W/img/big.sif" "$W/dsse.sif" > /dev/null   # warm the page cache for everyone

"$BIN" -q verify --ecl "$W/img/big.sif" >/dev/null || { echo "ECL denied the bench image" >&2; exit 1; }
hyperfine -N -w 1 -r "$RUNS" --export-json "$W/h.json" \
  -n sha256sum "sha256sum $W/part.bin" \
  -n "openssl sha256" "openssl dgst -sha256 $W/part.bin" \
  -n verify "$BIN -q verify --key $W/ed.pem.pub $W/dsse.sif" \
  -n "verify pgp" "$BIN -q verify --keyring $shared/ecl/pgpkeys/pubkey1.asc $W/img/big.sif" \
  -n "ecl cold" --prepare "rm -rf /var/cache/stockade/verify" "$BIN -q verify --ecl $W/img/big.sif" \
  >/dev/null 2>&1 || { echo "hyperfine failed" >&2; exit 1; }
"$BIN" -q verify --ecl "$W/img/big.sif" >/dev/null
hyperfine -N -w 3 -r $((RUNS * 10)) --export-json "$W/c.json" \
  -n "ecl cached" "$BIN -q verify --ecl $W/img/big.sif" \
  -n start "$BIN --version" >/dev/null 2>&1
for mode in global parsed; do
  for _ in $(seq 20); do "$ECL_CHECK" "$mode" "$STOCKADE_SYSCONFDIR" "$W/img/big.sif" 20 || exit 1; done |
    awk -v m="$mode" '{ print $3 }' | sort -n |
    awk -v m="$mode" '{ v[NR] = $1 } END { printf "in-process %-7s hit: first call median %.0f us (min %.0f)\n", m, v[int((NR + 1) / 2)], v[1] }'
done > "$W/inproc.txt"

python3 - "$W/h.json" "$W/c.json" "$SIZE_MIB" <<'PY'
import json, sys
rows = []
for f in sys.argv[1:3]:
    rows += json.load(open(f))["results"]
size = int(sys.argv[3])
base = next(r for r in rows if r["command"] == "sha256sum")["median"]
base_min = next(r for r in rows if r["command"] == "sha256sum")["min"]
print(f"{'command':<12} {'median':>10} {'min':>10} {'cpu':>10} {'MiB/s(min)':>11} {'min vs sha256sum':>17}")
for r in rows:
    mibs = size / r["min"] if r["min"] > 0 else 0
    cpu = (r["user"] + r["system"]) * 1000
    print(f"{r['command']:<12} {r['median']*1000:>8.1f}ms {r['min']*1000:>8.1f}ms {cpu:>8.1f}ms {mibs:>11.0f} {r['min']/base_min:>16.2f}x")
PY
cat "$W/inproc.txt"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
