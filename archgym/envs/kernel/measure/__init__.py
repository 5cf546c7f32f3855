"""Measuring kernels on a real CUDA GPU: plan a collection (:mod:`.plan`), build one runner per
path (:mod:`.runners`, Triton kernels in :mod:`.triton_matmul`), run it in a compile pool
(:mod:`.collect`), and time designs live as a cost model (:mod:`.live`). Torch and Triton are
imported only when something is measured.
"""

from archgym.envs.kernel.measure import live  # noqa: F401  - registers "kernel-measure"
