# Adding a task of one's own (docs/en/add_a_task.md): MT-CP on the synthetic
# scenes with a fifth task, `albedo` (the RGB reflectance of the surfaces),
# declared here once and used by the data sets, the head and the metric.
# Its maps are read from <data_root>/albedo/<id>.png; write the scenes with
#   python tools/generate_synthetic_scenes.py \
#       data/synthetic_scenes_albedo_120x160 --height 120 --width 160 \
#       --num-train 200 --num-val 40 --albedo
_base_ = ['../mtcp/mtcp_demo_synthetic.py']

# a 3-channel regression: L1 loss over valid pixels, mae / rmse metrics
albedo = dict(name='albedo', kind='regression', channels=3)
tasks = ['semseg', 'depth', 'normals', 'edge', albedo]
data_root = 'data/synthetic_scenes_albedo_120x160'

model = dict(decode_head=dict(tasks=tasks))
train_dataloader = dict(dataset=dict(data_root=data_root, tasks=tasks))
val_dataloader = dict(dataset=dict(data_root=data_root, tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(tasks=tasks)
test_evaluator = val_evaluator
