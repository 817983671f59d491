"""An on-disk cache of hidden states: one safetensors file plus a JSON manifest per entry.

An entry's key is a hash of everything that determines the states: the model's identity (weights
file hashes or hub commit, config, tokenizer files), the prompt template, the token rule, the
dtype, and the exact texts in order. Any change to one of them is a different key, so the cache
never serves stale states. Entries are written atomically (states first, manifest last) and an
entry counts only when its manifest matches its key and its array has the recorded shape.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from xlc.io import atomic_path, sha256_json, write_json

FORMAT = 2  # 2: entries also hold the sum of the pair differences


def default_dir() -> Path:
    return Path(os.environ.get("XLC_CACHE", Path.home() / ".cache" / "xlc")) / "activations"


class ActivationCache:
    """``get(key)`` / ``put(key, states, info)`` over a folder; ``key(identity, texts)`` makes keys."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_dir()

    @staticmethod
    def key(identity: dict, texts: list[str]) -> str:
        return sha256_json({"format": FORMAT, "identity": identity, "texts": list(texts)})

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.safetensors", folder / f"{key}.json"

    def get(self, key: str) -> np.ndarray | None:
        """The cached states (float32, shape ``[N, L, D]``), or None on a miss or a damaged entry."""
        hit = self.get_with_extras(key)
        return None if hit is None else hit[0]

    def get_with_extras(self, key: str) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
        """``(states, extras)``: the states and the other arrays stored with them, or None."""
        from safetensors.numpy import load_file

        tensors, manifest = self._paths(key)
        if not (tensors.is_file() and manifest.is_file()):
            return None
        try:
            info = json.loads(manifest.read_text(encoding="utf-8"))
            arrays = load_file(tensors)
            states = arrays.pop("states")
        except Exception:  # a damaged entry is a miss; it is rewritten
            return None
        if info.get("key") != key or list(states.shape) != info.get("shape"):
            return None
        return states, arrays

    def put(self, key: str, states: np.ndarray, info: dict | None = None,
            extras: dict[str, np.ndarray] | None = None) -> None:
        from safetensors.numpy import save_file

        tensors, manifest = self._paths(key)
        arrays = {"states": np.ascontiguousarray(states, dtype=np.float32)}
        arrays.update({k: np.ascontiguousarray(v) for k, v in (extras or {}).items()})
        with atomic_path(tensors) as tmp:
            save_file(arrays, str(tmp))
        write_json(manifest, dict(info or {}, key=key, shape=list(states.shape), format=FORMAT))
