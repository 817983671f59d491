"""An independent, deliberately plain implementation of the method, for parity tests.

One sentence at a time, no padding, Python loops everywhere: read the JSON files, build the texts as the
paper does, take the last token's hidden state at every layer; a concept vector is mean(positive) -
mean(negative) over the training pairs; a test pair is recognised when its positive projects higher than
its negative. Under cross-validation (``{"folds": [...]}``) each item is tested by vectors fitted on the
other folds, and the selected layer of a fold is the one with the best inner cross-validated accuracy over
the other folds; under the paper's split (``{"train", "test"}``) the test pairs are scored once. Shares no
code with xlc.
"""

import json
import math
from pathlib import Path

import torch


def texts(concept, item):
    def build(answer):
        if concept == "deontology":
            return item["scenario"] + " " + answer
        if concept == "truthfulness":
            return "Question: " + item["question"] + " " + "Answer: " + answer
        return answer
    return build(item["pos"]), build(item["neg"])


def last_token_states(model, tokenizer, text):
    with torch.no_grad():
        enc = tokenizer(text, return_tensors="pt")
        hidden = model(**enc, output_hidden_states=True).hidden_states
    return [h[0, -1].double().tolist() for h in hidden[1:]]


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def mean_difference(states, keys, layer):
    keys = list(keys)
    dim = len(states[keys[0]][0][layer])
    return [sum(states[k][0][layer][d] - states[k][1][layer][d] for k in keys) / len(keys) for d in range(dim)]


def recognised(states, key, vector, layer):
    return dot(states[key][0][layer], vector) > dot(states[key][1][layer], vector)


def reference_results(model, tokenizer, data_root, split, concepts, langs):
    """Returns ({(concept, source, target, layer): accuracy}, {(concept, source, target, layer): cosine},
    {(concept, source, target): selected accuracy} (cross-validation only))."""
    accuracy, cosine, selected = {}, {}, {}
    for concept in concepts:
        pairs = {}
        for lang in langs:
            raw = json.loads((Path(data_root) / concept / f"{concept}_{lang}.json").read_text(encoding="utf-8"))
            pairs[lang] = {f"{g}|{i}": texts(concept, it) for g, items in raw.items() for i, it in items.items()
                           if it["pos"] != it["neg"]}
        states = {lang: {k: (last_token_states(model, tokenizer, p), last_token_states(model, tokenizer, n))
                         for k, (p, n) in pairs[lang].items()} for lang in langs}
        layers = len(next(iter(states[langs[0]].values()))[0])
        spec = split[concept]
        folds = spec["folds"] if "folds" in spec else [spec["test"]]
        train_of = [[k for f in spec["folds"] if f is not fold for k in f] for fold in folds] if "folds" in spec \
            else [spec["train"]]
        for s in langs:
            for t in langs:
                hits = [[0] * layers for _ in folds]
                n = 0
                for f, fold in enumerate(folds):
                    train = [k for k in train_of[f] if k in states[s]]
                    for layer in range(layers):
                        v = mean_difference(states[s], train, layer)
                        hits[f][layer] += sum(recognised(states[t], k, v, layer) for k in fold if k in states[t])
                    n += sum(k in states[t] for k in fold)
                for layer in range(layers):
                    accuracy[(concept, s, t, layer + 1)] = sum(h[layer] for h in hits) / n
                if "folds" in spec:  # the layer of each fold from an inner cross-validation over the others
                    total = 0
                    for f in range(len(folds)):
                        inner = [0] * layers
                        for g, other in enumerate(folds):
                            if g == f:
                                continue
                            train = [k for h, x in enumerate(folds) if h not in (f, g) for k in x if k in states[s]]
                            for layer in range(layers):
                                v = mean_difference(states[s], train, layer)
                                inner[layer] += sum(recognised(states[t], k, v, layer) for k in other if k in states[t])
                        best = max(range(layers), key=lambda l: (inner[l], -l))
                        total += hits[f][best]
                    selected[(concept, s, t)] = total / n
        fit = [k for f in spec["folds"] for k in f] if "folds" in spec else spec["train"]
        for s in langs:
            for t in langs:
                for layer in range(layers):
                    u = mean_difference(states[s], [k for k in fit if k in states[s]], layer)
                    w = mean_difference(states[t], [k for k in fit if k in states[t]], layer)
                    cosine[(concept, s, t, layer + 1)] = dot(u, w) / math.sqrt(dot(u, u) * dot(w, w))
    return accuracy, cosine, selected
