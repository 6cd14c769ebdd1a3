"""matplotlib and seaborn on first use.

Importing them (with torchvision) costs seconds per process, and the workflow starts a process per
job: most jobs never draw, so the modules that draw import them here, inside the drawing function.
"""


def pyplot_and_seaborn():
    """Return ``(matplotlib.pyplot, seaborn)`` with the non-interactive Agg backend selected."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    return plt, sns
