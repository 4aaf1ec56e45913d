# The report's tables: one job per table (seqrec.report.tables), computed from the run's outputs
# with the whole validated config, written as csv + tex. The notebooks read and show them.

from seqrec.report import Run
from seqrec.report.tables import TABLES, inputs as report_inputs

RUN = Run(config)  # LAYOUT comes from common.smk


localrules:
    report,


rule report:
    input:
        lambda wildcards: report_inputs(RUN, wildcards.table),
    output:
        csv=LAYOUT.pattern("report_table"),
        tex=LAYOUT.pattern("report_tex"),
    log:
        "results/logs/report/{table}.log",
    wildcard_constraints:
        table="|".join(TABLES),
    conda:
        "../../envs/notebooks.yaml"
    params:
        config=json.dumps(config, sort_keys=True),
    shell:
        "python -m seqrec report --config {params.config:q} --table {wildcards.table} --results results "
        "--out {output.csv} > {log} 2>&1"
