# One job = one (dataset, method, seed), the method being one of the registry or an ablation
# variant (workflow/rules/ablations.smk). A killed job rerun resumes from its checkpoint.pt.


rule train:
    input:
        unpack(train_inputs),
    output:
        model="results/{dataset}/runs/{method}/seed{seed}/model.pt",
        history="results/{dataset}/runs/{method}/seed{seed}/history.csv",
        timing="results/{dataset}/runs/{method}/seed{seed}/timing.json",
        weights="results/{dataset}/runs/{method}/seed{seed}/weights.csv",
    log:
        "results/logs/{dataset}/train/{method}/seed{seed}.log",
    benchmark:
        "results/benchmarks/{dataset}/train/{method}/seed{seed}.tsv"
    retries: TRAINING_RETRIES
    conda:
        "../../envs/seqrec.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=lambda wildcards: training_gpus(run_method(wildcards.method)),
        runtime=lambda wildcards, attempt: training_runtime(run_method(wildcards.method), attempt),
    params:
        config=train_config,
        method=lambda wildcards: run_method(wildcards.method),
        text=lambda wildcards, input: f"--text {input.text}" if "text" in input.keys() else "",
    shell:
        "python -m seqrec train --config {params.config:q} --dataset {wildcards.dataset} "
        "--method {params.method} --seed {wildcards.seed} --threads {threads} {params.text} "
        "--data results/{wildcards.dataset}/data --sparsity results/{wildcards.dataset}/sparsity "
        "--out results/{wildcards.dataset}/runs/{wildcards.method}/seed{wildcards.seed} > {log} 2>&1"
