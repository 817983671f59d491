"""An on-disk cache of hidden states: one safetensors file plus a JSON manifest per entry.

An entry's key is a hash of everything that determines the states: the model's identity (weights
file hashes or hub commit, config, tokenizer files), the prompt template, the token rule, the
dtype, and the exact texts in order. Any change to one of them is a different key, so the cache
never serves stale states. Entries are written atomically (states first, manifest last) and an
entry counts only when its manifest matches its key and its array has the recorded shape.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from xlc.io import atomic_path, cache_root, sha256_json, write_json

FORMAT = 2  # 2: entries also hold the sum of the pair differences


def default_dir() -> Path:
    return cache_root() / "activations"


class ActivationCache:
    """``get(key)`` / ``put(key, states, info)`` over a folder; ``key(identity, texts)`` makes keys."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_dir()

    @staticmethod
    def key(identity: dict, texts: list[str]) -> str:
        return sha256_json({"format": FORMAT, "identity": identity, "texts": list(texts)})

    def _names(self, key: str) -> tuple[str, str]:
        """The entry's states and manifest files, as plain strings (no pathlib on the read path: it
        runs once per language)."""
        stem = os.path.join(str(self.root), key[:2], key)
        return stem + ".safetensors", stem + ".json"

    def get(self, key: str) -> np.ndarray | None:
        """The cached states (float32, shape ``[N, L, D]``), or None on a miss or a damaged entry."""
        hit = self.get_with_extras(key)
        return None if hit is None else hit[0]

    def get_with_extras(self, key: str) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
        """``(states, extras)``: the states and the other arrays stored with them, or None."""
        return self.read_into(key, lambda shape: np.empty(shape, dtype=np.float32))

    def read_into(self, key: str, destination, order: np.ndarray | None = None
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
        """Read entry ``key``'s states straight into memory the caller chooses, in the order it wants.

        ``destination(shape)`` returns a C-contiguous float32 array of that shape (the entry's), or None to
        decline the entry; row ``i`` of the file lands in row ``order[i]`` (None: row ``i``), by scattering
        reads, one system call per 1,024 rows: one copy from the page cache, the reordering for free.
        Returns ``(states, extras)``, or None on a miss or a damaged or truncated entry.
        """
        tensors, manifest = self._names(key)
        try:
            with open(manifest, encoding="utf-8") as mf:
                info = json.load(mf)
            fh = open(tensors, "rb", buffering=0)
        except (OSError, ValueError):  # no entry, or an unreadable manifest
            return None
        with fh:
            try:
                specs, base = _header(fh, os.fstat(fh.fileno()).st_size)
            except (OSError, _Damaged):
                return None
            spec = specs.pop("states", None)
            if (info.get("key") != key or spec is None or spec["dtype"] != "F32" or not spec["shape"]
                    or spec["shape"] != info.get("shape")):
                return None
            out = destination(tuple(spec["shape"]))
            if out is None:  # the caller declines an entry of this shape: a miss
                return None
            if out.dtype != np.float32 or not out.flags.c_contiguous or list(out.shape) != spec["shape"]:
                raise ValueError(f"destination: need a C-contiguous float32 array of shape {spec['shape']}")
            order = np.arange(len(out)) if order is None else np.asarray(order)
            if sorted(order.tolist()) != list(range(len(out))):
                raise ValueError(f"order: need a permutation of the {len(out)} rows")
            try:
                if not _read_rows(fh, base + spec["data_offsets"][0], out, order):
                    return None  # truncated
                extras = {}
                for name, sp in specs.items():
                    b, e = sp["data_offsets"]
                    fh.seek(base + b)
                    raw = fh.read(e - b)
                    extras[name] = np.frombuffer(raw, dtype=_DTYPES[sp["dtype"]]).reshape(sp["shape"]).copy()
            except (OSError, ValueError):
                return None
        return out, extras

    def put(self, key: str, states: np.ndarray, info: dict | None = None,
            extras: dict[str, np.ndarray] | None = None) -> None:
        from safetensors.numpy import save_file

        tensors, manifest = self._names(key)
        arrays = {"states": np.ascontiguousarray(states, dtype=np.float32)}
        arrays.update({k: np.ascontiguousarray(v) for k, v in (extras or {}).items()})
        with atomic_path(tensors) as tmp:
            save_file(arrays, str(tmp))
        write_json(manifest, dict(info or {}, key=key, shape=list(states.shape), format=FORMAT))


_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32}


class _Damaged(Exception):
    pass


def _read_rows(fh, start: int, out: np.ndarray, order: np.ndarray) -> bool:
    """Rows of the file from byte ``start`` into ``out``, file row i into ``out[order[i]]``. Where the
    system has scattering reads (Linux, BSD), one call per 1,024 rows lands each row in place; elsewhere
    one read and one reordering copy. False when the file is shorter than it should be."""
    row_bytes = out[0].nbytes
    if hasattr(os, "preadv"):
        flat = memoryview(out.reshape(-1).view(np.uint8))
        views = [flat[i * row_bytes:(i + 1) * row_bytes] for i in order.tolist()]
        for first in range(0, len(views), 1024):
            chunk = views[first:first + 1024]
            if os.preadv(fh.fileno(), chunk, start + first * row_bytes) != len(chunk) * row_bytes:
                return False
        return True
    raw = np.empty_like(out)
    fh.seek(start)
    if fh.readinto(memoryview(raw.reshape(-1).view(np.uint8))) != raw.nbytes:
        return False
    out[order] = raw
    return True


def _header(fh, size: int) -> tuple[dict, int]:
    """The tensors of a safetensors file (``{name: {dtype, shape, data_offsets}}``) and where its data
    starts. The format: an 8-byte little-endian header length, a JSON header, then the data. Raises
    _Damaged on anything that does not add up."""
    try:
        if size < 8:
            raise _Damaged("too short for a safetensors file")
        fh.seek(0)
        head = fh.read(min(size, 1 << 14))  # the header is small: usually one read
        n = int.from_bytes(head[:8], "little")
        if n > size - 8:
            raise _Damaged("header longer than the file")
        if 8 + n > len(head):
            head += fh.read(8 + n - len(head))
        header = json.loads(head[8:8 + n])
        header.pop("__metadata__", None)
        for name, spec in header.items():
            begin, end = spec["data_offsets"]
            itemsize = _DTYPES[spec["dtype"]]().itemsize
            if not 0 <= begin <= end <= size - 8 - n or end - begin != math.prod(spec["shape"]) * itemsize:
                raise _Damaged(f"tensor {name!r} does not fit the file")
    except (ValueError, KeyError, TypeError, AttributeError) as e:  # JSON errors are ValueErrors
        raise _Damaged(str(e)) from None
    return header, 8 + n
