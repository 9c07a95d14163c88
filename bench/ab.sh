#!/usr/bin/env bash
# Side-by-side timing of two versions of salesdw on one machine: a git revision against this
# working tree, alternating runs of `salesdw run` on the same cached exports of `make bench`.
# This VM's speed drifts by up to a third within minutes; only alternating runs compare fairly.
#
#   bench/ab.sh REVISION SCALE [ROUNDS]     e.g. bench/ab.sh 98984fc 10 2
#
# The revision gets a git worktree with its own environment under bench/.cache/ab/<revision>
# (`make setup` there); exports come from bench/.cache/exports/s<SCALE>-seed42 (run `make bench`
# or `python -m bench.run --scales SCALE` once). One line per run: total wall time and stage times.
set -euo pipefail
rev=${1:?revision}; scale=${2:?scale}; rounds=${3:-2}
here=$(cd "$(dirname "$0")/.." && pwd)
exports=$here/bench/.cache/exports/s${scale}-seed42/canonical
[ -d "$exports" ] || { echo "no exports at $exports: run python -m bench.run --scales $scale first" >&2; exit 2; }
old=$here/bench/.cache/ab/$rev
if [ ! -d "$old" ]; then
  git -C "$here" worktree add -q --detach "$old" "$rev"
  make -C "$old" setup > "$old.setup.log" 2>&1 || { cat "$old.setup.log" >&2; exit 1; }
fi
export GX_ANALYTICS_ENABLED=false DAGSTER_DISABLE_TELEMETRY=1 DBT_SEND_ANONYMOUS_USAGE_STATS=false
unset SALESDW_DATA_DIR DAGSTER_HOME
for round in $(seq 1 "$rounds"); do
  for side in "$rev" working-tree; do
    repo=$old; [ "$side" = working-tree ] && repo=$here
    data=$here/bench/.cache/ab/data-$scale; rm -rf "$data"; mkdir -p "$data/landing"
    cp -r "$exports" "$data/landing/canonical"
    start=$(date +%s.%N)
    (cd "$repo" && .venv/bin/salesdw run --data-dir "$data" > "$data.log" 2>&1) || echo "run failed, see $data.log" >&2
    total=$(echo "$(date +%s.%N) - $start" | bc)
    stages=$(cd "$here" && DAGSTER_HOME=$data/dagster .venv/bin/python -c "
from pathlib import Path; from bench.stages import read_stages
print(' '.join(f'{k}={v:.1f}' for k, v in read_stages(Path('$data')).stages.items()))")
    printf 'scale=%s round=%s %-14s total=%.1f %s load=%s\n' "$scale" "$round" "$side" "$total" "$stages" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
