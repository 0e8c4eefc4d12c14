#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/engines/run.sh - judge an OCI runtime under real engines: podman (root and
# rootless, conmon -> runtime) and containerd (ctr -> io.containerd.runc.v2 shim ->
# runtime). The scenarios live in the shared clients.sh, read in place (never copied).
#
# Usage (as root):
#   tests/engines/run.sh [WORKDIR]                         # our stockade-oci (debug build)
#   RUNTIME=/usr/sbin/runc tests/engines/run.sh            # the reference
#   TRACE=1 tests/engines/run.sh                           # + log every runtime call
# Exit status: clients.sh's (0 only when every scenario passed), 1 when something was
# left behind. Last line: 'N passed, M failed'.
#
# Knobs: RUNTIME (default <repo>/target/$PROFILE/stockade-oci, $CARGO_TARGET_DIR honoured),
#   PROFILE=debug, CLIENTS="podman ctr podman-rootless", ROOTLESS_USER=ocirt,
#   STOCKADE_SHARED (default <repo>/../shared), WORKDIR (default /tmp/stockade-engines),
#   TRACE=1: the engines call a wrapper WORKDIR/trace/bin/<runtime name> that appends argv,
#   the engine-relevant environment, the exit code, `--process` files, the bundle's
#   config.json at create, and the `--log` file's tail on failure to WORKDIR/trace/calls.log.
#   DOCKER=1: also run tests/engines/docker.sh (private dockerd) and add its counts.
# Everything else (TIMEOUT, VERBOSE, CONTAINERD_ADDRESS) is passed through to clients.sh.
# HYBRID_FIX is always unset: runtimes must work on this host's cgroup layout as it is.
#
# What it prepares (idempotent): user ROOTLESS_USER with /etc/subuid and /etc/subgid
# ranges, /dev/fuse usable by everyone (fuse-overlayfs), setuid newuidmap/newgidmap,
# user namespaces enabled. Afterwards it checks that no containerd, shim, conmon or runtime
# process, no mount and no cgroup of the run is left, removes any it finds (by pid/path)
# and counts that as a failure. WORKDIR keeps logs and the cached image archive.

set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED=${STOCKADE_SHARED:-$REPO/../shared}
CLIENTS_SH=$SHARED/bench/clients.sh
PROFILE=${PROFILE:-debug}
TARGET=${CARGO_TARGET_DIR:-$REPO/target}
case $TARGET in /*) ;; *) TARGET=$REPO/$TARGET ;; esac
RUNTIME=${RUNTIME:-$TARGET/$PROFILE/stockade-oci}
export CLIENTS=${CLIENTS:-"podman ctr podman-rootless"}
export ROOTLESS_USER=${ROOTLESS_USER:-ocirt}
WORK=${1:-${WORKDIR:-/tmp/stockade-engines}}
TRACE=${TRACE:-0}

say() { printf '%s\n' "$*"; }
die() { say "engines: $*" >&2; say "0 passed, 1 failed"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (podman, containerd and the rootless user setup need it)"
[ -r "$CLIENTS_SH" ] || die "cannot read $CLIENTS_SH (set STOCKADE_SHARED)"
[ -x "$RUNTIME" ] || die "runtime '$RUNTIME' is not built (cargo build -p stockade-oci, or set RUNTIME)"
RUNTIME=$(readlink -f "$RUNTIME")
mkdir -p "$WORK" || die "cannot create $WORK"
chmod 755 "$WORK"

# ------------------------------------------------------------------ rootless prerequisites
next_sub_start() { # first id after every range in $1 (at least 100000)
  awk -F: 'BEGIN{m=100000} NF>=3 && $2+$3>m {m=$2+$3} END{print m}' "$1" 2>/dev/null || echo 100000
}
ensure_rootless_user() {
  local u=$ROOTLESS_USER f start
  if ! id "$u" >/dev/null 2>&1; then
    useradd -m -s /bin/sh "$u" || die "useradd $u failed"
    say "# created user $u"
  fi
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q "^$u:" "$f"; then
      start=$(next_sub_start "$f")
      printf '%s:%s:65536\n' "$u" "$start" >>"$f"
      say "# added $u:$start:65536 to $f"
    fi
  done
}
ensure_userns_tools() {
  local b missing=0
  for b in /usr/bin/newuidmap /usr/bin/newgidmap; do
    [ -x "$b" ] || missing=1
  done
  if [ $missing = 1 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq uidmap >/dev/null 2>&1 || die "cannot install uidmap"
  fi
  for b in /usr/bin/newuidmap /usr/bin/newgidmap; do
    # setuid root (Debian) or file capabilities (other distributions) are both fine
    [ -u "$b" ] || getcap "$b" 2>/dev/null | grep -q cap_set || die "$b is neither setuid nor has file capabilities"
  done
  [ -c /dev/fuse ] || mknod -m 0666 /dev/fuse c 10 229 || die "no /dev/fuse"
  chmod 0666 /dev/fuse
  [ "$(cat /proc/sys/user/max_user_namespaces)" -gt 0 ] || die "user.max_user_namespaces is 0"
  if [ -r /proc/sys/kernel/unprivileged_userns_clone ] && [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" != 1 ]; then
    die "kernel.unprivileged_userns_clone is 0"
  fi
}
if [[ " $CLIENTS " == *" podman-rootless "* ]]; then
  ensure_rootless_user
  ensure_userns_tools
  runuser -u "$ROOTLESS_USER" -- test -x "$RUNTIME" \
    || die "$ROOTLESS_USER cannot execute $RUNTIME (a parent directory is not searchable?)"
fi

# ------------------------------------------------------------------ optional argv tracing
ENGINE_RUNTIME=$RUNTIME
if [ "$TRACE" = 1 ]; then
  T=$WORK/trace; mkdir -p "$T/bin" "$T/files"; chmod 1777 "$T" "$T/files"
  : >"$T/calls.log"; chmod 0666 "$T/calls.log"
  ENGINE_RUNTIME=$T/bin/$(basename "$RUNTIME")   # same basename: same podman runtime name
  sed -e "s|@REAL@|$RUNTIME|" -e "s|@TRACE@|$T|" "$HERE/trace-runtime.sh.in" >"$ENGINE_RUNTIME"
  chmod 0755 "$ENGINE_RUNTIME"
  say "# TRACE: runtime calls logged to $T/calls.log"
fi

# ------------------------------------------------------------------ leftovers
# What a run could leave: processes naming the work dir, our containers (TAG) or the trace
# wrapper; mounts of the engines' stores; cgroups of podman and of our containerd namespace.
# Only entries that appear during the run count (the machine is shared).
snapshot() { # snapshot TAG
  {
    # patterns through the environment; this script and its descendants never count
    ps -eo pid=,ppid=,args= | W="$WORK" TG="$1-" TR="${T:-//none//}/bin/" ME="$$" awk '
      { par[$1] = $2; line[$1] = $0 }
      END { for (p in line) {
              q = p; ours = 0
              for (i = 0; i < 64 && q > 1; i++) { if (q == ENVIRON["ME"]) { ours = 1; break }; q = par[q] }
              l = line[p]
              if (!ours && (index(l, ENVIRON["W"]) || index(l, ENVIRON["TG"]) || index(l, ENVIRON["TR"]))) {
                sub(/^ *[0-9]+ +[0-9]+ /, "", l); print "proc " p " " l } } }' || true
    awk '{print "mount " $5}' /proc/self/mountinfo \
      | grep -E "$WORK|/var/lib/containers|/run/containers|/run/netns|/tmp/podman-run-|/run/user/|/home/$ROOTLESS_USER" || true
    # state: containerd's runc root for our namespace is shared by every runtime (nothing may
    # stay there); the runtime's own default roots may keep only its .seal-empty
    local d; for d in /run/containerd/runc/ocirt-clients "/run/$RT_BASE" "$RL_RUN/$RT_BASE" \
                      /run/containerd/fifo /run/containerd/s; do   # + ctr's fifos, shim sockets
      [ -d "$d" ] && find "$d" -mindepth 1 -maxdepth 1 | sed 's/^/state /'
    done | grep -v -e "^state /run/$RT_BASE/.seal-empty\$" -e "^state $RL_RUN/$RT_BASE/.seal-empty\$" || true
    find /sys/fs/cgroup -maxdepth 5 -type d \( -name 'libpod-*' -o -name 'libpod_parent' -o -name 'ocirt-clients' \
      -o -path '*/ocirt-clients/*' \) 2>/dev/null | sed 's/^/cgroup /'
  } | sort
}
remove_leftovers() { # remove_leftovers LIST: kill by pid, lazy-unmount, empty and rmdir cgroups
  local l=$1 p m c
  printf '%s\n' "$l" | awk '$1=="cgroup"{print $2}' | while read -r c; do
    find "$c" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do kill -9 "$p" 2>/dev/null; done
  done
  printf '%s\n' "$l" | awk '$1=="proc"{print $2}' | while read -r p; do kill -9 "$p" 2>/dev/null; done
  sleep 0.5
  printf '%s\n' "$l" | awk '$1=="mount"{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  printf '%s\n' "$l" | awk '$1=="state"{print $2}' | while read -r m; do rm -rf "$m"; done
  printf '%s\n' "$l" | awk '$1=="cgroup"{print $2}' | sort -r | while read -r c; do
    find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null; done
}

# ------------------------------------------------------------------ run
RT_BASE=$(basename "$RUNTIME")
RL_RUN=/tmp/podman-run-$(id -u "$ROOTLESS_USER" 2>/dev/null || echo none)
BEFORE=$(snapshot "ocl-none")
START=$SECONDS
say "# engines: $RUNTIME, clients: $CLIENTS, work dir $WORK, clients.sh from $CLIENTS_SH"
: >"$WORK/run.log"
env -u HYBRID_FIX RUNTIME="$ENGINE_RUNTIME" bash "$CLIENTS_SH" "$WORK" >"$WORK/run.log" 2>&1 &
CPID=$!
tail -n +1 -f --pid="$CPID" "$WORK/run.log"
wait "$CPID"; STATUS=$?
say "# clients.sh took $((SECONDS - START)) s (status $STATUS)"
SUMMARY=$(tail -1 "$WORK/run.log")
if [ "${DOCKER:-0}" = 1 ]; then   # also Docker (tests/engines/docker.sh), counts added up
  START=$SECONDS
  RUNTIME="$ENGINE_RUNTIME" bash "$HERE/docker.sh" "$WORK/docker" | tee "$WORK/docker.log"
  DSTATUS=${PIPESTATUS[0]}
  say "# docker.sh took $((SECONDS - START)) s (status $DSTATUS)"
  d=$(tail -1 "$WORK/docker.log"); dp=${d%% passed*}; df=${d#*passed, }; df=${df%% failed*}
  p=${SUMMARY%% passed*}; f=${SUMMARY#*passed, }; f=${f%% failed*}
  [[ "$p$f$dp$df" =~ ^[0-9]+$ ]] && SUMMARY="$((p + dp)) passed, $((f + df)) failed"
  [ "$DSTATUS" = 0 ] || STATUS=1
fi

# ------------------------------------------------------------------ leftovers check
sleep 1   # shims and conmon exit asynchronously after the last delete
AFTER=$(snapshot "ocl$CPID")
LEFT=$(comm -13 <(printf '%s\n' "$BEFORE") <(printf '%s\n' "$AFTER") | grep -v '^$' || true)
# The engines' parent cgroups (podman's libpod_parent with conmon's, containerd's
# per-namespace ocirt-clients) are kept by the engines, also with runc: removed here when
# empty, not counted. A container cgroup left below them is a leak.
# When a plain directory /sys/fs/cgroup/<controller> exists without a v1 mount (a stray
# "hugetlb" here), podman mkdirs libpod_parent/conmon in it and writes a plain "tasks"
# file: tmpfs, removed with rm.
for c in $(printf '%s\n' "$LEFT" | awk '$1=="cgroup" && $2 ~ /\/(libpod_parent|ocirt-clients)$/ {print $2}'); do
  if [ "$(stat -f -c %T "$c")" = tmpfs ]; then rm -r "$c"
  else find "$c" -depth -type d -name conmon -exec rmdir {} \; 2>/dev/null; rmdir "$c" 2>/dev/null; fi
  [ -d "$c" ] || LEFT=$(printf '%s\n' "$LEFT" | grep -vxF "cgroup $c")
done
if [ -n "$LEFT" ]; then
  say "LEFTOVER after the run (removed now):"; printf '%s\n' "$LEFT" | sed 's/^/  /'
  remove_leftovers "$LEFT"
  p=${SUMMARY%% passed*}; f=${SUMMARY#*passed, }; f=${f%% failed*}
  [[ "$p" =~ ^[0-9]+$ && "$f" =~ ^[0-9]+$ ]] && SUMMARY="$p passed, $((f + 1)) failed (leftovers)"
  STATUS=1
fi
say "$SUMMARY"
exit "$STATUS"
