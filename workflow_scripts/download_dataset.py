"""Rule download_dataset: fetch a real dataset with md5 checks."""

from _admix import start
from admixlib.stages.data import download_dataset

start(snakemake)
download_dataset(kind=snakemake.params.kind, files=snakemake.params.files, raw_dir=snakemake.output[0])
