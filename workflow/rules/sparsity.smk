# Domain statistics, power users and the weights of every weighting.


rule sparsity:
    input:
        **data_files("{dataset}"),
    output:
        domains="results/{dataset}/sparsity/domains.parquet",
        table="results/{dataset}/sparsity/domains.csv",
        power_users="results/{dataset}/sparsity/power_users.parquet",
    log:
        "results/logs/{dataset}/sparsity.log",
    conda:
        "../../envs/seqrec.yaml"
    params:
        config=step_config("sparsity"),
    shell:
        "python -m seqrec sparsity --config {params.config:q} --dataset {wildcards.dataset} "
        "--data results/{wildcards.dataset}/data --out results/{wildcards.dataset}/sparsity > {log} 2>&1"
