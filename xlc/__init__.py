"""xlc: cross-lingual concepts.

Read value concepts (morality, fairness, truthfulness, ...) out of a language model's hidden
states in many languages, and measure how consistent and how transferable they are across
languages, following Xu et al. 2024 ("Exploring Multilingual Concepts of Human Value in Large
Language Models", Findings of EMNLP).

One module, one step of the method:

- ``xlc.data``     the value-pair data sets (MVALUE layout), texts, the shared train/test split
- ``xlc.models``   loading any Hugging Face model or local folder, prompt templates, model families
- ``xlc.extract``  hidden states of the last (or mean) content token at every layer, cached
- ``xlc.vectors``  concept directions: mean difference, PCA, logistic regression, random
- ``xlc.metrics``  recognition, transfer, consistency, and the paper's Tables 7 and 8
- ``xlc.runner``   ``xlc run``: the whole pipeline, writing a run folder
"""

__version__ = "0.1.0"
