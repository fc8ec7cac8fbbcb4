# MT-CP, ViT-S/16 (mmpretrain arch 'deit-small'), same recipe as the ViT-L
# config.
_base_ = ['./mtcp_vitl_nyud.py', '../_base_/backbones/vit_s.py']
model = _base_.vit_s
pretrained = model.backbone.init_cfg.checkpoint
