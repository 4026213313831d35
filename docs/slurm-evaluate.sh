#!/bin/bash
# Evaluate a dataset on many machines: one Slurm array task per shard, then one merge.
# cases.json lists the volumes: {"cases": ["scans/p001.nii.gz", "scans/p002.nii.gz@40:104", ...]};
# case k runs in shard k % N only, so N shards together run every case once.
#   sbatch --array=0-15 docs/slurm-evaluate.sh
#   deno task evaluate --merge $(ls -d runs/eval/part-* | paste -sd,) --out runs/eval/table
#SBATCH --job-name=blendct-eval
#SBATCH --ntasks=1
#SBATCH --gpus=1
#SBATCH --cpus-per-task=8
#SBATCH --time=12:00:00
set -euo pipefail
N=${SLURM_ARRAY_TASK_COUNT:?submit as an array job (--array=0-N-1)}
deno task evaluate --manifest cases.json --shard "${SLURM_ARRAY_TASK_ID}/${N}" \
  --views 4,6,8 --methods fbp,cgls,tv,blend++ --out "runs/eval/part-${SLURM_ARRAY_TASK_ID}"
