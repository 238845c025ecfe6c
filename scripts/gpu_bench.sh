#!/bin/bash
# GPU figures of issue 16 on a machine with an NVIDIA GPU and PyTorch (CUDA) in `python3`:
# `bench --only gpu` (the CNN, one ITLM round and Lite0 on the GPU, against PyTorch on the same
# card, in one run), then the whole job (`run` with defaults, tau 0.6, on a 20000-image copy
# with 40% systematic noise) on the GPU and on the machine's CPU cores.
#
# Build the `cuda` binary as scripts/cuda_check.sh says. Run from the repository root:
#   scripts/gpu_bench.sh FASHION_IDX_DIR LITE0.pth ITLM_BINARY   (log in $OUT or ., log.txt)
DATA=$(realpath "${1:?Fashion-MNIST IDX folder}"); W=$(realpath "${2:?Lite0 weights}")
BIN=$(realpath "${3:?cuda build of itlm-inspector}"); OUT=${OUT:-.}
exec > >(tee "$OUT/log.txt") 2>&1
nvidia-smi -L; nproc
L=$(for n in libcuda.so.1 libcublas.so.13 libcurand.so.10 libcudart.so.13 libcublasLt.so.13 libnvrtc.so.13; do find /opt /usr -name "$n" 2>/dev/null | head -1 | xargs -r dirname; done | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH=$L${LD_LIBRARY_PATH:-}
ldd "$BIN" | grep -E "not found"
T=$(mktemp -d)
step() { echo "### $*"; local t0=$SECONDS; timeout "${LIMIT:-240}" "$@"; echo "rc=$? secs=$((SECONDS - t0))"; }
LIMIT=400 step "$BIN" bench --only gpu --data "$DATA" --weights "$W"
step "$BIN" corrupt "$DATA" --out "$T/sys40" --noise systematic --rate 0.4 --seed 0
for dev in cuda cpu; do
  # The CPU run only while the device's 10-minute command limit leaves room for it.
  [ $dev = cpu ] && [ $SECONDS -gt 440 ] && { echo "### CPU run skipped: ${SECONDS}s used"; break; }
  LIMIT=100; [ $dev = cpu ] && LIMIT=$((560 - SECONDS))
  LIMIT=$LIMIT step sh -c "'$BIN' run '$T/sys40' --test '$DATA' --tau 0.6 --device $dev --out '$T/run-$dev' --json --quiet > '$T/$dev.json'"
  python3 -c 'import json, sys; v = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); t = v.get("final_trim") or {}; print("test accuracy", v.get("final_test_acc"), "trim precision", t.get("precision"), "recall", t.get("recall"))' "$T/$dev.json"
done
rm -rf "$T"
