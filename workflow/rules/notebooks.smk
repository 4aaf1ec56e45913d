# Papermill executes each notebook template with the run's whole config (written beside the
# executed notebook, passed as `config_path`); nbconvert renders it to HTML without the code: prose,
# tables and figures. Both in the package's notebook step (src/seqrec/render.py). The notebooks
# show the report's tables (rule report) and draw the figures.


rule notebook:
    input:
        notebook_inputs,
        template=f"{ROOT}/notebooks/{{name}}.ipynb",
    output:
        notebook=LAYOUT.pattern("notebook"),
        html=LAYOUT.pattern("notebook_html"),
        config=LAYOUT.pattern("notebook_config"),
        figures=report(
            directory(LAYOUT.pattern("notebook_figures")),
            patterns=["{figure}.png"],
            caption="../report/figure.rst",
            category="{name}",
        ),
    log:
        "results/logs/notebooks/{name}.log",
    conda:
        "../../envs/notebooks.yaml"
    params:
        config=json.dumps(config, sort_keys=True),
    shell:
        "python -m seqrec notebook --config {params.config:q} --template {input.template} --out {output.notebook} "
        "--figures {output.figures} --results results > {log} 2>&1"
