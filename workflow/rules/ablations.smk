# Ablations: variants of the weighting (config `ablations.variants`), one training and evaluation
# per (dataset, variant, seed), compared with the main generic model of the same seed.


rule train_ablation:
    input:
        **data_files("{dataset}"),
        domains="results/{dataset}/sparsity/domains.parquet",
    output:
        model="results/{dataset}/ablations/runs/{variant}/seed{seed}/model.pt",
        history="results/{dataset}/ablations/runs/{variant}/seed{seed}/history.csv",
        timing="results/{dataset}/ablations/runs/{variant}/seed{seed}/timing.json",
        weights="results/{dataset}/ablations/runs/{variant}/seed{seed}/weights.csv",
    log:
        "results/logs/{dataset}/ablations/train/{variant}/seed{seed}.log",
    benchmark:
        "results/benchmarks/{dataset}/ablations/train/{variant}/seed{seed}.tsv"
    retries: TRAINING_RETRIES
    conda:
        "../../envs/seqrec.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=lambda wildcards: training_gpus(ABLATIONS[wildcards.variant]["method"]),
        runtime=lambda wildcards, attempt: training_runtime(ABLATIONS[wildcards.variant]["method"], attempt),
    params:
        config=lambda wildcards: ablation_step_config(wildcards.variant),
        method=lambda wildcards: ABLATIONS[wildcards.variant]["method"],
    shell:
        "python -m seqrec train --config {params.config:q} --dataset {wildcards.dataset} "
        "--method {params.method} --seed {wildcards.seed} --threads {threads} "
        "--data results/{wildcards.dataset}/data --sparsity results/{wildcards.dataset}/sparsity "
        "--out results/{wildcards.dataset}/ablations/runs/{wildcards.variant}/seed{wildcards.seed} > {log} 2>&1"


rule evaluate_ablation:
    input:
        **data_files("{dataset}"),
        power_users="results/{dataset}/sparsity/power_users.parquet",
        model="results/{dataset}/ablations/runs/{variant}/seed{seed}/model.pt",
    output:
        metrics="results/{dataset}/ablations/eval/{variant}/seed{seed}/metrics.parquet",
        per_case="results/{dataset}/ablations/eval/{variant}/seed{seed}/per_case.parquet",
    log:
        "results/logs/{dataset}/ablations/evaluate/{variant}/seed{seed}.log",
    conda:
        "../../envs/seqrec.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=STEP_GPUS,
    params:
        config=step_config("train", "evaluate"),
    shell:
        "python -m seqrec evaluate --config {params.config:q} --dataset {wildcards.dataset} --threads {threads} "
        "--data results/{wildcards.dataset}/data --sparsity results/{wildcards.dataset}/sparsity "
        "--run results/{wildcards.dataset}/ablations/runs/{wildcards.variant}/seed{wildcards.seed} "
        "--out results/{wildcards.dataset}/ablations/eval/{wildcards.variant}/seed{wildcards.seed} > {log} 2>&1"


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
