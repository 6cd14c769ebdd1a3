"""The workflow's entry points: one function per rule, reading inputs and writing outputs by path.

Everything here is I/O around the pure modules (data, stylegan, inversion, perturb, classify, report);
rule scripts call exactly one of these functions with keyword arguments.
"""
