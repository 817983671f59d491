"""An on-disk cache of hidden states: one safetensors file plus a JSON manifest per entry.

An entry holds the states of one list of texts (``[N, L, D]`` float32, in the order given). Its key is
a hash of everything that determines them: the model's identity (weights file hashes or hub commit,
config, tokenizer files), the prompt template, the token rule, the dtype, and the exact texts in
order. Any change to one of them is a different key, so the cache never serves stale states. Entries
are written atomically (states first, manifest last); an entry counts only when its manifest names its
key and its array has the recorded shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from xlc.io import atomic_path, cache_root, sha256_json, write_json

FORMAT = 3  # 3: states only (2 also kept an analysis statistic)


def default_dir() -> Path:
    return cache_root() / "activations"


class ActivationCache:
    """``get(key)`` / ``put(key, states, info)`` over a folder; ``key(identity, texts)`` makes keys."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_dir()

    @staticmethod
    def key(identity: dict, texts: list[str]) -> str:
        return sha256_json({"format": FORMAT, "identity": identity, "texts": list(texts)})

    def _paths(self, key: str) -> tuple[Path, Path]:
        stem = self.root / key[:2] / key
        return stem.with_suffix(".safetensors"), stem.with_suffix(".json")

    def get(self, key: str) -> np.ndarray | None:
        """The cached states (float32 ``[N, L, D]``), or None on a miss or a damaged entry."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        tensors, manifest = self._paths(key)
        try:
            info = json.loads(manifest.read_text(encoding="utf-8"))
            states = load_file(str(tensors))["states"]
        except (OSError, ValueError, KeyError, SafetensorError):  # missing, unreadable, truncated or foreign
            return None
        if info.get("key") != key or list(states.shape) != info.get("shape") or states.dtype != np.float32:
            return None
        return states

    def put(self, key: str, states: np.ndarray, info: dict | None = None) -> None:
        from safetensors.numpy import save_file

        tensors, manifest = self._paths(key)
        with atomic_path(tensors) as tmp:
            save_file({"states": np.ascontiguousarray(states, dtype=np.float32)}, str(tmp))
        write_json(manifest, dict(info or {}, key=key, shape=list(states.shape), format=FORMAT))
