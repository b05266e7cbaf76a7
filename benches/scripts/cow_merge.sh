#!/usr/bin/env bash
# Benchmark (not a test): merging a COW file, the stock uml_moo against ours.
#
# Builds a 2 GiB sparse ext4 backing image with 64 MiB of file data, puts a COW file over it
# with 1 % of its sectors dirty (runs of 8 sectors, one 4 KiB block each, at random places),
# then times `uml_moo COW OUT` and `uml_moo -d COW` (on copies of the backing file) with both
# tools, checks they produce the same bytes, and prints the times and the speed-up. Neither
# waits for the disk by default; the script also times `uml_moo --sync`, which does (what
# `umlcow merge` does by default), to show what that flush costs on this disk.
#
#   benches/scripts/cow_merge.sh [SIZE [PERCENT [RUNS]]]     # defaults: 2G 1 3
#
# Needs: uml-utilities (the stock uml_moo), e2fsprogs, cargo. Uses $TMPDIR (default /tmp);
# about 100 MiB of real disk space; everything is removed at the end.
set -euo pipefail

size=${1:-2G}
percent=${2:-1}
runs=${3:-3}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

stock=/usr/bin/uml_moo
[ -x "$stock" ] || { echo "cow_merge.sh: $stock missing (apt-get install uml-utilities)" >&2; exit 1; }
cargo build --release -q -p uml-cow --bins --example cow_dirty
target=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
ours=$target/release/uml_moo
mkcow=$target/release/uml_mkcow
dirty=$target/release/examples/cow_dirty

work=$(mktemp -d "${TMPDIR:-/tmp}/cow-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

truncate -s "$size" base.img
PATH=/usr/sbin:/sbin:$PATH mkfs.ext4 -q -F base.img
dd if=/dev/urandom of=base.img bs=1M count=64 seek=512 conv=notrunc status=none
touch -d '2024-01-01 00:00:00' base.img
"$mkcow" bench.cow base.img
"$dirty" bench.cow "$percent" 8 42
echo "backing: $(du -h --apparent-size base.img | cut -f1) apparent, $(du -h base.img | cut -f1) allocated;" \
     "COW: $(du -h bench.cow | cut -f1) allocated"

now() { date +%s.%N; }
# time_it LABEL OUT CMD...: runs CMD $runs times (after one warm-up), each time into a fresh OUT
# (removed and the disk synced before, outside the timing); prints each time, sets $best.
time_it() {
    local label=$1 out=$2; shift 2
    rm -f "$out"; "$@" >/dev/null
    best=
    local i t0 t1 t
    for ((i = 0; i < runs; i++)); do
        rm -f "$out"; sync
        t0=$(now); "$@" >/dev/null; t1=$(now)
        t=$(echo "$t1 - $t0" | bc -l)
        printf '  %-30s run %d: %.3f s\n' "$label" "$i" "$t"
        if [ -z "$best" ] || (($(echo "$t < $best" | bc -l))); then best=$t; fi
    done
}
ratio() { printf '%.1f' "$(echo "$1 / $2" | bc -l)"; }

echo "merge to a new image (uml_moo COW OUT), best of $runs:"
time_it "stock uml_moo" stock.img "$stock" bench.cow stock.img
stock_best=$best
time_it "our uml_moo" ours.img "$ours" bench.cow ours.img
ours_best=$best
time_it "our uml_moo --sync" synced.img "$ours" --sync bench.cow synced.img
sync_best=$best
cmp stock.img ours.img && cmp stock.img synced.img &&
    echo "  outputs identical ($(du -h stock.img | cut -f1) stock vs $(du -h ours.img | cut -f1) ours allocated)"
printf '  stock %.3f s; ours %.3f s (%sx faster); %.3f s when waiting for the disk (%sx faster)\n' \
    "$stock_best" "$ours_best" "$(ratio "$stock_best" "$ours_best")" \
    "$sync_best" "$(ratio "$stock_best" "$sync_best")"
rm -f stock.img ours.img synced.img

echo "destructive merge (uml_moo -d -b COPY COW), one run each on fresh copies:"
cp --sparse=always -p base.img copy-stock.img
cp --sparse=always -p base.img copy-ours.img
sync
t0=$(now); "$stock" -d -b copy-stock.img bench.cow; t1=$(now)
sd=$(echo "$t1 - $t0" | bc -l)
t0=$(now); "$ours" -d -b copy-ours.img bench.cow; t1=$(now)
od=$(echo "$t1 - $t0" | bc -l)
cmp copy-stock.img copy-ours.img && echo "  results identical"
printf '  stock %.3f s, ours %.3f s\n' "$sd" "$od"
