"""The files runs and sweeps leave behind, and how a sweep's axes are read: torch-free.

`records` defines the metric names (a contract), reads and writes run.json atomically and computes
the grokking gap from a run's points; `axes` reads a multirun's swept keys as Hydra's sweeper does;
`wandb_mode` decides where W&B logs go (online or offline) without importing wandb or torch.
Both the training side (which writes these files) and the analysis side (which reads them) import
this layer; it imports neither.
"""
