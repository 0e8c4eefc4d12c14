#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/engines/docker.sh - run an OCI runtime under Docker (dockerd -> containerd ->
# io.containerd.runc.v2 shim with options.BinaryName -> runtime) and report PASS/FAIL per
# scenario, the same list as the shared clients.sh's podman one.
#
# Usage (as root, Debian 12 with docker.io installed; scripts/setup installs it):
#   RUNTIME=/usr/sbin/runc tests/engines/docker.sh [WORKDIR]     # default /tmp/stockade-docker
#   RUNTIME=target/debug/stockade-oci tests/engines/docker.sh
# Last line: 'N passed, M failed'; exit status 0 only when nothing failed.
#
# It starts a private dockerd (no systemd): data-root, exec-root, socket and daemon.json in
# WORKDIR, --iptables=false --bridge=none (containers run with --network none), storage
# driver overlay2, and the runtime registered in daemon.json as "under-test" (runc itself
# cannot be redefined, so runc is also judged through the custom-runtime path). The busybox
# image is a docker-archive built offline from busybox-static (or IMAGE_ARCHIVE=FILE, e.g.
# the one clients.sh builds). dockerd is stopped by pid at exit (its containerd with it);
# the image stays cached in WORKDIR/root.
# Scenarios: run-true, exit-code, stdout, tty, enoent-127, run-detached, exec, exec-tty,
# pause-resume, stop (SIGTERM trapped -> 7), kill (-> 137), rm.
# Knobs: TIMEOUT=60 (per command), VERBOSE=1, DOCKER_STORAGE=overlay2|vfs.

set -u -o pipefail
WORK=${1:-${WORKDIR:-/tmp/stockade-docker}}
RUNTIME=${RUNTIME:-$(command -v runc || true)}
TIMEOUT=${TIMEOUT:-60}
VERBOSE=${VERBOSE:-0}
STORAGE=${DOCKER_STORAGE:-overlay2}
IMG=localhost/ocirt-busybox:latest
TAG="dkr$$"
RTN=under-test
PASSED=0; FAILED=0; DPID=""

say() { printf '%s\n' "$*"; }
die() { say "docker.sh: $*" >&2; say "0 passed, 1 failed"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
[ -n "$RUNTIME" ] && [ -x "$RUNTIME" ] || die "RUNTIME='$RUNTIME' is not an executable file"
RUNTIME=$(readlink -f "$RUNTIME")
for b in /usr/sbin/dockerd /usr/bin/docker containerd containerd-shim-runc-v2 script; do
  command -v "$b" >/dev/null || die "$b not found (apt-get install docker.io bsdutils)"
done
mkdir -p "$WORK/logs" || die "cannot create $WORK"
SOCK=$WORK/docker.sock
DK=(/usr/bin/docker -H "unix://$SOCK")   # /usr/bin: never another docker client in PATH

# ---------------------------------------------------------------- image (docker-archive)
ARCHIVE=${IMAGE_ARCHIVE:-$WORK/busybox.docker.tar}
build_archive() { # layer.tar + config + manifest.json, no registry
  local a=$WORK/archive r=$WORK/archive/rootfs diff cfg x
  rm -rf "$a"; mkdir -p "$r"/{bin,etc,proc,sys,dev,tmp,root,run,var}
  cp /bin/busybox "$r/bin/busybox" || return 1
  for x in $("$r/bin/busybox" --list); do [ "$x" = busybox ] || ln -sf busybox "$r/bin/$x"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"; printf 'root:x:0:\n' >"$r/etc/group"
  chmod 1777 "$r/tmp"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$r" -cf "$a/layer.tar" . || return 1
  diff=$(sha256sum "$a/layer.tar" | cut -d' ' -f1); mkdir "$a/$diff"; mv "$a/layer.tar" "$a/$diff/"
  printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$diff" >"$a/config.json"
  cfg=$(sha256sum "$a/config.json" | cut -d' ' -f1); mv "$a/config.json" "$a/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$IMG" "$diff" >"$a/manifest.json"
  tar -C "$a" -cf "$ARCHIVE" manifest.json "$cfg.json" "$diff/layer.tar" && rm -rf "$a"
}
[ -s "$ARCHIVE" ] || build_archive || die "cannot build $ARCHIVE (busybox-static installed?)"

# ---------------------------------------------------------------- dockerd
start_dockerd() {
  rm -f "$SOCK"
  printf '{"runtimes": {"%s": {"path": "%s"}}}\n' "$RTN" "$RUNTIME" >"$WORK/daemon.json"
  /usr/sbin/dockerd --config-file "$WORK/daemon.json" --data-root "$WORK/root" --exec-root "$WORK/exec" \
    --pidfile "$WORK/dockerd.pid" -H "unix://$SOCK" --iptables=false --ip6tables=false --bridge=none \
    --storage-driver "$STORAGE" >"$WORK/dockerd.log" 2>&1 &
  DPID=$!
  local _; for _ in $(seq 1 100); do
    timeout 2 "${DK[@]}" version >/dev/null 2>&1 && return 0
    kill -0 "$DPID" 2>/dev/null || break; sleep 0.2
  done
  return 1
}
stop_dockerd() {
  [ -n "$DPID" ] || return 0
  kill "$DPID" 2>/dev/null
  local _; for _ in $(seq 1 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$DPID" 2>/dev/null && kill -9 "$DPID" 2>/dev/null
  wait "$DPID" 2>/dev/null; DPID=""
}
cleanup() {
  if [ -n "$DPID" ]; then
    local ids; ids=$("${DK[@]}" ps -aq --filter "name=^${TAG}-" 2>/dev/null)
    [ -n "$ids" ] && timeout 30 "${DK[@]}" rm -f $ids >/dev/null 2>&1
  fi
  stop_dockerd
}
# dockerd (cgroupfs driver) leaves its parent cgroup "docker" in every hierarchy: removed at
# the end when we created it; a container cgroup left below it is counted as a failure.
CG_BEFORE=$(ls -d /sys/fs/cgroup/*/docker 2>/dev/null)
SOCK_BEFORE=$(ls /run/containerd/s 2>/dev/null)   # shim sockets (fixed dir in containerd 1.6)
leftovers() { # after dockerd stopped: processes (shims, containers), mounts, cgroups
  local c p left=0 procs
  procs=$( { ps -eo pid=,ppid=,args= | W="$WORK/" ME=$$ awk 'index($0, ENVIRON["W"]) && $1 != ENVIRON["ME"] && $2 != ENVIRON["ME"] {print $1}'
    for c in /sys/fs/cgroup/*/docker; do
      [ -d "$c" ] && find "$c" -mindepth 2 -name cgroup.procs -exec cat {} + 2>/dev/null
    done; } | sort -u)
  for p in $procs; do
    say "LEFTOVER process: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-120)"; left=1
    kill -9 "$p" 2>/dev/null
  done
  [ -n "${procs// /}" ] && sleep 0.5
  for c in /sys/fs/cgroup/*/docker; do
    [ -d "$c" ] || continue
    if find "$c" -mindepth 1 -type d | grep -q .; then
      say "LEFTOVER cgroup(s): $(find "$c" -mindepth 1 -type d | tr '\n' ' ')"; left=1
      find "$c" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
    fi
    printf '%s\n' "$CG_BEFORE" | grep -qxF "$c" || rmdir "$c" 2>/dev/null
  done
  for c in /run/containerd/s/*; do
    [ -e "$c" ] || continue
    printf '%s\n' "$SOCK_BEFORE" | grep -qxF "${c##*/}" && continue
    say "LEFTOVER shim socket: $c"; left=1; rm -f "$c"
  done
  grep -qF "$WORK/" /proc/self/mountinfo && left=1
  grep -F "$WORK/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
    say "LEFTOVER mount: $m"; umount -l "$m"; done
  return $left
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers (as clients.sh)
logf() { printf '%s/logs/%s.log' "$WORK" "$1"; }
t() { local log=$1; shift; printf '$ %s\n' "$*" >>"$log"; timeout -k 5 "$TIMEOUT" "$@" >>"$log" 2>&1; local rc=$?; printf '[rc=%s]\n' "$rc" >>"$log"; return $rc; }
tout() { local log=$1; shift; printf '$ %s\n' "$*" >>"$log"; timeout -k 5 "$TIMEOUT" "$@" 2>>"$log"; local rc=$?; printf '[rc=%s]\n' "$rc" >>"$log"; return $rc; }
tty_run() { local log=$1; shift; printf '$ (pty) %s\n' "$*" >>"$log"; timeout -k 5 "$TIMEOUT" script -qec "$*" /dev/null 2>>"$log" | tr -d '\r\000'; }
one() { printf '%s' "$*" | tr '\n\r' '  ' | tr -s ' ' | cut -c1-200; }
result() { # result NAME OK(0/1) DETAIL
  local name=$1 ok=$2 detail; detail=$(one "${3:-}")
  if [ "$ok" = 0 ]; then PASSED=$((PASSED+1)); say "PASS docker/$name"
  else FAILED=$((FAILED+1)); say "FAIL docker/$name${detail:+ ($detail)} - log: $(logf "docker-$name")"
       [ "$VERBOSE" = 1 ] && sed 's/^/    | /' "$(logf "docker-$name")" | tail -20; fi
}
status() { "${DK[@]}" inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }
wait_for() { local end=$((SECONDS + $1)); shift; while [ $SECONDS -lt $end ]; do "$@" && return 0; sleep 0.2; done; "$@"; }

# ---------------------------------------------------------------- scenarios
start_dockerd || die "dockerd did not come up, see $WORK/dockerd.log"
say "# runtime: $RUNTIME ($("$RUNTIME" --version 2>/dev/null | head -1))"
say "# docker $("${DK[@]}" version -f '{{.Server.Version}}' 2>/dev/null) (dockerd pid $DPID, storage $STORAGE, cgroup driver $("${DK[@]}" info -f '{{.CgroupDriver}}' 2>/dev/null)), runtime name $RTN"
L=$(logf docker-setup); : >"$L"
"${DK[@]}" image inspect "$IMG" >/dev/null 2>&1 || t "$L" "${DK[@]}" load -i "$ARCHIVE" || die "docker load failed, see $L"

R=(--runtime "$RTN" --network none)
N=$TAG-main; K=$TAG-kill

L=$(logf docker-run-true); : >"$L"
t "$L" "${DK[@]}" run --rm "${R[@]}" "$IMG" true; rc=$?
result run-true "$([ $rc = 0 ]; echo $?)" "rc=$rc"

L=$(logf docker-exit-code); : >"$L"
t "$L" "${DK[@]}" run --rm "${R[@]}" "$IMG" sh -c 'exit 3'; rc=$?
result exit-code "$([ $rc = 3 ]; echo $?)" "rc=$rc, want 3"

L=$(logf docker-stdout); : >"$L"
out=$(tout "$L" "${DK[@]}" run --rm "${R[@]}" "$IMG" sh -c 'echo hello-stdout; echo to-stderr >&2'); rc=$?
printf 'stdout=%q\n' "$out" >>"$L"
result stdout "$([ $rc = 0 ] && [ "$out" = hello-stdout ]; echo $?)" "rc=$rc stdout='$out'"

L=$(logf docker-tty); : >"$L"
out=$(tty_run "$L" "${DK[*]} run --rm -t ${R[*]} $IMG sh -c 'test -t 0 && test -t 1 && echo tty-yes'"); rc=$?
printf 'out=%q\n' "$out" >>"$L"
result tty "$([ $rc = 0 ] && [[ "$out" == *tty-yes* ]]; echo $?)" "rc=$rc out='$out'"

L=$(logf docker-enoent-127); : >"$L"
t "$L" "${DK[@]}" run --rm "${R[@]}" "$IMG" /no/such/binary; rc=$?
result enoent-127 "$([ $rc = 127 ]; echo $?)" "rc=$rc, want 127 (docker maps the runtime's 'no such file or directory' text)"

L=$(logf docker-run-detached); : >"$L"
t "$L" "${DK[@]}" run -d --name "$N" "${R[@]}" "$IMG" sh -c 'trap "exit 7" TERM; sleep 600 & wait'; rc=$?
st=$(status "$N")
result run-detached "$([ $rc = 0 ] && [ "$st" = running ]; echo $?)" "rc=$rc status=$st"

L=$(logf docker-exec); : >"$L"
out=$(tout "$L" "${DK[@]}" exec "$N" sh -c 'echo exec-ok; exit 4'); rc=$?
result exec "$([ $rc = 4 ] && [ "$out" = exec-ok ]; echo $?)" "rc=$rc (want 4) out='$out'"

L=$(logf docker-exec-tty); : >"$L"
out=$(tty_run "$L" "${DK[*]} exec -t $N sh -c 'test -t 0 && echo tty-yes'"); rc=$?
result exec-tty "$([ $rc = 0 ] && [[ "$out" == *tty-yes* ]]; echo $?)" "rc=$rc out='$out'"

L=$(logf docker-pause-resume); : >"$L"
t "$L" "${DK[@]}" pause "$N"; s1=$(status "$N")
t "$L" "${DK[@]}" unpause "$N"; s2=$(status "$N")
result pause-resume "$([ "$s1" = paused ] && [ "$s2" = running ]; echo $?)" "after pause=$s1 after unpause=$s2"

L=$(logf docker-stop); : >"$L"
t "$L" "${DK[@]}" stop -t 10 "$N"; rc=$?
ec=$("${DK[@]}" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$N" 2>>"$L")
result stop "$([ $rc = 0 ] && [ "$ec" = "exited 7" ]; echo $?)" "rc=$rc state='$ec', want 'exited 7' (SIGTERM trapped)"

L=$(logf docker-kill); : >"$L"
t "$L" "${DK[@]}" run -d --name "$K" "${R[@]}" "$IMG" sleep 600
t "$L" "${DK[@]}" kill "$K"; rc=$?
wait_for 10 bash -c "[ \"\$(${DK[*]} inspect -f '{{.State.Status}}' $K 2>/dev/null)\" = exited ]"
ec=$("${DK[@]}" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$K" 2>>"$L")
result kill "$([ $rc = 0 ] && [ "$ec" = "exited 137" ]; echo $?)" "rc=$rc state='$ec', want 'exited 137'"

L=$(logf docker-rm); : >"$L"
t "$L" "${DK[@]}" rm "$N" "$K"; rc=$?
left=0
"${DK[@]}" container inspect "$N" >/dev/null 2>&1 && left=1
"${DK[@]}" container inspect "$K" >/dev/null 2>&1 && left=1
result rm "$([ $rc = 0 ] && [ $left = 0 ]; echo $?)" "rc=$rc still-there=$left"

cleanup
leftovers || { FAILED=$((FAILED+1)); say "FAIL docker/leftovers"; }
say "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
