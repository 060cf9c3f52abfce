#!/usr/bin/env bash
# The table of SimCLR and DINO recipe changes: each row is one run of
# benchmarks/ssl_transfer.py at 10 % labels, seed 0, 600 fine-tuning iterations, printing one
# JSON line (compare "ours" with the recipe's and scratch's seed-0 runs of the main table).
# About 45 minutes on 2 cores; the rows that reuse a backbone need
#   benchmarks/ssl_transfer.py --methods simclr dino --fractions 0.1 --save-weights work_dirs/ssl_weights
# first. Usage: bash benchmarks/ssl_recipe_changes.sh [ROW ...]   (default: every row)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
W="${SSL_WEIGHTS:-work_dirs/ssl_weights}"
run() { "$PY" benchmarks/ssl_transfer.py --fractions 0.1 --seeds 0 --no-scratch "$@"; }
jitter() {  # the 200-iteration configs' colour augmentation: SimCLR's paper strength
  echo "{'type':'mmpretrain.RandomApply','prob':0.8,'transforms':[{'type':'mmpretrain.ColorJitter','brightness':0.4,'contrast':0.4,'saturation':0.2,'hue':0.1}]}"
}
row() {
  case "$1" in
    simclr-temperature-0.1) run --methods simclr --pretrain-option model.head.temperature=0.1 ;;
    simclr-strong-colour) run --methods simclr --pretrain-option "train_dataloader.dataset.pipeline.0.transforms=[[{'type':'mmpretrain.RandomResizedCrop','scale':64,'crop_ratio_range':(0.3,1.0)},{'type':'mmpretrain.RandomFlip','prob':0.5},$(jitter),{'type':'mmpretrain.RandomGrayscale','prob':0.2,'keep_channels':True,'channel_weights':(0.114,0.587,0.2989)}]]" ;;
    simclr-lars) run --methods simclr \
      --pretrain-option "optim_wrapper.optimizer={'type':'mmpretrain.LARS','lr':0.4,'momentum':0.9,'weight_decay':1e-6}" \
      --pretrain-option "optim_wrapper.paramwise_cfg={'custom_keys':{'bn':{'decay_mult':0,'lars_exclude':True},'bias':{'decay_mult':0,'lars_exclude':True},'downsample.1':{'decay_mult':0,'lars_exclude':True}}}" ;;
    simclr-batch-64) run --methods simclr --pretrain-option train_dataloader.batch_size=64 \
      --pretrain-option train_cfg.max_iters=300 --pretrain-option param_scheduler.0.warmup=30 \
      --pretrain-option param_scheduler.0.end=300 --pretrain-option default_hooks.checkpoint.interval=300 ;;
    simclr-landsat) run --methods simclr --seeds 0 1 2 \
      --pretrain-config simclr=configs/selfsup/simclr_resnet18-v1c_1xb32-600it_bluemarble+landsat8-96x96.py ;;
    simclr-backbone-lr-1) run --methods simclr --weights "simclr=$W/simclr.pth" \
      --finetune-option optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult=1.0 ;;
    simclr-backbone-lr-0.1) run --methods simclr --weights "simclr=$W/simclr.pth" \
      --finetune-option optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult=0.1 ;;
    dino-no-multi-crop) run --methods dino \
      --pretrain-option "train_dataloader.dataset.pipeline.0.num_views=[2]" \
      --pretrain-option "train_dataloader.dataset.pipeline.0.transforms=[[{'type':'mmpretrain.RandomResizedCrop','scale':64,'crop_ratio_range':(0.4,1.0)},{'type':'mmpretrain.RandomFlip','prob':0.5},{'type':'mmpretrain.RandomApply','prob':0.5,'transforms':[{'type':'mmpretrain.ColorJitter','brightness':0.2,'contrast':0.2,'saturation':0.1,'hue':0.02}]}]]" ;;
    dino-no-teacher-warmup) run --methods dino --pretrain-option model.teacher_temp=0.04 \
      --pretrain-option model.warmup_teacher_steps=0 ;;
    dino-no-centring) run --methods dino --pretrain-option model.center_momentum=1.0 ;;
    dino-backbone-lr-1) run --methods dino --weights "dino=$W/dino.pth" \
      --finetune-option optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult=1.0 ;;
    dino-backbone-lr-0.1) run --methods dino --weights "dino=$W/dino.pth" \
      --finetune-option optim_wrapper.paramwise_cfg.custom_keys.backbone.lr_mult=0.1 ;;
    *) echo "error: unknown row '$1'; choose one of: ${ROWS[*]}" >&2; exit 2 ;;
  esac
}
ROWS=(simclr-temperature-0.1 simclr-strong-colour simclr-lars simclr-batch-64 simclr-landsat
      simclr-backbone-lr-1 simclr-backbone-lr-0.1 dino-no-multi-crop dino-no-teacher-warmup
      dino-no-centring dino-backbone-lr-1 dino-backbone-lr-0.1)
if [[ $# -eq 0 ]]; then set -- "${ROWS[@]}"; fi
for r in "$@"; do  # every name checked before hours of work start
  [[ " ${ROWS[*]} " == *" $r "* ]] || row "$r"
done
for r in "$@"; do row "$r"; done
