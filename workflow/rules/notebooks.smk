# Papermill executes each notebook template with its parameters; nbconvert renders it to HTML
# (cells tagged remove_input, the plotting helpers, show only their output there), both in the
# package's notebook step (src/seqrec/render.py).


rule notebook:
    input:
        notebook_inputs,
        template=f"{ROOT}/notebooks/{{name}}.ipynb",
    output:
        notebook="results/notebooks/{name}.ipynb",
        html="results/notebooks/{name}.html",
        figures=report(
            directory("results/figures/{name}"),
            patterns=["{figure}.png"],
            caption="../report/figure.rst",
            category="{name}",
        ),
        tables=directory("results/tables/{name}"),
    log:
        "results/logs/notebooks/{name}.log",
    conda:
        "../../envs/notebooks.yaml"
    params:
        settings=json.dumps(
            {
                "datasets": config["datasets"],
                "methods": all_methods(),
                "seeds": config["seeds"],
                "sparse_share_threshold": config["sparsity"]["sparse_share_threshold"],
            }
        ),
    shell:
        "python -m seqrec notebook --template {input.template} --out {output.notebook} --figures {output.figures} "
        "--tables {output.tables} --parameters {params.settings:q} > {log} 2>&1"
