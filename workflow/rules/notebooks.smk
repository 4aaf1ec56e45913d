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
        config="results/notebooks/{name}.config.json",
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
        config=json.dumps(config, sort_keys=True),
    shell:
        "python -m seqrec notebook --config {params.config:q} --template {input.template} --out {output.notebook} "
        "--figures {output.figures} --tables {output.tables} --results results > {log} 2>&1"
