# Per-run evaluation on the test split (of a method or an ablation variant), then statistics over
# seeds and lifts over generic.


rule evaluate:
    input:
        **data_files("{dataset}"),
        power_users="results/{dataset}/sparsity/power_users.parquet",
        model="results/{dataset}/runs/{method}/seed{seed}/model.pt",
    output:
        metrics="results/{dataset}/eval/{method}/seed{seed}/metrics.parquet",
        per_case="results/{dataset}/eval/{method}/seed{seed}/per_case.parquet",
    log:
        "results/logs/{dataset}/evaluate/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/{dataset}/evaluate/{method}/seed{seed}.tsv"
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
        "--run results/{wildcards.dataset}/runs/{wildcards.method}/seed{wildcards.seed} "
        "--out results/{wildcards.dataset}/eval/{wildcards.method}/seed{wildcards.seed} > {log} 2>&1"


rule aggregate:
    input:
        all_per_case,
    output:
        metrics="results/tables/{dataset}/metrics.csv",
        metrics_tex="results/tables/{dataset}/metrics.tex",
        lift="results/tables/{dataset}/lift.csv",
        lift_tex="results/tables/{dataset}/lift.tex",
    log:
        "results/logs/{dataset}/aggregate.log",
    conda:
        "../../envs/seqrec.yaml"
    params:
        config=step_config("evaluate", "aggregate"),
    shell:
        "python -m seqrec aggregate --config {params.config:q} --dataset {wildcards.dataset} "
        "--per-case {input:q} --out results/tables/{wildcards.dataset} > {log} 2>&1"
