# Short name for segformer/segformer_mit-b0_1xb8-600it_bluemarble-192x192.py
# (SegFormer MiT-B0 from scratch, 1 process x batch 8, 192x192 crops, class_weight='auto';
# `make demo` trains it).
_base_ = ['./segformer/segformer_mit-b0_1xb8-600it_bluemarble-192x192.py']
