#!/usr/bin/env bash
# Installs today's PyTorch 2.x (CPU) in a virtual environment for benches/pytorch_compare.py, the
# peer that `cargo bench --bench throughput` compares against besides Debian's PyTorch 1.13.
#
#   bash benches/setup_torch.sh [VENV]        (default: benches/.venv-torch, gitignored)
#
# The bench finds the venv by itself (benches/.venv-torch/bin/python) or through
# ITLM_TORCH_PYTHON=/path/to/python.
#
# Order of attempts, following PyTorch's own instructions for a CPU-only install:
#  1. pip install torch --index-url <PyTorch's CPU wheel index>   (a ~200 MB CPU build)
#  2. where that index cannot be reached: PyPI's torch wheel without its dependencies
#     (--no-deps: the PyPI wheel otherwise drags several GB of CUDA packages) plus its
#     pure-python dependencies; kept only if `import torch` works and a tensor op runs;
#  3. else PyPI's torch with all its dependencies (several GB), unless TORCH_NO_CUDA_DEPS=1.
# TORCH_SPEC (default "torch") pins a version, e.g. TORCH_SPEC="torch==2.15.0".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/.venv-torch}"
base_python="${BASE_PYTHON:-/usr/bin/python3}"
spec="${TORCH_SPEC:-torch}"
cpu_index="https://download.pytorch.org/whl/cpu"
pure_deps=(filelock typing-extensions sympy networkx jinja2 fsspec mpmath MarkupSafe)
# Inductor's CPU path (torch.compile) also imports numpy for some lowerings; cheap to have.
extra=(numpy)

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv with $base_python"
    "$base_python" -m venv "$venv"
fi
py="$venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check)

works() {
    "$py" - <<'EOF'
import torch
x = torch.randn(64, 64)
assert torch.isfinite(x @ x).all()
print(f"torch {torch.__version__} works: {torch.get_num_threads()} threads, "
      f"mkldnn {torch.backends.mkldnn.is_available()}")
EOF
}

if works 2>/dev/null; then
    echo "already installed in $venv"
    exit 0
fi

echo "1/3: $spec from PyTorch's CPU index"
if "${pip[@]}" install --timeout 20 --retries 1 "$spec" "${extra[@]}" --index-url "$cpu_index" \
        && works; then
    exit 0
fi

echo "2/3: PyTorch's CPU index unreachable or failed: PyPI's $spec without CUDA dependencies"
if "${pip[@]}" install --no-deps "$spec" && "${pip[@]}" install "${pure_deps[@]}" "${extra[@]}" && works; then
    exit 0
fi

if [ "${TORCH_NO_CUDA_DEPS:-0}" = 1 ]; then
    echo "import torch fails without its CUDA dependencies and TORCH_NO_CUDA_DEPS=1: giving up" >&2
    exit 1
fi
echo "3/3: PyPI's $spec with all its dependencies (several GB of CUDA libraries)"
"${pip[@]}" install "$spec" "${extra[@]}"
works
