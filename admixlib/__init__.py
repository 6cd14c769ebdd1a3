"""admixlib: the core library of admix, a reproduction of AdvMix (Gowal et al., CVPR 2020).

The library has no command-line parsing, no global state and no Snakemake import: every function takes
its data, device and random generator as arguments. See ``docs/architecture.md`` for the data flow.
"""
