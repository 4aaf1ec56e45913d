# Domain statistics, power users and the weights of every weighting.


rule sparsity:
    input:
        interactions=LAYOUT.pattern("interactions"),
        item_table=LAYOUT.pattern("items"),
    output:
        domains=LAYOUT.pattern("domains"),
        table=LAYOUT.pattern("domains_csv"),
        power_users=LAYOUT.pattern("power_users"),
    log:
        "results/logs/{dataset}/sparsity.log",
    conda:
        "../../envs/seqrec.yaml"
    params:
        config=step_config("sparsity"),
    shell:
        "python -m seqrec sparsity --config {params.config:q} --dataset {wildcards.dataset} "
        "--interactions {input.interactions} --items {input.item_table} "
        "--domains {output.domains} --table {output.table} --power-users {output.power_users} > {log} 2>&1"
