#!/usr/bin/env bash
# The authors' protocol at full size on a GPU: every shipped set, all training rows,
# η ∈ {0.3, 0.5, 0.8}, the authors' seeds 0-2, the default weight-decay grid, 200 epochs,
# one batched CuPy run per set (labelavg reproduce --protocol authors --device cupy).
#
# Usage (from the repository root, with cupy and array-api-compat importable):
#   bash bench/gpu_reproduce.sh OUT
# Writes OUT/<set>/ (results.csv, gains.csv, sets.csv, wd_selection.csv, figures),
# OUT/<set>.log (progress bar and messages) and OUT/<set>.txt (the gain tables);
# prints each set's wall time. A set that fails is reported and the next one runs.
# Sets are ordered cheapest first (FLOP count, see the helper's report).
set -u
out=${1:?usage: bash bench/gpu_reproduce.sh OUT}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
python3 -c "import cupy, array_api_compat; assert cupy.cuda.is_available()" || {
    echo "gpu_reproduce: cupy with a CUDA device and array-api-compat are needed" >&2; exit 2; }
status=0
for name in digits_effnet fashion_mnist_effnet wordnet_minilm wordnet100_minilm; do
    start=$(date +%s.%N)
    python3 -m labelavg reproduce --protocol authors --device cupy --datasets "$name" \
        --etas 0.3 0.5 0.8 --seeds 3 --out "$out/$name" \
        > "$out/$name.txt" 2> "$out/$name.log"
    rc=$?
    seconds=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" \
        "$start" "$(date +%s.%N)")
    if [ "$rc" -eq 0 ]; then
        echo "$name: ${seconds} s"
    else
        status=1
        echo "$name: FAILED (exit $rc) after ${seconds} s; last lines of $out/$name.log:"
        tail -n 5 "$out/$name.log" | tr '\r' '\n' | tail -n 5
    fi
done
exit $status
