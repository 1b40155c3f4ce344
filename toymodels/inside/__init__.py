"""Looking inside trained runs: load a run to ask it problems, probes, Fourier views, attention.

Torch, no Lightning: this side reads a run folder's weights and config and never trains.
"""
