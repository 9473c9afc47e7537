#!/usr/bin/env bash
# Continue the PTB-XL default run (issue 15) on an offline GPU machine for at most SECONDS.
#
#   bash training/offline_gpu/run.sh SECONDS        # from the repository root, on that machine
#
# Needs what training/offline_gpu/pack.sh wrote here (.whl/ and .device/) beside the checkout.
# With the device tool of this workplace: run(command="bash training/offline_gpu/run.sh 420",
# carry=[".whl", ".device"], timeout_s=540).
# Resumes from the newest checkpoint in runs/ptbxl-default/checkpoints (a warm machine's earlier
# call) or else from the committed training/runs/ptbxl-default/checkpoint-*; trains with the same
# config (batch 8, bf16: the run stays the one the CPU started) until SECONDS pass (a checkpoint
# every 250 steps, so at most 250 steps are lost) or the run ends. Into $OUT (default ./out) go
# train.log, metrics.jsonl, the newest checkpoint as checkpoint.tar.part-* (join with cat, untar
# into training/runs/ptbxl-default/) and, when the trainer ends by itself (step 30,000, or the
# --max_steps given), its exported pipeline as pipeline.tar.
# Environment: WHEELS (default .whl), OUTPUT_DIR (default runs/ptbxl-default), and extra trainer
# arguments after SECONDS (e.g. --max_steps 8010 for a check).
set -uo pipefail
seconds=${1:?usage: run.sh SECONDS [--key value ...]}
shift
wheels=${WHEELS:-.whl}
output_dir=${OUTPUT_DIR:-runs/ptbxl-default}
out=${OUT:-out}
mkdir -p "$out"
[ -f .device/ptbxl100.tar.xz ] || { echo "error: .device/ptbxl100.tar.xz missing (run pack.sh and carry .device)"; exit 2; }
ls "$wheels"/*.whl > /dev/null 2>&1 || { echo "error: no wheels in $wheels (run pack.sh and carry .whl)"; exit 2; }

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$wheels"/*.whl || exit 3
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
mkdir -p /tmp/data && tar -C /tmp/data -xJf .device/ptbxl100.tar.xz || exit 3
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"

resume=latest
if ! ls -d "$output_dir"/checkpoints/checkpoint-* > /dev/null 2>&1; then
    resume=$(ls -d training/runs/ptbxl-default/checkpoint-* | sort -t- -k2 -n | tail -1)
fi
echo "resuming from $resume; training for at most $seconds s"
timeout -k 30 "$seconds" python3 -m accelerate.commands.launch --num_processes 1 --num_machines 1 \
    --mixed_precision bf16 --dynamo_backend no training/train_sssd_ecg.py \
    --config training/configs/ptbxl_default.yaml --dataset /tmp/data/ptbxl --output_dir "$output_dir" \
    --resume "$resume" "$@" 2>&1 | tee "$out/train.log"
status=${PIPESTATUS[0]}
echo "trainer exit status $status (124: stopped at the time limit)"

cp "$output_dir/metrics.jsonl" "$out/" 2>/dev/null
newest=$(ls -d "$output_dir"/checkpoints/checkpoint-* 2>/dev/null | sort -t- -k2 -n | tail -1)
if [ -n "$newest" ]; then
    tar -C "$(dirname "$newest")" -cf - "$(basename "$newest")" | split -b 15M - "$out/checkpoint.tar.part-"
    echo "newest checkpoint: $newest"
fi
[ "$status" = 0 ] && [ -d "$output_dir/pipeline" ] && tar -C "$output_dir" -cf "$out/pipeline.tar" pipeline && echo "pipeline exported"
python3 - "$out/metrics.jsonl" <<'PY'
import json, sys
try:
    rows = [json.loads(line) for line in open(sys.argv[1])]
except OSError:
    sys.exit(0)
rates = [r["samples_per_second"] / 8 for r in rows if "samples_per_second" in r]
losses = [(r["step"], round(r["validation_loss"], 5)) for r in rows if "validation_loss" in r]
if rates:
    print(f"last step {rows[-1]['step']}; steps/s median {sorted(rates)[len(rates) // 2]:.2f}")
print("validation loss", losses[-5:])
PY
exit 0
