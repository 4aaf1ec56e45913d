# Adaptive Weighted Loss for Sequential Recommendations on Sparse Domains (arXiv 2510.04375):
# datasets -> domain sparsity -> training of every method and seed -> per-domain evaluation ->
# tables -> rendered notebooks. See README.md and ../shared/DESIGN.md.

from snakemake.utils import min_version

# The Snakemake the workflow is tested with (pyproject.toml pins 9.27.1) or later.
min_version("9.27")

# Each config file stands alone on the schema's defaults: config/config.yaml is the config only
# when no --configfile is given (Snakemake would layer a given file on top of it otherwise).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/sparsity.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/ablations.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/notebooks.smk"


rule all:
    default_target: True
    input:
        expand(LAYOUT.pattern("lift_table"), dataset=config["datasets"]),
        expand(LAYOUT.pattern("valid_lift_table"), dataset=config["datasets"]),
        expand(LAYOUT.pattern("ablation_lift_table"), dataset=config["datasets"] if ABLATIONS else []),
        expand(LAYOUT.pattern("valid_ablation_lift_table"), dataset=config["datasets"] if ABLATIONS else []),
        expand(LAYOUT.pattern("notebook_html"), name=NOTEBOOKS),
