# Ablations: variants of the weighting (config `ablations.variants`). A variant is trained and
# evaluated by the train and evaluate rules like a method (results/{dataset}/runs/{variant}/...,
# with its sparsity overrides), so every resource setting of a training applies to it; here its
# results are compared with the main generic model of the same seed.


rule aggregate_ablations:
    input:
        ablation_per_case,
    output:
        metrics=LAYOUT.pattern("ablation_metrics_table"),
        metrics_tex=LAYOUT.pattern("ablation_metrics_tex"),
        lift=LAYOUT.pattern("ablation_lift_table"),
        lift_tex=LAYOUT.pattern("ablation_lift_tex"),
    log:
        "results/logs/{dataset}/ablations/aggregate.log",
    conda:
        "../../envs/seqrec.yaml"
    params:
        config=step_config("evaluate", "aggregate"),
    shell:
        "python -m seqrec aggregate --config {params.config:q} --dataset {wildcards.dataset} "
        "--per-case {input:q} --metrics {output.metrics} --metrics-tex {output.metrics_tex} "
        "--lift {output.lift} --lift-tex {output.lift_tex} > {log} 2>&1"
