#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/oci-start.sh: start time and peak RSS of `run /bin/true` in a busybox bundle,
# stockade-oci side by side with crun and runc (and bwrap / unshare floors), measured by
# the shared peers.sh (hyperfine -N for wall time, GNU time -v for peak RSS).
#
# Usage (as root):  bench/oci-start.sh [WORKDIR]         (default /tmp/stockade-bench)
# Environment:
#   STOCKADE_OCI=/path/to/stockade-oci   benchmark this binary instead of building one
#   RUNS=100 MEM_RUNS=10                 passed to peers.sh
#   STOCKADE_SHARED=/path/to/shared      where peers.sh lives (default ../shared)
#
# The binary is built the way it ships, by scripts/build-release (docs/design/runtime-core.md,
# "Lean binary": profile `lean`, statically linked); its first output line is stockade-oci.
# The rootless column is peers.sh's rootless `run` as user `bench` (uid map 0 -> bench): the
# binary must be reachable by that user (build-release's target dir is, under /work/main).
# peers.sh needs FIX_HYBRID=1 on this host: crun refuses cgroup hybrid mode with
# controllers on cgroup2, so the controllers are moved to v1 for the start/mem sections and
# given back afterwards (peers.sh does and undoes it).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-/tmp/stockade-bench}
SHARED=${STOCKADE_SHARED:-$(pwd)/../shared}
[ "$(id -u)" = 0 ] || { echo "oci-start.sh: run as root" >&2; exit 1; }
[ -f "$SHARED/bench/peers.sh" ] || { echo "oci-start.sh: $SHARED/bench/peers.sh not found" >&2; exit 1; }

BIN=${STOCKADE_OCI:-}
if [ -z "$BIN" ]; then
  echo "building the shipped stockade-oci (scripts/build-release)..." >&2
  BIN=$(scripts/build-release | head -1)
fi
[ -x "$BIN" ] || { echo "oci-start.sh: $BIN is not executable" >&2; exit 1; }
echo "binary: $BIN ($(stat -c %s "$BIN") bytes; $(file -b "$BIN" | cut -d, -f1-2))"
# peers.sh drops a command whose preflight fails and records nothing when hyperfine stops
# on a failed run; say why here, so an empty rootless column has a reason next to it
rootless_check() {
  local rl=$WORK/rl-state out
  [ -d "$rl" ] && id bench >/dev/null 2>&1 || return 0
  out=$(runuser -u bench -- env -i PATH="$PATH" HOME=/home/bench XDG_RUNTIME_DIR="$rl" \
    "$BIN" --root "$rl/x" run -b "$WORK/bundle-rootless" "rlcheck$$" 2>&1 </dev/null) ||
    echo "rootless stockade-oci run fails: $(echo "$out" | tail -1)" >&2
}

RUNTIME=$BIN RUNTIME_NAME=stockade-oci SECTIONS="fixtures start mem" FIX_HYBRID=1 \
  INSTALL_PODMAN=0 RUNS=${RUNS:-100} MEM_RUNS=${MEM_RUNS:-10} \
  bash "$SHARED/bench/peers.sh" "$WORK" > "$WORK.log" 2>&1 || {
    echo "peers.sh failed; see $WORK.log" >&2; tail -20 "$WORK.log" >&2; exit 1; }

# side by side: median wall (root, foreground run), user+sys, peak RSS; ratios to crun
rootless_check
python3 - "$WORK/results/raw.tsv" <<'PY'
import statistics as st, sys
rows = {}
for line in open(sys.argv[1]):
    sec, name, unit, v = line.rstrip("\n").split("\t")
    rows.setdefault((sec, name), []).append(float(v))
def med(sec, name):
    xs = rows.get((sec, name))
    return st.median(xs) if xs else None
print(f"{'runtime':<14}{'wall ms':>9}{'/crun':>7}{'cpu ms':>9}{'rss MiB':>9}{'/crun':>7}{'rootless ms':>13}")
crun_w, crun_m = med("start-root", "crun run"), med("mem", "crun run")
for rt in ["stockade-oci", "crun", "runc"]:
    w, c = med("start-root", f"{rt} run"), med("start-root-cpu", f"{rt} run")
    m, r = med("mem", f"{rt} run"), med("start-rootless", f"{rt} run")
    f = lambda x, d=2: f"{x:.{d}f}" if x is not None else "-"
    ratio = lambda a, b: f"{a / b:.2f}" if a and b else "-"
    print(f"{rt:<14}{f(w):>9}{ratio(w, crun_w):>7}{f(c):>9}{f(m and m / 1024):>9}"
          f"{ratio(m, crun_m):>7}{f(r):>13}")
for n in ["bwrap --unshare-all", "unshare -Urmpf chroot"]:
    w = med("start-root", n)
    if w:
        print(f"{n[:13]:<14}{w:>9.2f}")
print("target: stockade-oci wall <= 0.70 x crun, peak RSS <= crun")
PY
echo "full summary: $WORK/results/summary.txt"
