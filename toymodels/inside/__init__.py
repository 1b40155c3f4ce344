"""Looking inside trained runs: load a run to ask it problems, probes, Fourier views, attention.

Torch, no Lightning: this side reads a run folder's weights and config and never trains.
- ``load``: ``load(run_dir)`` -> ``LoadedRun`` (``solve``, ``solve_many``, ``model``, ``task``, ``flops``),
  also exposed as ``toymodels.load``; ``prompts`` reads a prompt as the task writes it; ``solve`` answers.
- ``activations``: the residual stream at every layer boundary.
- ``probes``: carry/borrow/digit labels and linear probes (``probe_metrics``).
- ``fourier``: Fourier concentration of a mod-p residue embedding, and its random expectation.
- ``attention``: the heads' attention from the answer digits, and its figure.
docs/inside.md describes each and what it reads.
"""
