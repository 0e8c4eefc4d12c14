#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/rootfs.sh - cost of assembling a container rootfs (stockade-mount), side by side.
#
#   stockade-mount : unshare (mnt,pid,uts,ipc,net) + rootfs_harness: the runc default config
#                    (proc, tmpfs /dev, devpts, shm, mqueue, ro sysfs, 10 masked + 5 read-only
#                    paths, read-only root), prepare -> pivot -> finalize, then exec /bin/true
#   bare           : the same unshare + chroot rootfs /bin/true (no mounts at all): the floor
#   runc run       : a whole runc container on the same bundle (rootfs + cgroups + the rest),
#                    for scale only
# Also prints the syscalls one assembly makes (strace -c -f).
#
# Usage (root): bash bench/rootfs.sh    RUNS=200 (hyperfine runs), CARGO_TARGET_DIR honoured.
# Leaves nothing behind (trap: temp bundle removed, runc container deleted).
set -u -o pipefail
[ "$(id -u)" = 0 ] || { echo "rootfs.sh: run as root" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-200}
T=${CARGO_TARGET_DIR:-$here/target}
(cd "$here" && CARGO_TARGET_DIR=$T cargo build -q --release -p stockade-mount --example rootfs_harness) || exit 1
H=$T/release/examples/rootfs_harness

B=$(mktemp -d /tmp/stockade-rootfs-bench.XXXXXX)
cleanup() { runc delete -f stockade-rootfs-bench >/dev/null 2>&1; rm -rf "$B"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$B/rootfs"/{bin,proc,sys,dev,tmp,etc}
cp /bin/busybox "$B/rootfs/bin/busybox"
for a in sh true cat; do ln -s busybox "$B/rootfs/bin/$a"; done
cat > "$B/config.json" <<'EOF'
{"ociVersion": "1.2.0",
 "process": {"args": ["/bin/true"], "cwd": "/", "user": {"uid": 0, "gid": 0},
             "env": ["PATH=/bin"], "terminal": false},
 "root": {"path": "rootfs", "readonly": true},
 "hostname": "bench",
 "mounts": [
  {"destination": "/proc", "type": "proc", "source": "proc"},
  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid","strictatime","mode=755","size=65536k"]},
  {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620","gid=5"]},
  {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
  {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid","noexec","nodev"]},
  {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid","noexec","nodev","ro"]}],
 "linux": {
  "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
  "maskedPaths": ["/proc/acpi","/proc/asound","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/sys/firmware","/proc/scsi"],
  "readonlyPaths": ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]}}
EOF

U="unshare --mount --pid --fork --propagation unchanged --uts --ipc --net --"
echo "kernel $(uname -r), $(nproc) cpus, loadavg $(cut -d' ' -f1-3 /proc/loadavg); runc $(runc --version | head -1 | cut -d' ' -f3)"
$U "$H" --bundle "$B" || { echo "harness failed"; exit 1; }
hyperfine -N -w 10 -r "$RUNS" --export-markdown "$B/res.md" \
  -n stockade-mount "$U $H --bundle $B" \
  -n bare "$U chroot $B/rootfs /bin/true" \
  -n "runc run" "runc run --bundle $B stockade-rootfs-bench" >/dev/null
cat "$B/res.md"
echo
echo "syscalls of one assembly (harness process, strace -c -f):"
$U strace -f -c -o "$B/strace.txt" "$H" --bundle "$B" && tail -n +3 "$B/strace.txt" | sort -k4 -n -r | head -25
