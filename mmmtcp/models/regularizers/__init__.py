from .cross_task_contrastive import CrossTaskContrastiveRegularizer

__all__ = ['CrossTaskContrastiveRegularizer']
