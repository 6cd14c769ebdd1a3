# admix: adversarial mixing with disentangled representations (Gowal et al., CVPR 2020), reproduced.
# The DAG: dataset -> StyleGAN -> encoder + inversion -> classifiers -> evaluation -> tables and figures.
from snakemake.utils import min_version

min_version("9.0")


# Anchored to this folder, so `--directory` elsewhere still finds the default; --configfile overrides it.
configfile: f"{workflow.basedir}/config/config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/stylegan.smk"
include: "rules/inversion.smk"
include: "rules/classifiers.smk"
include: "rules/evaluation.smk"
include: "rules/analysis.smk"
include: "rules/reporting.smk"
include: "rules/sweeps.smk"
include: "rules/tuning.smk"
include: "rules/gan_seeds.smk"
include: "rules/ablation.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# Named targets: the stages (tables, sweeps, ...), then one table or figure of one dataset
# (table_faces, figure1_faces, mixing_grid_faces, bias_sweep_faces, ...); one rule each.
TARGETS = {
    "tables": table_targets(),
    "figures": figure_targets(),
    "sweeps": expand(
        with_sidecars([SWEEP_TABLE, SWEEP_FIGURE]),
        dataset=SWEEP_DATASETS,
        sweep=list(SWEEP_VALUES),
    ),
    "ablation": expand(
        with_sidecars([ABLATION_TABLE]) + [ABLATION_MD, ABLATION_GENERATORS],
        dataset=config["ablation"]["datasets"],
    ),
    "gan_seeds": expand(
        with_sidecars([GAN_SEEDS_TABLE]) + [GAN_SEEDS_GENERATORS, GAN_SEEDS_MD],
        dataset=config["gan_seeds"]["datasets"],
    ),
    "tune_methods": expand(
        with_sidecars([TUNING_TABLE]), dataset=config["tuning"]["datasets"]
    ),
    "generators": expand(GENERATOR, dataset=DATASETS),
    "codes": expand(CODES, dataset=DATASETS, split=SPLITS),
}

for _dataset in DATASETS:
    TARGETS[f"table_{_dataset}"] = expand(TABLE, dataset=_dataset, ext=TABLE_EXTS)
    TARGETS[f"mixing_grid_{_dataset}"] = MIXING_GRID.format(dataset=_dataset)
    if {"nominal", "advmix"} <= set(METHODS):
        TARGETS[f"figure1_{_dataset}"] = FIGURE1.format(dataset=_dataset)
    if _dataset in SWEEP_DATASETS:
        for _sweep in SWEEP_VALUES:
            TARGETS[f"{_sweep}_sweep_{_dataset}"] = expand(
                [SWEEP_TABLE, SWEEP_FIGURE], dataset=_dataset, sweep=_sweep
            )

for _name, _targets in TARGETS.items():

    rule:
        name:
            _name
        input:
            _targets,


# Checked once every rule exists: a resources entry for an unknown rule is a typo.
check_resource_rules(config, [r.name for r in workflow.rules])
