# Short name for segformer/segformer_mit-b0_1xb8-600it_bluemarble-256x256.py
# (SegFormer MiT-B0 from scratch, 1 process x batch 8).
_base_ = ['./segformer/segformer_mit-b0_1xb8-600it_bluemarble-256x256.py']
