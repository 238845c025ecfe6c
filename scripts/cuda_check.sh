#!/bin/bash
# Check of the optional `cuda` feature on a machine with an NVIDIA GPU: the same small runs on
# the GPU and on the CPU, whose trim precision/recall (and test-2) must agree.
#
# Build (here: CUDA 13.0 from PyPI wheels, no GPU needed to build; README, "Set up"):
#   pip download --no-deps --only-binary=:all: "nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-crt==13.0.*" \
#     "nvidia-nvvm==13.0.*" "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-cccl==13.0.*" \
#     "nvidia-cublas==13.0.*" "nvidia-curand==10.4.0.*" "nvidia-cuda-nvrtc==13.0.*"
#   unzip each into one tree (nvidia/cu13 = bin, include, lib, nvvm), link lib*.so -> lib*.so.13,
#   and where there is no driver a libcuda.so stub (its cu* symbols) to link against; then
#   PATH=$CUDA/bin:$PATH CUDA_ROOT=$CUDA CUDA_COMPUTE_CAP=90 cargo build --release --features cuda
# Data (from Debian's Fashion-MNIST):
#   itlm-inspector corrupt FMNIST --out DIR/noisy --noise systematic --rate 0.3 --limit 6000 --seed 3
#   itlm-inspector corrupt FMNIST --out DIR/bd --noise backdoor --src-class 1 --dst-class 2 --rate 0.1 --limit 6000 --seed 3
#   itlm-inspector corrupt FMNIST --out DIR/spur --noise spurious --src-class 7 --rate 0.2 --limit 20000 --seed 3
# Run: scripts/cuda_check.sh DIR ITLM_BINARY   (writes DIR/log.txt)
# Device check of the optional `cuda` feature: the same runs on the GPU and on the CPU.
DIR=${1:?data folder}; BIN=$(realpath "${2:?cuda build of itlm-inspector}"); OUT=${OUT:-$DIR}; cd "$DIR"
exec > >(tee "$OUT/log.txt") 2>&1
ln -sf "$BIN" itlm
T=$(mktemp -d)
nvidia-smi -L
L=$(for n in libcuda.so.1 libcublas.so.13 libcurand.so.10 libcudart.so.13 libcublasLt.so.13 libnvrtc.so.13; do find /opt /usr -name "$n" 2>/dev/null | head -1 | xargs -r dirname; done | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH=$L${LD_LIBRARY_PATH:-}
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
ldd ./itlm | grep -E "cuda|cublas|curand|nvrtc|not found"
# Each run: its last lines, exit status and wall time.
r() { echo "### $*"; local t0=$SECONDS; timeout 150 ./itlm "$@" 2>&1 | grep -vE "^\s*$" | tail -14; echo "rc=${PIPESTATUS[0]} secs=$((SECONDS - t0))"; }
A="--tau 0.7 --rounds 2 --epochs 2 --final-epochs 4 --seed 1"
r run noisy --device cuda --out $T/g1 $A
r run noisy --device cpu --out $T/c1 $A
r run noisy --device cuda --out $T/g1m --model mlp $A
B="--tau 0.95 --rounds 3 --epochs 1 --round0-epochs 0.35 --round0-models 2 --final-epochs 4 --optimizer sgd --lr 0.02 --lr-schedule cosine --seed 1"
r run bd --test2 bd-test2 --device cuda --out $T/g2 $B
r run bd --test2 bd-test2 --device cpu --out $T/c2 $B
C="--mode generative --tau 0.8 --rounds 2 --epochs 3 --final-epochs 4 --seed 1"
r run spur --device cuda --out $T/g3 $C
r run spur --device cpu --out $T/c3 $C
rm -rf "$T"
