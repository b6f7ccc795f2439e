#!/bin/bash
# One-off device run: does a finer frame (128 px against 64 px) make the vjepa2-task latent predictable?
# Per size: VICReg-pretrain the cpu-preset encoder (1000 steps, as the 64 px CPU one), collect 600 x 50
# pixel data, train the MLP world model, and split its error by principal component. Outputs in $OUT.
T0=$(date +%s); left() { echo $(( ${BUDGET:-540} - ($(date +%s) - T0) )); }
log() { echo "[$(( $(date +%s) - T0 )) s] $*" | tee -a $OUT/res.log; }
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
tar -C /tmp -xJf .devcarry/site312.tar.xz && export PYTHONPATH=/tmp/site312:$PWD
export MUJOCO_GL=egl PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PY=python3
log setup done; nvidia-smi --query-gpu=name --format=csv,noheader >> $OUT/res.log
chain() {  # image size
  local px=$1 C=/tmp/c$1 D=/tmp/d$1; mkdir -p $D/reacher-easy && cp -r data/reacher-easy/state $D/reacher-easy/
  log "$px px: pretrain"; timeout $(( $(left) - 150 )) $PY train_robots/pretrain_encoder.py --preset cpu --image-size $px --steps 1000 \
    --var-weight 1 --cov-weight 1 --probe-every 0 --probe-poolings grid2 --device cuda --data-dir $D --ckpt-dir $C > $OUT/log$px.txt 2>&1; log "rc $?"
  log "$px px: data"; timeout $(( $(left) - 60 )) $PY train_robots/generate_and_encode_modal.py --encoder vjepa2-task --preset cpu --episodes 600 \
    --episode-steps 50 --device cuda --data-dir $D --ckpt-dir $C >> $OUT/log$px.txt 2>&1; log "rc $?"
  log "$px px: world model"; timeout $(( $(left) - 20 )) $PY train_robots/train_dynamics.py --encoder vjepa2-task --preset cpu --device cuda \
    --data-dir $D --ckpt-dir $C >> $OUT/log$px.txt 2>&1; log "rc $?"
  timeout 30 $PY bench_results/2026-11-27-pixel-wm-by-component.py $D/reacher-easy/vjepa2-task $C/reacher-easy/vjepa2-task >> $OUT/res.log 2>&1
  (cd $C/reacher-easy/vjepa2-task && tar czf $OUT/c$px.tgz --exclude pretrain.pt --exclude dynamics.pt *)
  log "$px px done"
}
chain 128
[ $(left) -gt 300 ] && chain 64
log end
