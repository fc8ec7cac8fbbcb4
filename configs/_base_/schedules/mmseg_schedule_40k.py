# mmseg's 40k-iteration SGD schedule with mmmtcp's optimizer wrapper (skips
# a step whose loss is non-finite) and hooks: its checkpoint hook (atomic
# saves, two kept), the divergence stop, the multi-task visualization hook,
# and the check that model, data sets and evaluators agree.
_base_ = ['mmseg::_base_/schedules/schedule_40k.py']
optim_wrapper = dict(type='SkipNonFiniteOptimWrapper')
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook', max_keep_ckpts=2),
    # stop a run whose loss blows up or stays non-finite, before any
    # checkpoint is written from it
    divergence=dict(type='DivergenceHook'),
    visualization=dict(type='MultiTaskVisualizationHook'),
    # model, data sets and evaluators agree on tasks and classes
    multi_task_check=dict(type='MultiTaskCheckHook'))
