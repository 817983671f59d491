"""An independent, deliberately plain implementation of the paper's method, for parity tests.

One sentence at a time, no padding, Python loops everywhere: read the JSON files, build the texts
as the paper does, take the last token's hidden state at every layer, concept vector =
mean(positive) - mean(negative) of the training pairs, a test pair is recognised when its positive
projects higher than its negative. Shares no code with xlc.
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


def reference_results(model, tokenizer, data_root, split, concepts, langs):
    """Returns ({(concept, source, target, layer): accuracy}, {(concept, source, target, layer): cosine})."""
    accuracy, cosine = {}, {}
    for concept in concepts:
        pairs = {}
        for lang in langs:
            raw = json.loads((Path(data_root) / concept / f"{concept}_{lang}.json").read_text(encoding="utf-8"))
            pairs[lang] = {}
            for group, items in raw.items():
                for ident, item in items.items():
                    if item["pos"] != item["neg"]:
                        pairs[lang][f"{group}|{ident}"] = texts(concept, item)
        states = {lang: {k: (last_token_states(model, tokenizer, p), last_token_states(model, tokenizer, n))
                         for k, (p, n) in pairs[lang].items()} for lang in langs}
        vectors = {}
        for lang in langs:
            train = [k for k in split[concept]["train"] if k in states[lang]]
            layers = len(next(iter(states[lang].values()))[0])
            vec = []
            for layer in range(layers):
                dim = len(states[lang][train[0]][0][layer])
                mp = [sum(states[lang][k][0][layer][d] for k in train) / len(train) for d in range(dim)]
                mn = [sum(states[lang][k][1][layer][d] for k in train) / len(train) for d in range(dim)]
                vec.append([a - b for a, b in zip(mp, mn)])
            vectors[lang] = vec
        for s in langs:
            for t in langs:
                test = [k for k in split[concept]["test"] if k in states[t]]
                for layer in range(len(vectors[s])):
                    v = vectors[s][layer]
                    hits = sum(dot(states[t][k][0][layer], v) > dot(states[t][k][1][layer], v) for k in test)
                    accuracy[(concept, s, t, layer + 1)] = hits / len(test)
                    u, w = vectors[s][layer], vectors[t][layer]
                    cosine[(concept, s, t, layer + 1)] = dot(u, w) / math.sqrt(dot(u, u) * dot(w, w))
    return accuracy, cosine
