# Ablations: variants of the weighting (config `ablations.variants`). A variant is trained and
# evaluated by the train and evaluate rules like a method (results/{dataset}/runs/{variant}/...,
# with its sparsity overrides), so every resource setting of a training applies to it; here its
# results are compared with the main generic model of the same seed.


rule aggregate_ablations:
    input:
        ablation_per_case,
    output:
        metrics="results/{dataset}/ablations/tables/metrics.csv",
        metrics_tex="results/{dataset}/ablations/tables/metrics.tex",
        lift="results/{dataset}/ablations/tables/lift.csv",
        lift_tex="results/{dataset}/ablations/tables/lift.tex",
    log:
        "results/logs/{dataset}/ablations/aggregate.log",
    conda:
        "../../envs/seqrec.yaml"
    params:
        config=step_config("evaluate", "aggregate"),
    shell:
        "python -m seqrec aggregate --config {params.config:q} --dataset {wildcards.dataset} "
        "--per-case {input:q} --out results/{wildcards.dataset}/ablations/tables > {log} 2>&1"
