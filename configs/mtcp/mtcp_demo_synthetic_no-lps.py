# The CPU demo MT-CP without the Loss Prioritization Scheme: task losses
# and side losses simply summed, as in the plain baseline demo config.
_base_ = ['./mtcp_demo_synthetic.py']
custom_hooks = []
