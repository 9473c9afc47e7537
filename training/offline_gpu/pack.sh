#!/usr/bin/env bash
# Pack what an offline GPU machine needs to continue the PTB-XL default run (issue 15).
#
#   bash training/offline_gpu/pack.sh [PTBXL_FOLDER]      # default ../shared/data/ptbxl
#
# The machine is assumed to hold Python 3.12 with PyTorch (CUDA), accelerate, numpy, pandas,
# pyarrow, scipy, PyYAML, safetensors, Pillow, requests, fsspec and aiohttp, and to reach no
# package registry.  Writes two folders that git ignores (added to .git/info/exclude):
#   .whl/     wheels (Python 3.12, x86-64) of the packages it lacks, at the versions installed
#             here (so what runs there is what the tests ran here);
#   .device/  ptbxl100.tar.xz: the slice's 100 Hz records and metadata (PTB-XL, CC BY 4.0,
#             Wagner et al., Scientific Data 7, 154, 2020; PhysioNet), about 25 MB.
# Then run training/offline_gpu/run.sh there with both folders carried (see its header).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
ptbxl=${1:-../shared/data/ptbxl}
[ -f "$ptbxl/ptbxl_database.csv" ] || { echo "error: no PTB-XL folder at $ptbxl (ptbxl_database.csv missing)" >&2; exit 2; }
python_version=${PYTHON_VERSION:-3.12}
mkdir -p .git/info
for folder in /.whl/ /.device/; do
    grep -qxF "$folder" .git/info/exclude 2>/dev/null || echo "$folder" >> .git/info/exclude
done

# The packages sssd_hf's training path needs beyond the machine's own, pinned to this machine's versions.
packages=$(python3 - <<'PY'
import importlib.metadata as md
names = ["diffusers", "importlib_metadata", "datasets", "dill", "multiprocess", "xxhash", "wfdb", "soundfile"]
print(" ".join(f"{n}=={md.version(n)}" for n in names))
PY
)
rm -rf .whl.tmp && mkdir .whl.tmp
# shellcheck disable=SC2086
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$python_version" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl.tmp $packages
rm -rf .whl && mv .whl.tmp .whl

mkdir -p .device
tar -C "$(dirname "$ptbxl")" -cJf .device/ptbxl100.tar.xz.tmp \
    "$(basename "$ptbxl")/ptbxl_database.csv" "$(basename "$ptbxl")/scp_statements.csv" \
    "$(basename "$ptbxl")/LICENSE.txt" "$(basename "$ptbxl")/records100"
mv .device/ptbxl100.tar.xz.tmp .device/ptbxl100.tar.xz
du -sh .whl .device
ls .whl
