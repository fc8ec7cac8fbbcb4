from .local_visualizer import MultiTaskLocalVisualizer

__all__ = ['MultiTaskLocalVisualizer']
