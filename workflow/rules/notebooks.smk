# Papermill executes each notebook template with its parameters; nbconvert renders it to HTML
# (cells tagged remove_input, the plotting helpers, show only their output there).

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
    params:
        settings=json.dumps(
            {
                "datasets": config["datasets"],
                "methods": all_methods(),
                "seeds": config["seeds"],
                "sparse_share_threshold": config["sparsity"]["sparse_share_threshold"],
            }
        ),
    log:
        "results/logs/notebooks/{name}.log",
    conda:
        "../../envs/notebooks.yaml"
    shell:
        "(mkdir -p {output.tables} {output.figures} && papermill {input.template} {output.notebook} --kernel python3 "
        "-p results_dir results -p figures_dir {output.figures} -p tables_dir {output.tables} "
        "-y {params.settings:q} "
        "&& jupyter nbconvert --to html --TagRemovePreprocessor.remove_input_tags=remove_input "
        "{output.notebook} --output {wildcards.name}) > {log} 2>&1"
