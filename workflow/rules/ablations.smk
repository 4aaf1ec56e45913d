# Ablations: variants of the weighting (config `ablations.variants`). A variant is trained and
# evaluated by the train and evaluate rules like a method (results/{dataset}/runs/{variant}/...,
# with its sparsity overrides), so every resource setting of a training applies to it; a variant that
# repeats a method's config shares that method's runs (seqrec.config.run_of); here its
# results are compared with the main generic model of the same seed, on each split (the tables of
# the validation split are the twins of the test split's, seqrec.layout.split_artifact).


for _split in SPLITS:

    rule:
        name:
            split_rule("aggregate_ablations", _split)
        input:
            lambda wildcards, split=_split: ablation_per_case(wildcards, split),
        output:
            metrics=LAYOUT.pattern(split_artifact("ablation_metrics_table", _split)),
            metrics_tex=LAYOUT.pattern(split_artifact("ablation_metrics_tex", _split)),
            lift=LAYOUT.pattern(split_artifact("ablation_lift_table", _split)),
            lift_tex=LAYOUT.pattern(split_artifact("ablation_lift_tex", _split)),
        log:
            f"results/logs/{{dataset}}/ablations/{split_rule('aggregate', _split)}.log",
        localrule: True
        conda:
            "../../envs/seqrec.yaml"
        params:
            config=step_config("evaluate", "aggregate"),
            split=_split,  # the shell command is formatted when the job runs, after the loop
            shared=variants_sharing_runs(),
        shell:
            "python -m seqrec aggregate --config {params.config:q} --dataset {wildcards.dataset} --split {params.split} "
            "--per-case {input:q} {params.shared} --metrics {output.metrics} --metrics-tex {output.metrics_tex} "
            "--lift {output.lift} --lift-tex {output.lift_tex} > {log} 2>&1"
