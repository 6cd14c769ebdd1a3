rule table:
    """One table per dataset (CSV tidy, Markdown, LaTeX): mean +- std over seeds per method."""
    input:
        runs=lambda w: expand(EVAL, dataset=w.dataset, method=METHODS, seed=SEEDS),
    output:
        csv=report(
            TABLE.replace("{ext}", "csv"),
            caption="../docs/captions/table.rst",
            category="Tables",
        ),
        md=TABLE.replace("{ext}", "md"),
        tex=TABLE.replace("{ext}", "tex"),
        provenance=sidecar(TABLE),
    log:
        log_path("table", "{dataset}"),
    benchmark:
        bench_path("table", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("table"),
    params:
        methods=METHODS,
        seeds=SEEDS,
    script:
        "../workflow_scripts/table.py"


rule figure_mixing:
    """Style-mixing grid on inverted test images: coarse styles from rows, fine styles from columns."""
    input:
        generator=GENERATOR,
        test_codes=CODES.replace("{split}", "test"),
    output:
        figure=report(
            MIXING_GRID, caption="../docs/captions/mixing_grid.rst", category="Figures"
        ),
        provenance=sidecar(MIXING_GRID),
    log:
        log_path("figure_mixing", "{dataset}"),
    benchmark:
        bench_path("figure_mixing", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("figure_mixing", gpu=1),
    params:
        mixing=lambda w: dataset_cfg(w)["mixing"],
        n=config["figures"]["mixing_grid_size"],
        device=config["device"],
    script:
        "../workflow_scripts/figure_mixing.py"


rule figure1:
    """Figure 1: one test image under many fine-style variations, with nominal's and AdvMix's scores."""
    input:
        unpack(figure1_models),
        generator=GENERATOR,
        test=data_split("test"),
        test_codes=CODES.replace("{split}", "test"),
        train_codes=CODES.replace("{split}", "train"),
    output:
        figure=report(
            FIGURE1, caption="../docs/captions/figure1.rst", category="Figures"
        ),
        provenance=sidecar(FIGURE1),
    log:
        log_path("figure1", "{dataset}"),
    benchmark:
        bench_path("figure1", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("figure1", gpu=1),
    params:
        mixing=lambda w: dataset_cfg(w)["mixing"],
        variations=config["evaluation"]["figure1_variations"],
        device=config["device"],
    script:
        "../workflow_scripts/figure1.py"


rule results_md:
    """The results page (config results_doc): every table and measured figure of the results folder."""
    input:
        tables=expand(TABLE.replace("{ext}", "csv"), dataset=DATASETS),
        generators=expand(GENERATOR_METRICS, dataset=DATASETS),
        inversions=expand(INVERSION_METRICS, dataset=DATASETS),
        extras=measured_extras,
    output:
        doc=config["results_doc"],
    log:
        log_path("results_md", "all"),
    benchmark:
        bench_path("results_md", "all")
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("table"),
    params:
        datasets=DATASETS,
    script:
        "../workflow_scripts/results_md.py"
