# configs/segformer.py with cross-entropy + the Lovasz-softmax loss (Berman et al., CVPR 2018),
# a convex surrogate of the per-class Jaccard index averaged over the classes present in the
# batch: it optimises what mIoU measures. mmseg's LovaszLoss needs reduction='none' when it pools
# the batch (per_image=False). README: "Rare classes" says when to use which loss.
#   altair train configs/segformer/segformer_mit-b0-lovasz-ce_1xb8-600it_bluemarble-192x192.py
_base_ = ['./segformer_mit-b0_1xb8-600it_bluemarble-192x192.py']
model = dict(decode_head=dict(loss_decode=[
    dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, loss_name='loss_ce'),
    dict(type='LovaszLoss', loss_type='multi_class', classes='present', per_image=False,
         reduction='none', loss_weight=1.0, loss_name='loss_lovasz')]))
