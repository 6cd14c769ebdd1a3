"""Rules train_classifier, consistency_variations and evaluate: perturbation sets from config, training, scoring."""

import json
import logging
from pathlib import Path

import torch

from admixlib.classify import (
    ClassifierRecipe,
    evaluate_classifier,
    load_classifier,
    save_classifier,
    train_classifier,
)
from admixlib.configcheck import MIXING_METHODS
from admixlib.data import load_split
from admixlib.perturb import (
    LinfBall,
    ResampleSet,
    StyleMixSet,
    autoaugment_set,
    colorjitter_set,
    fine_style_variations,
)
from admixlib.runtime import (
    RunFiles,
    fingerprint,
    load_checkpoint,
    resolve_device,
    save_atomic,
    torch_generator,
)
from admixlib.stages.codes import load_codes
from admixlib.stylegan import load_generator

log = logging.getLogger("admix.stages")
# Every model of a dataset is judged on the same variations, whatever its seed.
CONSISTENCY_SEED = 0


def build_pset(
    method: str, cfg: dict, *, generator_path, donor_codes, mixing: dict, device, resampled_path=None
):
    """The perturbation set of a training method (None for nominal), built from its config block;
    ``resample_nuisance`` reads the redrawn training split at ``resampled_path`` (rule resample_train)."""
    if method in ("nominal", "nominal_long"):
        return None
    if method == "resample_nuisance":
        return ResampleSet(load_checkpoint(resampled_path, writer="resample_train")["images"])
    if method == "linf_pgd":
        return LinfBall(eps=cfg["eps"], step_size=cfg["step_size"], steps=cfg["steps"])
    if method == "autoaugment":
        return autoaugment_set(policy=cfg["policy"], num_ops=cfg["num_ops"], magnitude=cfg["magnitude"])
    if method == "colorjitter":
        keys = ("brightness", "contrast", "saturation", "hue")
        return colorjitter_set(**{k: cfg[k] for k in keys})
    if method in MIXING_METHODS:
        G = load_generator(generator_path, map_location=device)
        return StyleMixSet(
            G,
            split_index=mixing["split_index"],
            donor_codes=donor_codes.to(device),
            donors=cfg["donors"],
            steps=1 if method == "advmix_fast" else cfg.get("steps", 0),
            step_size=cfg.get("step_size", 0.0),
            add_residual=mixing["add_residual"],
            attack=cfg.get("attack", "exact"),
        )
    raise ValueError(
        f"build_pset has no branch for method {method!r}: add one that builds its perturbation set"
    )


def train_classifier_stage(
    *,
    method: str,
    seed: int,
    train_path,
    val_path,
    train_codes_path,
    generator_path,
    model_path,
    stats_path,
    val_path_out,
    method_cfg: dict,
    classifier_cfg: dict,
    mixing: dict,
    checkpoint_dir,
    checkpoint_every,
    device,
    min_group_size: int = 1,
    resampled_path=None,
) -> dict:
    """Train one classifier (method, seed) and score it on the validation split (model selection
    only; groups of fewer than ``min_group_size`` images are left out of its worst group)."""
    device = resolve_device(device)
    train, codes = load_split(train_path), load_codes(train_codes_path)
    settings = {
        "method": method,
        "seed": seed,
        "method_cfg": method_cfg,
        "classifier": classifier_cfg,
        "mixing": mixing,
    }
    run_dir = Path(checkpoint_dir) / fingerprint(
        config=settings, files=[train_path, train_codes_path, generator_path, *filter(None, [resampled_path])]
    )
    pset = build_pset(
        method, method_cfg, generator_path=generator_path, donor_codes=codes.ws, mixing=mixing,
        device=device, resampled_path=resampled_path,
    )  # fmt: skip
    model = train_classifier(
        images=train.images,
        labels=train.labels,
        codes=codes.ws,
        residuals=codes.residuals(train.images),
        num_classes=train.meta["num_classes"],
        pset=pset,
        lam=method_cfg["lam"],
        steps=classifier_cfg["steps"] * method_cfg.get("steps_factor", 1),
        recipe=ClassifierRecipe.from_config(classifier_cfg),
        device=device,
        seed=seed,
        files=RunFiles(run_dir, stats_path, checkpoint_every=checkpoint_every),
    )
    save_classifier(model, model_path)
    val = load_split(val_path)
    scores = evaluate_classifier(
        model,
        images=val.images,
        labels=val.labels,
        factors=val.factors,
        label_name=val.meta["label_name"],
        spurious_factor=val.meta["spurious_factor"],
        min_group_size=min_group_size,
        device=device,
        seed=seed,
    )
    summary = {"method": method, "seed": seed, "split": "val", "metrics": scores}
    Path(val_path_out).write_text(json.dumps(summary, indent=2) + "\n")
    log.info("val clean %.4f worst-group %s", scores["clean_acc"], scores["worst_group_acc"])
    return summary


def evaluate_stage(
    *,
    dataset: str,
    method: str,
    seed: int,
    model_path,
    test_path,
    test_codes_path,
    train_codes_path,
    generator_path,
    variations_path,
    metrics_path,
    evaluation: dict,
    mixing: dict,
    device,
) -> dict:
    """Score a classifier on the unbiased test split. Every metric (clean and per-group accuracy,
    accuracy under the AdvMix and l_inf attacks, consistency under the fine-style variations at
    ``variations_path`` from rule consistency_variations) is computed on the same images: the first
    ``n_images`` of :func:`consistency_cfg`. The AdvMix attack mixes like training does."""
    device = resolve_device(device)
    model = load_classifier(model_path, map_location=device)
    test, codes = load_split(test_path), load_codes(test_codes_path)
    cfg = consistency_cfg(evaluation, len(test.images))
    n = cfg["n_images"]
    variations = load_consistency_variations(variations_path, cfg=cfg, mixing=mixing)
    attack_cfg = evaluation["advmix"]
    advmix_set = build_pset(
        "advmix", attack_cfg, generator_path=generator_path, donor_codes=load_codes(train_codes_path).ws,
        mixing=mixing, device=device,
    )  # fmt: skip
    linf_set = build_pset(
        "linf_pgd", evaluation["linf"], generator_path=None, donor_codes=None, mixing=mixing, device=device
    )
    metrics = evaluate_classifier(
        model,
        images=test.images[:n],
        labels=test.labels[:n],
        factors=test.factors.iloc[:n],
        label_name=test.meta["label_name"],
        spurious_factor=test.meta["spurious_factor"],
        min_group_size=evaluation["min_group_size"],
        advmix_set=advmix_set,
        advmix_restarts=attack_cfg["restarts"],
        linf_set=linf_set,
        codes=codes.ws[:n],
        residuals=codes.residuals(test.images)[:n],
        variations=variations,
        batch_size=evaluation["batch_size"],
        device=device,
        seed=seed,
    )
    metrics["n_test_split"] = len(test.images)
    result = {
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "split": "test",
        "metrics": metrics,
        "evaluation": evaluation,
    }
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    Path(metrics_path).write_text(json.dumps(result, indent=2) + "\n")
    log.info("test metrics: %s", {k: v for k, v in metrics.items() if not isinstance(v, dict)})
    return result


def consistency_cfg(evaluation: dict, n_test: int) -> dict:
    """``n_images``: how many test images (the first ones) every test metric is computed on
    (``evaluation.n_images``, all ``n_test`` when null); ``variations``: fine-style variations per image."""
    n = evaluation["n_images"]
    return {
        "n_images": n_test if n is None else min(int(n), n_test),
        "variations": evaluation["consistency"]["variations"],
    }


def render_consistency_variations(
    G, *, images, codes, donor_bank, cfg: dict, mixing: dict, batch_size: int
) -> torch.Tensor:
    """The first ``cfg["n_images"]`` test images (:func:`consistency_cfg`), each with ``cfg["variations"]`` fine-style
    variations (donors from ``donor_bank``, residual added as ``mixing`` says), drawn from
    ``CONSISTENCY_SEED``. Rendered in chunks of about ``batch_size`` images to bound the generator's
    activations; the result does not depend on ``batch_size``. Returns ``[n, V, 3, H, W]`` (CPU)."""
    n = min(cfg["n_images"], len(images))
    device = next(G.parameters()).device
    residuals = codes.residuals(images)[:n] if mixing["add_residual"] else None
    generator = torch_generator(CONSISTENCY_SEED)
    chunk = max(1, batch_size // cfg["variations"])
    parts = []
    with torch.no_grad():
        for start in range(0, n, chunk):
            part = slice(start, min(start + chunk, n))
            varied = fine_style_variations(
                G,
                codes.ws[part].to(device),
                donor_bank,
                variations=cfg["variations"],
                split_index=mixing["split_index"],
                residuals=None if residuals is None else residuals[part],
                generator=generator,
            )
            parts.append(varied.cpu())
    return torch.cat(parts) if parts else torch.empty(0, cfg["variations"], *images.shape[1:])


def consistency_variations_stage(
    *, test_path, test_codes_path, train_codes_path, generator_path, variations_path, evaluation: dict,
    mixing: dict, device,
) -> None:  # fmt: skip
    """Rule consistency_variations: render the variations every model of a dataset is judged on
    (:func:`render_consistency_variations` with :func:`consistency_cfg`) once, and save them with
    the settings that made them."""
    device = resolve_device(device)
    test, codes = load_split(test_path), load_codes(test_codes_path)
    G = load_generator(generator_path, map_location=device)
    cfg = consistency_cfg(evaluation, len(test.images))
    variations = render_consistency_variations(
        G, images=test.images, codes=codes, donor_bank=load_codes(train_codes_path).ws,
        cfg=cfg, mixing=mixing, batch_size=evaluation["batch_size"],
    )  # fmt: skip
    meta = {**_variation_settings(cfg, mixing), "seed": CONSISTENCY_SEED}
    save_atomic({"variations": variations, "meta": meta}, variations_path)
    log.info("rendered %d x %d consistency variations", *variations.shape[:2])


def _variation_settings(cfg: dict, mixing: dict) -> dict:
    return {
        "n_images": cfg["n_images"],
        "variations": cfg["variations"],
        "split_index": mixing["split_index"],
        "add_residual": mixing["add_residual"],
    }


def load_consistency_variations(path, *, cfg: dict, mixing: dict) -> torch.Tensor:
    """The variations saved by :func:`consistency_variations_stage`; a clear error when they were
    made with other settings than ``cfg`` and ``mixing``. Returns ``[n, V, 3, H, W]``."""
    saved = load_checkpoint(path, writer="consistency_variations")
    expected = _variation_settings(cfg, mixing)
    made_with = {key: saved["meta"].get(key) for key in expected}
    if made_with != expected:
        raise RuntimeError(
            f"{path} was made with {made_with}, not {expected}; re-run rule consistency_variations"
        )
    return saved["variations"]
