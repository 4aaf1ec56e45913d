# Raw data (downloaded, or synthesized for the embedded default) -> canonical parquet tables.
# A raw file that is already there, placed by hand or fetched by an earlier run, is never a job's
# output: it is an input that `verify_raw` checks against every known checksum, so no rerun,
# --forcerun or -F can delete or recreate it. Only members missing when the run starts are
# outputs, of their dataset's fetch rule (which has none when nothing is missing).


rule synthesize:
    output:
        [raw_path("synthetic", name) for name in raw_files("synthetic")],
    log:
        "results/logs/synthetic/synthesize.log",
    conda:
        "../../envs/seqrec.yaml"
    params:
        config=step_config("synthetic"),
    shell:
        "python -m seqrec synthesize --config {params.config:q} --out resources/raw/synthetic > {log} 2>&1"


for _dataset in [d for d in config["datasets"] if d != "synthetic"]:

    rule:
        # Downloads the missing members, or the archive that holds them into resources/archives/
        # (where a user may also place it; verified and kept), and extracts them from it.
        name:
            f"fetch_{_dataset.replace('-', '_')}"
        output:
            [raw_path(_dataset, member) for member in fetched_raw_files(_dataset)],
        log:
            f"results/logs/{_dataset}/fetch.log",
        # Downloads run where Snakemake runs: cluster compute nodes often have no network.
        localrule: True
        conda:
            "../../envs/seqrec.yaml"
        params:
            dataset=_dataset,  # the shell command is formatted when the job runs, after the loop
        shell:
            "python -m seqrec fetch --dataset {params.dataset} --out resources/raw --archives resources/archives "
            "> {log} 2>&1"


rule verify_raw:
    input:
        raw_members,
    output:
        LAYOUT.pattern("raw_verified"),
    log:
        "results/logs/{dataset}/verify_raw.log",
    conda:
        "../../envs/seqrec.yaml"
    shell:
        "python -m seqrec verify --dataset {wildcards.dataset} --raw resources/raw/{wildcards.dataset} "
        "--out {output:q} > {log} 2>&1"


rule prepare:
    input:
        raw_inputs,
    output:
        interactions=LAYOUT.pattern("interactions"),
        item_table=LAYOUT.pattern("items"),
        summary=LAYOUT.pattern("dataset_summary"),
    log:
        "results/logs/{dataset}/prepare.log",
    conda:
        "../../envs/seqrec.yaml"
    params:
        config=step_config("prepare"),
    shell:
        "python -m seqrec prepare --config {params.config:q} --dataset {wildcards.dataset} "
        "--raw resources/raw/{wildcards.dataset} --out results/{wildcards.dataset}/data > {log} 2>&1"


rule item_text:
    # Item texts encoded once per dataset by the frozen sentence encoder (CALRec's item side).
    input:
        item_table=LAYOUT.pattern("items"),
    output:
        LAYOUT.pattern("item_embeddings"),
    log:
        "results/logs/{dataset}/item_text.log",
    conda:
        "../../envs/seqrec.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=STEP_GPUS,
    params:
        config=step_config("text", "train"),
    shell:
        "python -m seqrec text --config {params.config:q} --dataset {wildcards.dataset} --threads {threads} "
        "--items {input.item_table:q} --out {output:q} > {log} 2>&1"
