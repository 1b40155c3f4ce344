"""The training side: the model, the Lightning module, data, metrics and the run folder.

`config` validates a composed Hydra config into a RunConfig (once, before anything is written);
`build` turns it into objects (data, module, evaluator, loggers); `fit` runs Lightning's fit in a
locked run folder (`rundir`) and decides the run's status; `precheck` checks every job of a command
line before Hydra writes anything. `model` is a plain torch module with no framework imports.
"""
