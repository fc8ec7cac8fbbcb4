# MT-CP, ViT-B/16 (mmpretrain arch 'base'), same recipe as the ViT-L
# config.
_base_ = ['./mtcp_vitl_nyud.py', '../_base_/backbones/vit_b.py']
model = _base_.vit_b
pretrained = model.backbone.init_cfg.checkpoint
