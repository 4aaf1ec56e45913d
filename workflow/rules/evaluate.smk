# Per-run evaluation (of a method or an ablation variant) on the test and the validation split in
# one job, then statistics over seeds and lifts over generic.


rule evaluate:
    input:
        interactions=LAYOUT.pattern("interactions"),
        item_table=LAYOUT.pattern("items"),
        power_users=LAYOUT.pattern("power_users"),
        model=LAYOUT.pattern("model"),
    output:
        metrics=LAYOUT.pattern("metrics"),
        per_case=LAYOUT.pattern("per_case"),
        valid_metrics=LAYOUT.pattern("valid_metrics"),
        valid_per_case=LAYOUT.pattern("valid_per_case"),
    log:
        "results/logs/{dataset}/evaluate/{method}/seed{seed}.log",
    benchmark:
        LAYOUT.pattern("evaluate_benchmark")
    conda:
        "../../envs/seqrec.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=STEP_GPUS,
    params:
        config=step_config("train", "evaluate"),
    shell:
        "python -m seqrec evaluate --config {params.config:q} --dataset {wildcards.dataset} --threads {threads} "
        "--interactions {input.interactions} --items {input.item_table} --power-users {input.power_users} "
        "--model {input.model} --per-case {output.per_case} --metrics {output.metrics} "
        "--valid-per-case {output.valid_per_case} --valid-metrics {output.valid_metrics} > {log} 2>&1"


# The tables of each split, the same step: aggregate (test split) and aggregate_valid (its twins).
for _split in SPLITS:

    rule:
        name:
            split_rule("aggregate", _split)
        input:
            lambda wildcards, split=_split: all_per_case(wildcards, split),
        output:
            metrics=LAYOUT.pattern(split_artifact("metrics_table", _split)),
            metrics_tex=LAYOUT.pattern(split_artifact("metrics_tex", _split)),
            lift=LAYOUT.pattern(split_artifact("lift_table", _split)),
            lift_tex=LAYOUT.pattern(split_artifact("lift_tex", _split)),
        log:
            f"results/logs/{{dataset}}/{split_rule('aggregate', _split)}.log",
        localrule: True
        conda:
            "../../envs/seqrec.yaml"
        params:
            config=step_config("evaluate", "aggregate"),
            split=_split,  # the shell command is formatted when the job runs, after the loop
        shell:
            "python -m seqrec aggregate --config {params.config:q} --dataset {wildcards.dataset} --split {params.split} "
            "--per-case {input:q} --metrics {output.metrics} --metrics-tex {output.metrics_tex} "
            "--lift {output.lift} --lift-tex {output.lift_tex} > {log} 2>&1"
