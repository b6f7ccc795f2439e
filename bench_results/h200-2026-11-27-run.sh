#!/bin/bash
# One-off device run (a lent H100/H200): CUDA tests, the pixel CEM and MPPI over 50 episodes,
# bench planner_hold on CUDA. Everything it reports lands in $OUT. Carried (git-ignored): .gl/ (EGL debs,
# device/README.md) and .devcarry/site312.tar.xz (a Python 3.12 site unpacked from the pip wheels of
# dm_control 1.0.50, mujoco 3.17.0, tyro, modal and transformers 5.24.0, which the device lacks).
T0=$(date +%s); left() { echo $(( ${BUDGET:-540} - ($(date +%s) - T0) )); }
log() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $OUT/gpu.log; }
if [ "${LOCAL:-0}" = 0 ]; then
  for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
  # dm_control, mujoco, tyro, modal and transformers 5.24 for Python 3.12
  tar -C /tmp -xJf .devcarry/site312.tar.xz && export PYTHONPATH=/tmp/site312:$PWD
else export PYTHONPATH=$PWD; fi
export MUJOCO_GL=egl PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PY=${PY:-python3}
DEV=${DEV:-cuda}; EPISODES=${EPISODES:-50}; PRESET=${PRESET:-cpu}; CKPT=${CKPT:-checkpoints}
log setup done; nvidia-smi --query-gpu=name,memory.used --format=csv,noheader >> $OUT/gpu.log 2>&1
$PY -c "import torch, transformers, mujoco; print(torch.__version__, transformers.__version__, mujoco.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu')" >> $OUT/gpu.log 2>&1
log cuda tests; timeout 120 $PY -m pytest -q -p no:cacheprovider tests/test_planners.py -k cuda >> $OUT/gpu.log 2>&1; log "tests rc $?"
log bf16 check; timeout 60 $PY bench_results/h200-2026-11-27-encoder-bf16.py $OUT/bf16.json $CKPT $PRESET >> $OUT/gpu.log 2>&1; log "bf16 rc $?"
run_mpc() {  # planner, seconds
  log "mpc $1 (limit $2 s)"
  timeout $2 $PY train_robots/mpc_planner.py --encoder vjepa2-task --preset $PRESET --planner $1 --device $DEV \
    --episodes $EPISODES --ckpt-dir $CKPT --force >> $OUT/mpc.log 2>&1; log "mpc $1 rc $?"
  cp $CKPT/reacher-easy/vjepa2-task/mpc_$1.json $OUT/ 2>/dev/null
}
run_mpc cem $(( $(left) - 150 ))
log bench; timeout 90 $PY train_robots/bench.py --sections planner_hold --device $DEV --out $OUT/bench.json >> $OUT/gpu.log 2>&1; log "bench rc $?"
[ $(left) -gt 120 ] && run_mpc mppi $(( $(left) - 100 ))
[ $(left) -gt 90 ] && run_mpc random $(( $(left) - 10 ))
cp $CKPT/reacher-easy/vjepa2-task/mpc_cem_planning.png $OUT/ 2>/dev/null
log end
