# configs/segformer.py with the focal loss (Lin et al., ICCV 2017) instead of class-weighted
# cross-entropy: (1 - p)^gamma scales down the pixels already classified well (open water, ice),
# so the hard and rare ones carry the loss. Altair's softmax form (altair/models/losses.py):
# mmseg's sigmoid FocalLoss fails on the CPU for multi-class targets. README: "Rare classes"
# says when to use which loss.
#   altair train configs/segformer/segformer_mit-b0-focal_1xb8-600it_bluemarble-192x192.py
_base_ = ['./segformer_mit-b0_1xb8-600it_bluemarble-192x192.py']
model = dict(decode_head=dict(loss_decode=dict(
    _delete_=True, type='SoftmaxFocalLoss', gamma=2.0, loss_weight=1.0)))
