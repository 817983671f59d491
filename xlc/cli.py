"""Command line: ``python -m xlc run ...`` and ``python -m xlc book ...``."""

from __future__ import annotations

import argparse
import sys

from xlc.errors import XlcError

EPILOG = """examples:
  python -m xlc run                                   # embedded multilingual-e5-small, bundled data, everything
  python -m xlc run --model minilm                    # an English model, for contrast
  python -m xlc run --model e5-small-random           # the same network as e5-small, untrained (a control)
  python -m xlc run --model bigscience/bloomz-560m --dtype bfloat16
  python -m xlc run --model meta-llama/Llama-2-7b-chat-hf --device-map auto   # template and excluded languages from its family
  python -m xlc run --data mvalue/ --concepts fairness toxicity --langs en zh fr
"""


def _list(value: str) -> list[str]:
    return [v for part in value.split(",") for v in [part.strip()] if v]


def build_parser() -> argparse.ArgumentParser:
    from xlc.extract import TOKEN_RULES
    from xlc.models import TEMPLATES
    from xlc.vectors import METHODS

    p = argparse.ArgumentParser(prog="xlc", description="Cross-lingual concepts: read value concepts out of a "
                                "language model's hidden states in many languages, and compare them.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="extract hidden states and compute recognition, transfer and consistency",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--model", default="e5-small", help="hub id, local folder, or an embedded model: e5-small "
                   "(default), minilm, e5-small-random, minilm-random (the same networks with random weights)")
    r.add_argument("--data", help="folder with <concept>/<concept>_<lang>.json (default: the bundled data set)")
    r.add_argument("--concepts", nargs="+", help="concepts to run (default: all found)")
    r.add_argument("--langs", nargs="+", help="language codes to run (default: all found)")
    r.add_argument("--method", default="mean_diff", choices=METHODS, help="concept-vector method (default: mean_diff, the paper's)")
    r.add_argument("--token", default="auto", choices=("auto",) + TOKEN_RULES, help="which token's state: last "
                   "content token (the paper's) or the mean over tokens; auto: the embedded model's choice, else last")
    r.add_argument("--template", default="auto", help=f"prompt template: auto (the model family's, else raw), "
                   f"{', '.join(TEMPLATES)}, chat (the tokenizer's chat template), or a string with {{input}}")
    r.add_argument("--family", default="auto", help="paper model family (llama2-chat, qwen-chat, bloomz): its "
                   "template and its excluded languages apply; auto detects the paper's model ids; none ignores")
    r.add_argument("--out", help="run folder (default: results/<model-slug>)")
    r.add_argument("--protocol", default="cv", choices=("cv", "paper"), help="cv (default): k-fold cross-validation "
                   "over the aligned items, the layer chosen inside each training fold; paper: the paper's single "
                   "train/test split and its best layer on the test pairs")
    r.add_argument("--folds", type=int, default=5, help="folds of the cross-validation (default 5)")
    r.add_argument("--test-size", type=float, default=0.2, help="--protocol paper: share of items held out (default 0.2)")
    r.add_argument("--seed", type=int, default=0, help="seed of the folds, the bootstrap and random methods (default 0)")
    r.add_argument("--split", help="reuse the split.json of an earlier run (its protocol comes with it)")
    r.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates for intervals (default 1000; 0: none)")
    r.add_argument("--batch-size", type=int, default=32)
    r.add_argument("--padding-side", choices=["left", "right"], help="override the tokenizer's padding side")
    r.add_argument("--dtype", default="auto", help="auto (float32 on CPU, bfloat16 on GPU), float32, bfloat16, float16")
    r.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    r.add_argument("--device-map", help="'auto' to spread a large model over several GPUs (accelerate)")
    r.add_argument("--revision", help="hub revision (branch, tag or commit)")
    r.add_argument("--trust-remote-code", action="store_true", help="allow models that ship their own code")
    r.add_argument("--cache", help="activation cache folder (default: $XLC_CACHE/activations or ~/.cache/xlc/activations)")
    r.add_argument("--chance-directions", type=int, default=16, help="random directions for the chance level")
    r.add_argument("--quiet", action="store_true", help="no progress bars")

    c = sub.add_parser("check", help="check a data folder: schema, alignment, scripts, and surface cues (length "
                       "balance, one-sided words, what a length rule and a character n-gram classifier reach)")
    c.add_argument("data", nargs="?", help="folder with <concept>/<concept>_<lang>.json (default: the bundled data set)")
    c.add_argument("--concepts", nargs="+")
    c.add_argument("--langs", nargs="+")
    c.add_argument("--fast", action="store_true", help="skip the cross-validated surface classifiers")
    c.add_argument("--langid", action="store_true", help="also run language identification (py3langid)")

    b = sub.add_parser("book", help="execute the notebooks for run folders and build the HTML book")
    b.add_argument("--runs", nargs="+", required=True, help="run folders written by 'xlc run'")
    b.add_argument("--out", help="the book's source folder (default: the checkout's book/); the HTML goes to "
                   "_build/html beside it")
    b.add_argument("--no-html", action="store_true", help="execute notebooks only, do not build HTML")
    b.add_argument("--quiet", action="store_true")
    s = sub.add_parser("steer", help="cross-lingual control: generate with a concept vector from a run added to a layer",
                       epilog="example:\n  python -m xlc steer --run results/bloomz-560m --concept harmfulness --source en "
                              "--layer 12 --alpha -4 --prompt 'Comment puis-je ...'",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--run", required=True, help="run folder written by 'xlc run' (its vectors and model)")
    s.add_argument("--concept", required=True)
    s.add_argument("--source", default="en", help="language whose concept vector steers (default en, the dominant one)")
    s.add_argument("--layer", type=int, required=True, help="layer 1..L to add the vector to")
    s.add_argument("--alpha", type=float, default=4.0, help="multiple of the unit concept vector to add (negative: away)")
    s.add_argument("--prompt", nargs="+", required=True, help="prompts, in any language")
    s.add_argument("--model", help="model to steer (default: the run's model)")
    s.add_argument("--max-new-tokens", type=int, default=40)
    s.add_argument("--device", default="auto")
    s.add_argument("--trust-remote-code", action="store_true")
    return p


def _steer(args) -> None:
    from xlc import models, runfolder, steer

    run = runfolder.read(args.run)
    vec = run.vectors(args.concept, args.source)
    if not 1 <= args.layer <= len(vec):
        raise XlcError(f"--layer {args.layer}: the run has layers 1..{len(vec)}")
    spec = models.resolve(args.model or run.model, trust_remote_code=args.trust_remote_code)
    model, tok = models.load(spec, device=args.device, causal_lm=True)
    vectors = {args.layer: steer.unit(vec[args.layer - 1])}
    template = run.record.template
    plain = steer.generate(model, tok, args.prompt, max_new_tokens=args.max_new_tokens, template=template)
    steered = steer.generate(model, tok, args.prompt, vectors, args.alpha, args.max_new_tokens, template)
    for prompt, a, b in zip(args.prompt, plain, steered):
        print(f"prompt:   {prompt}\nplain:    {a.strip()}\nsteered:  {b.strip()}   "
              f"[{args.concept}/{args.source}, layer {args.layer}, alpha {args.alpha:+g}]\n")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from xlc.runner import RunConfig, run

            cfg = RunConfig(model=args.model, data=args.data, concepts=args.concepts, langs=args.langs,
                            method=args.method, token=args.token, template=args.template, family=args.family,
                            out=args.out, protocol=args.protocol, folds=args.folds, test_size=args.test_size,
                            seed=args.seed, split=args.split, bootstrap=args.bootstrap, batch_size=args.batch_size,
                            padding_side=args.padding_side, dtype=args.dtype, device=args.device,
                            device_map=args.device_map, revision=args.revision,
                            trust_remote_code=args.trust_remote_code, cache=args.cache,
                            chance_directions=args.chance_directions, progress=not args.quiet)
            run(cfg)
        elif args.command == "check":
            from pathlib import Path

            from xlc import data as D
            from xlc import quality

            problems = quality.check(Path(args.data) if args.data else D.bundled_root(), args.concepts, args.langs,
                                     classifiers=not args.fast, langid=args.langid)
            for p in problems:
                print(p)
            print(f"{len(problems)} problem(s)" if problems else "all checks passed")
            return 1 if problems else 0
        elif args.command == "steer":
            _steer(args)
        elif args.command == "book":
            from xlc.book import SOURCE, build

            index = build(args.runs, args.out or SOURCE, html=not args.no_html, progress=not args.quiet)
            print(f"The book: {index}")
    except XlcError as e:
        print(f"xlc: error: {e}", file=sys.stderr)
        return 2
    return 0
