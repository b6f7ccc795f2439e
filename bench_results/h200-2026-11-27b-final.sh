#!/bin/bash
# One-off device run: where a GPU pretraining step goes (128 px, batch 64 and 256), then pixel random
# shooting over 50 episodes (VICReg vjepa2-task encoder, MLP world model, dream-SAC prior). Outputs in $OUT.
T0=$(date +%s); left() { echo $(( ${BUDGET:-300} - ($(date +%s) - T0) )); }
log() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $OUT/final.log; }
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
tar -C /tmp -xJf .devcarry/site312.tar.xz && export PYTHONPATH=/tmp/site312:$PWD
export MUJOCO_GL=egl PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PY=python3
log setup done
for b in 64 256; do timeout 45 $PY bench_results/h200-2026-11-27b-prof_pretrain.py 128 $b > $OUT/prof$b.txt 2>&1; log "prof $b rc $?"; done
log "random shooting (limit $(( $(left) - 8 )) s)"
timeout $(( $(left) - 8 )) $PY train_robots/mpc_planner.py --encoder vjepa2-task --preset cpu --planner random --device cuda \
  --episodes 50 --force > $OUT/mpc.log 2>&1; log "rc $?"
cp checkpoints/reacher-easy/vjepa2-task/mpc_random.json $OUT/ 2>/dev/null; log end
