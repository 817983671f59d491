"""xlc: cross-lingual concepts.

Read value concepts (morality, fairness, truthfulness, ...) out of a language model's hidden
states in many languages, and measure how consistent and how transferable they are across
languages, following Xu et al. 2024 ("Exploring Multilingual Concepts of Human Value in Large
Language Models", Findings of EMNLP), with cross-validation, layers chosen without peeking,
intervals and baselines.

One module, one step:

- ``xlc.data``       the value-pair data sets (MVALUE layout), texts, folds and the paper's split
- ``xlc.models``     loading any Hugging Face model or local folder, templates, families, embedded models
- ``xlc.extract``    hidden states of the last (or mean) content token at every layer; ``xlc.cache`` keeps them
- ``xlc.vectors``    concept directions: mean difference, PCA, logistic regression, random
- ``xlc.scores``     each item on the vectors of the other folds
- ``xlc.analysis``   one concept, every language: recognition, transfer, consistency, replicates
- ``xlc.stats``      replicates that count each noise once; Tables 7 and 8, Delta, asymmetry with intervals
- ``xlc.surface``    baselines that read the text alone
- ``xlc.runfolder``  the run folder: ``write`` and ``read``
- ``xlc.runner``     ``xlc run``: the whole pipeline
- ``xlc.book``       ``xlc book``: the book from run folders
"""

__version__ = "0.2.0"
