# Raw data (downloaded, or synthesized for the embedded default) -> canonical parquet tables.
# One fetch rule per real dataset, since each has its own raw members; members already present and
# verified are used without network access, and `ensure` re-checks every known checksum.


rule synthesize:
    output:
        expand("resources/raw/synthetic/{name}", name=raw_files("synthetic")),
    params:
        config=step_config("synthetic"),
    log:
        "results/logs/synthetic/synthesize.log",
    conda:
        "../../envs/seqrec.yaml"
    shell:
        "python -m seqrec synthesize --config {params.config:q} --out resources/raw/synthetic > {log} 2>&1"


for _name in [d for d in config["datasets"] if d != "synthetic"]:

    rule:
        name:
            f"fetch_{_name.replace('-', '_')}"
        output:
            [raw_output(_name, member) for member in raw_files(_name)],
        log:
            f"results/logs/{_name}/fetch.log",
        retries: 2
        conda:
            "../../envs/seqrec.yaml"
        shell:
            f"python -m seqrec fetch --dataset {_name} --out resources/raw "
            "--archives resources/archives > {log} 2>&1"


rule prepare:
    input:
        raw_inputs,
    output:
        interactions="results/{dataset}/data/interactions.parquet",
        item_table="results/{dataset}/data/items.parquet",
        summary="results/{dataset}/data/dataset.json",
    params:
        config=step_config("prepare"),
    log:
        "results/logs/{dataset}/prepare.log",
    conda:
        "../../envs/seqrec.yaml"
    shell:
        "python -m seqrec prepare --config {params.config:q} --dataset {wildcards.dataset} "
        "--raw resources/raw/{wildcards.dataset} --out results/{wildcards.dataset}/data > {log} 2>&1"


rule item_text:
    # Item texts encoded once per dataset by the frozen sentence encoder (CALRec's item side).
    input:
        item_table="results/{dataset}/data/items.parquet",
    output:
        "results/{dataset}/text/item_embeddings.parquet",
    params:
        config=step_config("text", "train"),
    threads: config["train"]["threads"]
    resources:
        gpu=STEP_GPUS,
    log:
        "results/logs/{dataset}/item_text.log",
    conda:
        "../../envs/seqrec.yaml"
    shell:
        "python -m seqrec text --config {params.config:q} --dataset {wildcards.dataset} --threads {threads} "
        "--data results/{wildcards.dataset}/data --out {output:q} > {log} 2>&1"
