"""Cross-lingual control: steer generation by adding a concept vector to a layer's output.

The paper steers a model with a concept vector taken from a dominant language (e.g. English) while
it answers in another language. ``steer`` is a context manager that adds ``alpha * vector`` to the
output of a decoder block and always removes its hooks; ``generate`` wraps it around
``model.generate``. A run's vectors come from :meth:`xlc.runfolder.Run.vectors`.

Layer numbers are those of the run tables: ``hidden_states`` index l = 1..L is the output of block
l - 1, so steering layer l shifts ``hidden_states[l]`` by ``alpha * vector`` (for l = L the shift
happens before the final norm, which transformers applies to ``hidden_states[L]``).
"""

from __future__ import annotations

import contextlib

import numpy as np

from xlc.errors import XlcError


def decoder_blocks(model):
    """The list of transformer blocks of Llama/Qwen2/Mistral (``model.layers``), GPT-2 and BLOOM
    (``transformer.h``), GPT-NeoX (``layers``) and BERT (``encoder.layer``) style models."""
    for path in ("model.layers", "layers", "transformer.h", "h", "gpt_neox.layers", "model.decoder.layers",
                 "encoder.layer", "bert.encoder.layer"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if hasattr(obj, "__len__") and len(obj) > 0:
            return obj
    raise XlcError(f"{type(model).__name__}: cannot find its transformer blocks to steer")


@contextlib.contextmanager
def steer(model, vectors: dict[int, np.ndarray], alpha: float = 1.0):
    """Add ``alpha * vectors[l]`` to the output of block l - 1 (``hidden_states[l]``) for each layer l.

    Hooks are registered with ``prepend=True`` so that they run before the hooks transformers uses
    to record ``output_hidden_states``, and they are removed on exit whatever happens.
    """
    import torch

    blocks = decoder_blocks(model)
    handles = []
    try:
        for layer, vec in vectors.items():
            if not 1 <= layer <= len(blocks):
                raise XlcError(f"steering layer {layer}: the model has layers 1..{len(blocks)}")
            block = blocks[layer - 1]
            param = next(block.parameters())
            delta = torch.as_tensor(np.asarray(vec), dtype=param.dtype, device=param.device) * alpha

            def hook(module, args, output, delta=delta):
                if isinstance(output, tuple):  # BLOOM, older models: (hidden, ...)
                    return (output[0] + delta,) + tuple(output[1:])
                return output + delta  # Llama, Qwen2, GPT-2 in transformers 5: a tensor

            handles.append(block.register_forward_hook(hook, prepend=True))
        yield model
    finally:
        for h in handles:
            h.remove()


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def generate(model, tokenizer, prompts: list[str], vectors: dict[int, np.ndarray] | None = None, alpha: float = 0.0,
             max_new_tokens: int = 40, template: str = "{input}") -> list[str]:
    """Greedy continuations of ``prompts``, steered by ``alpha * vectors`` (unsteered when alpha is 0)."""
    import torch

    from xlc.models import apply_template

    texts = [apply_template(template, p) for p in prompts]
    old = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues from the last position
    try:
        enc = tokenizer(texts, return_tensors="pt", padding=True).to(next(model.parameters()).device)
    finally:
        tokenizer.padding_side = old
    ctx = steer(model, vectors, alpha) if vectors and alpha else contextlib.nullcontext()
    with ctx, torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
