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


rule tables:
    input:
        table_targets(),


rule figures:
    input:
        figure_targets(),


rule sweeps:
    input:
        sweep_targets(),


rule ablation:
    input:
        ablation_targets(),


rule gan_seeds:
    input:
        gan_seeds_targets(),


rule tune_methods:
    input:
        tuning_targets(),


rule generators:
    input:
        expand(GENERATOR, dataset=DATASETS),


rule codes:
    input:
        expand(CODES, dataset=DATASETS, split=SPLITS),


# Named targets for one table or one figure of one dataset: table_faces, figure1_faces, mixing_grid_faces, ...
for _dataset in DATASETS:

    rule:
        name:
            f"table_{_dataset}"
        input:
            expand(TABLE, dataset=_dataset, ext=TABLE_EXTS),

    rule:
        name:
            f"mixing_grid_{_dataset}"
        input:
            MIXING_GRID.format(dataset=_dataset),

    if {"nominal", "advmix"} <= set(METHODS):

        rule:
            name:
                f"figure1_{_dataset}"
            input:
                FIGURE1.format(dataset=_dataset),

    if _dataset in SWEEP_DATASETS:
        for _sweep in SWEEP_VALUES:

            rule:
                name:
                    f"{_sweep}_sweep_{_dataset}"
                input:
                    expand([SWEEP_TABLE, SWEEP_FIGURE], dataset=_dataset, sweep=_sweep),


# Checked once every rule exists: a resources entry for an unknown rule is a typo.
check_resource_rules(config, [r.name for r in workflow.rules])
