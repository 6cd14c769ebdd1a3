"""The base of the trainers' recipes: frozen dataclasses built from a config block."""

from dataclasses import fields


class ConfigRecipe:
    """Mixin of a dataclass whose fields are named like the keys of a config block."""

    @classmethod
    def from_config(cls, cfg: dict):
        """The recipe of config block ``cfg``: its keys named like fields, the others ignored."""
        return cls(**{f.name: cfg[f.name] for f in fields(cls) if f.name in cfg})
