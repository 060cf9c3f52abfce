# configs/segformer.py with cross-entropy + Dice instead of class-weighted cross-entropy: the
# Dice term (mmseg's TverskyLoss with alpha = beta = 0.5, which is the soft Dice computed per
# class and averaged over the classes, ignored pixels masked; mmseg's DiceLoss pools all classes
# into one score, so a rare class barely moves it) scores every class alike however few pixels
# it has. README: "Rare classes" says when to use which loss.
#   altair train configs/segformer/segformer_mit-b0-dice-ce_1xb8-600it_bluemarble-192x192.py
_base_ = ['./segformer_mit-b0_1xb8-600it_bluemarble-192x192.py']
model = dict(decode_head=dict(loss_decode=[
    dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0, loss_name='loss_ce'),
    dict(type='TverskyLoss', alpha=0.5, beta=0.5, smooth=1.0, loss_weight=1.0,
         loss_name='loss_dice')]))
