#!/bin/bash
# Train a blendct prior on many GPU nodes with PyTorch DDP (torchrun's c10d rendezvous).
# Prepare the run folder once with `deno task train --data scans/ --out runs/head --steps 1` (it reads the
# volumes, checks units, splits train/validation and writes runs/head/volumes.json), then submit this.
#SBATCH --job-name=blendct-train
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=32
#SBATCH --time=24:00:00
set -euo pipefail
head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
srun torchrun --nnodes "$SLURM_NNODES" --nproc_per_node 8 \
  --rdzv_id "$SLURM_JOB_ID" --rdzv_backend c10d --rdzv_endpoint "$head:29500" \
  train/train.py --volumes runs/head/volumes.json --out runs/head --batch 256 --device cuda --minutes 1380
# then, on one node: python3 train/export.py --ckpt runs/head/ckpt.pt --out runs/head --name model --force \
#   --volumes runs/head/volumes.json
