# mmseg's runtime for configs built on mmseg's bases, with mmmtcp's modules
# registered and a visualizer that draws every task.
_base_ = ['mmseg::_base_/default_runtime.py']
# registers MultiTaskSegmentor, MTCPHead, the data sets, ... in mmseg
custom_imports = dict(imports=['mmmtcp'], allow_failed_imports=False)
# mmseg's runtime draws with SegLocalVisualizer / SegVisualizationHook
# (semseg and depth only, every 50th batch): draw every task instead, every
# test image (the hook is in ./schedules/mmseg_schedule_40k.py);
# `tools/test.py --show-dir DIR` (mmseg's or mmmtcp's) turns the hook on and
# writes the pictures under DIR.
visualizer = dict(type='MultiTaskLocalVisualizer')
