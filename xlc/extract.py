"""Hidden states of the last (or mean) content token at every layer, one forward pass a batch.

Layers are the ``hidden_states`` indices 1..L of a transformers model (0, the embeddings, is not
a layer here; L is after the final norm). The content token is found from the attention mask, so
the state is the same whether the tokenizer pads on the left or the right; for an encoder the last
content token is ``[SEP]``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from xlc.models import apply_template

TOKEN_RULES = ("last", "mean")


def encode(tokenizer, template: str, texts: list[str], add_special_tokens: bool = True) -> dict:
    """The tokenizer's unpadded encoding (``input_ids`` and, for encoders, ``token_type_ids``) of the
    texts with the template applied: exactly what the model reads."""
    return tokenizer([apply_template(template, t) for t in texts], add_special_tokens=add_special_tokens)


def last_token_index(mask):
    """Index of the last content token per row, for either padding side. ``mask``: ``[B, T]``."""
    import torch

    positions = torch.arange(mask.shape[1], device=mask.device)
    return (mask * positions).argmax(1)


@dataclass
class Extractor:
    """Collects ``[N, L, D]`` float32 states for a list of texts.

    Texts are sorted by token length so that each batch pads little; ``position_ids`` are derived
    from the mask when padding is on the left (GPT-2 and other absolute-position models need it).
    """

    model: object
    tokenizer: object
    template: str = "{input}"
    token: str = "last"
    batch_size: int = 32
    padding_side: str | None = None  # None: the tokenizer's own
    add_special_tokens: bool = True
    progress: bool = True
    workers: int | None = None  # None: 2 on a multi-core CPU, else 1

    def __post_init__(self):
        if self.token not in TOKEN_RULES:
            raise ValueError(f"token rule {self.token!r}: use one of {TOKEN_RULES}")
        params = inspect.signature(self.model.forward).parameters
        self._takes_positions = "position_ids" in params
        self._takes_use_cache = "use_cache" in params

    @property
    def device(self):
        return next(self.model.parameters()).device

    def __call__(self, texts: list[str], desc: str = "forward") -> np.ndarray:
        """States of ``texts``: float32 array ``[len(texts), L, D]``, in the order given."""
        import torch

        encoded = encode(self.tokenizer, self.template, texts, self.add_special_tokens)  # once, unpadded
        ids = encoded["input_ids"]
        types = encoded.get("token_type_ids")
        order = np.argsort(-np.array([len(x) for x in ids]), kind="stable")
        side = self.padding_side or self.tokenizer.padding_side
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if not batches:
            raise ValueError("no texts to extract")
        workers = self.workers or (2 if self.device.type == "cpu" and torch.get_num_threads() >= 2 else 1)

        def work(batch):
            with torch.inference_mode():  # thread-local: entered in the worker itself
                return batch, self._forward([ids[i] for i in batch], None if types is None else [types[i] for i in batch],
                                            side)

        out = None
        bar = tqdm(total=len(batches), desc=desc, unit="batch", disable=not self.progress, leave=False)
        threads = torch.get_num_threads()
        try:
            if workers > 1:
                # small models on a few CPU cores: batches side by side, one intra-op thread each, keep
                # the cores busier than one batch at a time split across threads
                from concurrent.futures import ThreadPoolExecutor

                torch.set_num_threads(max(1, threads // workers))
                pool = ThreadPoolExecutor(workers)
                results = pool.map(work, batches)
            else:
                pool, results = None, map(work, batches)
            for batch, states in results:
                if out is None:
                    out = np.empty((len(texts),) + states.shape[1:], dtype=np.float32)
                out[batch] = states
                bar.update(1)
        finally:
            bar.close()
            if workers > 1:
                pool.shutdown(cancel_futures=True)
                torch.set_num_threads(threads)
        return out

    def _pad(self, rows: list[list[int]], side: str, value: int):
        import torch

        width = max(len(r) for r in rows)
        out = torch.full((len(rows), width), value, dtype=torch.long)
        for j, r in enumerate(rows):
            if side == "left":
                out[j, width - len(r):] = torch.tensor(r)
            else:
                out[j, :len(r)] = torch.tensor(r)
        return out

    def _forward(self, ids: list[list[int]], types: list[list[int]] | None, side: str) -> np.ndarray:
        import torch

        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        enc = {"input_ids": self._pad(ids, side, pad_id),
               "attention_mask": self._pad([[1] * len(r) for r in ids], side, 0)}
        if types is not None:
            enc["token_type_ids"] = self._pad(types, side, 0)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        mask = enc["attention_mask"]
        kwargs = {"output_hidden_states": True}
        if self._takes_use_cache:
            kwargs["use_cache"] = False
        if side == "left" and self._takes_positions:
            kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
        hidden = self.model(**enc, **kwargs).hidden_states[1:]
        if self.token == "last":
            rows_idx = torch.arange(mask.shape[0], device=mask.device)
            idx = last_token_index(mask)
            states = torch.stack([h[rows_idx, idx].float() for h in hidden], 1)
        else:
            weights = (mask / mask.sum(1, keepdim=True)).float().unsqueeze(-1)
            states = torch.stack([(h.float() * weights).sum(1) for h in hidden], 1)
        return states.cpu().numpy()
