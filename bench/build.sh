#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/build.sh - end-to-end `stockade build OUT.sif DIR` against `mksquashfs DIR x -noappend`
# (mksquashfs' default gzip, what a plain squashfs build costs): median wall time of RUNS
# runs (source tree warm in the page cache), throughput in MiB/s of the tree's apparent size,
# and image size, side by side. Target: >= 3x the throughput at <= 5 % larger.
#
# Usage (root): bash bench/build.sh [SRC_DIR]
#   SRC_DIR defaults to $BENCH_DATA/deb (BENCH_DATA=/work/bench-data), made on first use:
#   debootstrap --variant=minbase --include=python3,perl,git,gcc bookworm (424 MiB).
#   RUNS=3, BIN=<stockade binary> (default: built here with cargo --release),
#   MIRROR=http://deb.debian.org/debian. Outputs go to $BENCH_DATA/build-bench (removed).
set -u -o pipefail
[ "$(id -u)" = 0 ] || { echo "build.sh: run as root" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DATA=${BENCH_DATA:-/work/bench-data}
SRC=${1:-$BENCH_DATA/deb}
RUNS=${RUNS:-3}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
W=$BENCH_DATA/build-bench; mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

if [ -z "${BIN:-}" ]; then
  (cd "$here" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target} cargo build -q --release -p stockade) || exit 1
  BIN=${CARGO_TARGET_DIR:-$here/target}/release/stockade
fi
if [ ! -d "$SRC" ]; then
  echo "making $SRC with debootstrap (once)"
  debootstrap --variant=minbase --include=python3,perl,git,gcc --cache-dir="$BENCH_DATA/debcache" \
    bookworm "$SRC" "$MIRROR" > "$W/debootstrap.log" 2>&1 || { echo "debootstrap failed: $W/debootstrap.log"; exit 1; }
  rm -f "$SRC"/var/cache/apt/archives/*.deb "$SRC"/var/cache/apt/*.bin; rm -rf "$SRC"/var/lib/apt/lists/*
fi

src_bytes=$(find "$SRC" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
src_mib=$(awk -v b="$src_bytes" 'BEGIN {printf "%.1f", b/1048576}')
entries=$(find "$SRC" | wc -l)
tar -C "$SRC" -cf - . | cat > /dev/null   # warm the source

# median wall seconds of RUNS runs of "$@" (output removed before each run)
median() {
  local out=$1; shift
  local ts=()
  for _ in $(seq "$RUNS"); do
    rm -f "$out"; sync
    local t0 t1; t0=$(date +%s.%N)
    "$@" > /dev/null 2> "$W/err" || { echo "failed: $*"; cat "$W/err"; exit 1; }
    t1=$(date +%s.%N)
    ts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}')")
  done
  printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

t_ours=$(median "$W/ours.sif" "$BIN" build -q --force "$W/ours.sif" "$SRC")
size_ours=$(stat -c %s "$W/ours.sif")
t_peer=$(median "$W/peer.sqfs" mksquashfs "$SRC" "$W/peer.sqfs" -noappend -quiet -no-progress)
size_peer=$(stat -c %s "$W/peer.sqfs")

echo "source: $SRC, $src_mib MiB apparent, $entries entries, $(nproc) cpus, RUNS=$RUNS (median)"
printf '%-44s %9s %9s %11s\n' "command" "seconds" "MiB/s" "image MiB"
row() { printf '%-44s %9.2f %9.1f %11.1f\n' "$1" "$2" "$(awk -v m="$src_mib" -v t="$2" 'BEGIN {print m/t}')" "$(awk -v s="$3" 'BEGIN {print s/1048576}')"; }
row "stockade build OUT.sif DIR" "$t_ours" "$size_ours"
row "mksquashfs DIR x -noappend (gzip default)" "$t_peer" "$size_peer"
awk -v a="$t_ours" -v b="$t_peer" -v sa="$size_ours" -v sb="$size_peer" \
  'BEGIN {printf "throughput: %.2fx mksquashfs; size: %+.1f %%\n", b/a, (sa/sb-1)*100}'
