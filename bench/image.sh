#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/image.sh - squashfs images: our writer and FUSE server against their peers, side by side.
#
#   build : build_squashfs (mksquashfs -comp zstd -Xcompression-level 6) vs mksquashfs default
#           (gzip): wall time, MiB/s of apparent source size (source warm), image size
#   mount : time to a usable mount: stockade-squashfuse (daemon), squashfuse, kernel loop mount
#   read  : cold full read (drop_caches, fresh mount each run; `tar -cf - . | wc -c`) and warm
#           read right after, over each image, via stockade-squashfuse, squashfuse, kernel loop
#   enc   : the FUSE path of `stockade exec` as a plain user (our server, one per run), full
#           read inside the container (`tar --one-file-system -C / -cf - . | wc -c`) of the
#           same tree built by `stockade build` plain and `--encrypt` (LUKS2, decrypted in
#           user space by the server): cold (drop_caches) and with the SIF file cached.
#           The SIFs are built once into $BENCH_DATA/image-bench/enc and kept
#
# Usage (root): bash bench/image.sh [SRC_DIR]
#   SRC_DIR defaults to $BENCH_DATA/deb (BENCH_DATA=/work/bench-data), made on first use like
#   shared/bench/peers.sh: debootstrap --variant=minbase --include=python3,perl,git,gcc bookworm.
#   RUNS=3 (runs per measurement), MOUNT_RUNS=10, BIN=<stockade-squashfuse> (default: built
#   here with cargo --release), MIRROR=http://deb.debian.org/debian, PARTS="build read enc"
#   (which sections run; read needs build's images), STOCKADE=<stockade> (enc; default built
#   here), BENCH_USER=sk-run (enc; created with useradd when missing)
# Leaves nothing mounted or running (trap); images go to $BENCH_DATA/image-bench.
set -u -o pipefail
[ "$(id -u)" = 0 ] || { echo "image.sh: run as root" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DATA=${BENCH_DATA:-/work/bench-data}
SRC=${1:-$BENCH_DATA/deb}
RUNS=${RUNS:-3}; MOUNT_RUNS=${MOUNT_RUNS:-10}; PARTS=" ${PARTS:-build read enc} "
MIRROR=${MIRROR:-http://deb.debian.org/debian}
W=$BENCH_DATA/image-bench; M=$W/mnt; mkdir -p "$W" "$M"
TSV=$W/raw.tsv; : > "$TSV"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

if [ -z "${BIN:-}" ] && [[ $PARTS == *" build "* || $PARTS == *" read "* ]]; then
  (cd "$here" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target} cargo build -q --release -p stockade-squashfs) || exit 1
  BIN=${CARGO_TARGET_DIR:-$here/target}/release/stockade-squashfuse
fi
unmount_all() { while mountpoint -q "$M"; do umount "$M" 2>/dev/null || umount -l "$M"; done; }
trap unmount_all EXIT
trap 'exit 130' INT TERM

if [ ! -d "$SRC" ]; then
  echo "making $SRC with debootstrap (once)"
  debootstrap --variant=minbase --include=python3,perl,git,gcc --cache-dir="$BENCH_DATA/debcache" \
    bookworm "$SRC" "$MIRROR" > "$W/debootstrap.log" 2>&1 || { echo "debootstrap failed: $W/debootstrap.log"; exit 1; }
  rm -f "$SRC"/var/cache/apt/archives/*.deb "$SRC"/var/cache/apt/*.bin; rm -rf "$SRC"/var/lib/apt/lists/*
fi
SRC_BYTES=$(du -sb "$SRC" | cut -f1)
SRC_MIB=$(awk -v b="$SRC_BYTES" 'BEGIN{printf "%.1f", b/1048576}')
echo "source $SRC: $SRC_MIB MiB apparent, $(find "$SRC" | wc -l) entries; $(nproc) cpus, kernel $(uname -r); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "squashfuse $(dpkg-query -W -f '${Version}' squashfuse 2>/dev/null), squashfs-tools $(dpkg-query -W -f '${Version}' squashfs-tools 2>/dev/null)"

rec() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$TSV"; }   # rec METRIC NAME VALUE
now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.4f", b-a}'; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }

part() { [[ $PARTS == *" $1 "* ]]; }

# ---------------------------------------------------------------- build
if part build; then
tar -C "$SRC" -cf - . | cat > /dev/null   # source warm: both writers are timed warm
for ((i=0; i<RUNS; i++)); do
  rm -f "$W/ours.sqfs"; t=$(now); "$BIN" --build "$SRC" "$W/ours.sqfs" > /dev/null || exit 1; s=$(since "$t")
  rec build-s "ours (zstd-6)" "$s"; rec build-mibs "ours (zstd-6)" "$(awk -v m="$SRC_MIB" -v s="$s" 'BEGIN{print m/s}')"
  rm -f "$W/gzip.sqfs"; t=$(now); mksquashfs "$SRC" "$W/gzip.sqfs" -noappend -quiet -no-progress > /dev/null || exit 1; s=$(since "$t")
  rec build-s "mksquashfs default (gzip)" "$s"; rec build-mibs "mksquashfs default (gzip)" "$(awk -v m="$SRC_MIB" -v s="$s" 'BEGIN{print m/s}')"
done
rec size-mib "ours (zstd-6)" "$(stat -c %s "$W/ours.sqfs" | awk '{print $1/1048576}')"
rec size-mib "mksquashfs default (gzip)" "$(stat -c %s "$W/gzip.sqfs" | awk '{print $1/1048576}')"
fi

# ---------------------------------------------------------------- mount / read
mount_with() { # mount_with KIND IMAGE
  case $1 in
    ours) "$BIN" "$2" "$M" ;;
    squashfuse) squashfuse "$2" "$M" ;;
    kernel) mount -t squashfs -o loop,ro "$2" "$M" ;;
  esac
}
for img in gzip ours; do
  part read || break
  I=$W/$img.sqfs
  for kind in kernel squashfuse ours; do
    name="$kind on $img image"
    cat "$I" > /dev/null
    for ((i=0; i<MOUNT_RUNS; i++)); do
      t=$(now); mount_with "$kind" "$I" || exit 1; ls "$M" > /dev/null; rec mount-ms "$name" "$(since "$t" | awk '{print $1*1000}')"
      unmount_all
    done
    for ((i=0; i<RUNS; i++)); do
      mount_with "$kind" "$I" || exit 1; drop
      t=$(now); bytes=$(tar -C "$M" -cf - . | wc -c); s=$(since "$t")
      rec cold-mibs "$name" "$(awk -v b="$bytes" -v s="$s" 'BEGIN{print b/1048576/s}')"
      t=$(now); tar -C "$M" -cf - . | wc -c > /dev/null; s=$(since "$t")
      rec warm-mibs "$name" "$(awk -v b="$bytes" -v s="$s" 'BEGIN{print b/1048576/s}')"
      unmount_all
    done
  done
done
pgrep -f "stockade-squashfuse --serve-stdin" > /dev/null && echo "WARNING: a stockade-squashfuse server outlived its mount"

# ---------------------------------------------------------------- encrypted vs plain, FUSE path
if part enc; then
  if [ -z "${STOCKADE:-}" ]; then
    (cd "$here" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$here/target} cargo build -q --release -p stockade) || exit 1
    STOCKADE=${CARGO_TARGET_DIR:-$here/target}/release/stockade
  fi
  BUSER=${BENCH_USER:-sk-run}
  id -u "$BUSER" > /dev/null 2>&1 || useradd -m -s /bin/sh "$BUSER"
  E=$W/enc; mkdir -p "$E"; chmod 755 "$W" "$E"
  cp "$STOCKADE" "$E/stockade"   # root-owned: the user cannot write it, so no sealed copy
  printf 'bench passphrase\n' > "$E/pw"
  [ -f "$E/plain.sif" ] || "$E/stockade" build -q "$E/plain.sif" "$SRC" || exit 1
  [ -f "$E/enc.sif" ] || "$E/stockade" build -q --encrypt --passphrase-file "$E/pw" "$E/enc.sif" "$SRC" || exit 1
  chmod 644 "$E/pw" "$E/plain.sif" "$E/enc.sif"
  UHOME=$(getent passwd "$BUSER" | cut -d: -f6)
  full_read() { # full_read METRIC NAME STOCKADE-EXEC-ARGS...: one run as the user, in its home
    local t s bytes
    t=$(now)
    bytes=$(cd "$UHOME" && setpriv --reuid "$BUSER" --regid "$BUSER" --init-groups -- env -u XDG_RUNTIME_DIR \
      HOME="$UHOME" "$E/stockade" exec "${@:3}" sh -c 'tar --one-file-system -C / -cf - . 2> /dev/null | wc -c') || exit 1
    s=$(since "$t")
    rec "$1" "$2" "$(awk -v b="$bytes" -v s="$s" 'BEGIN{print b/1048576/s}')"
    rec "$1-mib" "$2" "$(awk -v b="$bytes" 'BEGIN{print b/1048576}')"
  }
  for ((i=0; i<RUNS; i++)); do
    for k in plain enc; do
      if [ $k = enc ]; then a=(--passphrase-file "$E/pw" "$E/enc.sif"); n="encrypted (LUKS2 in user space)"
      else a=("$E/plain.sif"); n="plain"; fi
      drop; full_read enc-cold "$n" "${a[@]}"
      cat "$E/$k.sif" > /dev/null; full_read enc-cached "$n" "${a[@]}"
    done
  done
  pgrep -f "$E/stockade fuse-serve" > /dev/null && echo "WARNING: a stockade FUSE server outlived its run"
fi

# ---------------------------------------------------------------- table
python3 - "$TSV" <<'PY'
import sys, statistics as st
rows = {}
for line in open(sys.argv[1]):
    m, n, v = line.rstrip("\n").split("\t")
    rows.setdefault(m, {}).setdefault(n, []).append(float(v))
def table(metric, title, ref=None):
    r = rows.get(metric, {})
    if not r:
        return
    print(f"\n-- {title}")
    refmed = st.median(r[ref]) if ref in r else None
    for n, xs in r.items():
        x = f"  {st.median(xs)/refmed:5.2f}x" if refmed else ""
        print(f"  {n:<32} median {st.median(xs):9.2f}   min {min(xs):9.2f}   max {max(xs):9.2f}   n={len(xs)}{x}")
table("build-mibs", "build throughput, MiB/s of source (x = vs mksquashfs default)", "mksquashfs default (gzip)")
table("size-mib", "image size, MiB (x = vs mksquashfs default)", "mksquashfs default (gzip)")
table("mount-ms", "mount until first ls, ms")
table("enc-cold", "stockade exec as a user, FUSE path, cold full read, MiB/s (x = vs plain)", "plain")
table("enc-cached", "same, SIF file in the page cache (decryption + decompression), MiB/s", "plain")
table("enc-cold-mib", "MiB read per run (same tree; a few root-only files are skipped)")
for img in ("gzip", "ours"):
    for metric, title in (("cold-mibs", "cold full read"), ("warm-mibs", "warm full read")):
        sub = {k: v for k, v in rows.get(metric, {}).items() if k.endswith(f"on {img} image")}
        rows[f"{metric}-{img}"] = sub
        table(f"{metric}-{img}", f"{title} (tar|wc -c), MiB/s, {img} image (x = vs squashfuse)", f"squashfuse on {img} image")
PY
