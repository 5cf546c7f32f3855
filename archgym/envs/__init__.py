"""The domains, one package each: importing a domain registers its envs and cost models.

Each package holds everything of its domain: the design space, the workload type, the env
factory and its registration, its own cost models, their tables (with citations) and data.

- ``systolic``: ``archgym/Systolic-v0``, a DNN workload on a SCALE-Sim-style systolic array.
- ``accelerator``: ``archgym/Accelerator-v2`` (a DNN accelerator) and ``archgym/Mapping-v2``
  (the mapping of one layer onto it).
- ``kernel``: ``archgym/Kernel-v1``, GPU sparse/low-precision kernels; ``kernel.measure``
  times them on a real GPU.
- ``nas``: ``archgym/NAS-v0``, a CNN search space with a real accuracy oracle.
- ``codesign``: ``archgym/CoDesign-v1``, network x sparsity x quantisation x hardware.

A new domain is one new package here (see the README's "Register your own env").
"""
