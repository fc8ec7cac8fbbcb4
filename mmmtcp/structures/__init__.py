"""Reading and writing the maps of multi-task data samples: the layer
between the task kinds (:mod:`mmmtcp.tasks`) and the metric, visualizer and
tools that consume :class:`~mmseg.structures.SegDataSample` objects."""
from .data_sample import get_metainfo, get_pixel_data, write_prediction

__all__ = ['get_metainfo', 'get_pixel_data', 'write_prediction']
