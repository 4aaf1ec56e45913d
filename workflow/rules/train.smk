# One job = one (dataset, method, seed), the method being one of the registry or an ablation
# variant (workflow/rules/ablations.smk). A killed job rerun resumes from its checkpoint.pt.


rule train:
    input:
        unpack(train_inputs),
    output:
        model=LAYOUT.pattern("model"),
        history=LAYOUT.pattern("history"),
        timing=LAYOUT.pattern("timing"),
        weights=LAYOUT.pattern("weights"),
    log:
        "results/logs/{dataset}/train/{method}/seed{seed}.log",
    benchmark:
        LAYOUT.pattern("train_benchmark")
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
        text=lambda wildcards, input: f"--text {input.item_embeddings}" if "item_embeddings" in input.keys() else "",
        checkpoint=LAYOUT.pattern("checkpoint"),
    shell:
        "python -m seqrec train --config {params.config:q} --dataset {wildcards.dataset} "
        "--method {params.method} --seed {wildcards.seed} --threads {threads} "
        "--interactions {input.interactions} --items {input.item_table} --domains {input.domains} {params.text} "
        "--model {output.model} --history {output.history} --timing {output.timing} --weights {output.weights} "
        "--checkpoint {params.checkpoint} > {log} 2>&1"
