from .strict_swin_transformer import StrictSwinTransformer

__all__ = ['StrictSwinTransformer']
