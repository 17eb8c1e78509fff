"""A domain trigram (NLTK, interpolated Witten-Bell) mixed with PocketSphinx's generic US-English model, as ARPA.

The mixture is P(w|h) = LAMBDA * P_domain(w|h) + (1 - LAMBDA) * P_generic(w|h), written out as one back-off
model the way SRILM's `-mix-lm` does: every n-gram of the domain model and every unigram of the vocabulary get
their mixed probability, and each context's back-off weight is recomputed so that its row sums to one.
"""
import math
from collections import defaultdict
from pathlib import Path

from nltk.lm import WittenBellInterpolated
from nltk.util import everygrams

BOS, EOS = "<s>", "</s>"
ORDER = 3
LOG10_FLOOR = -99.0


def padded(sentence):
    return [BOS] + sentence.split() + [EOS]


def domain_model(sentences, order=ORDER):
    """Interpolated Witten-Bell n-gram model of the sentences (NLTK; Kneser-Ney's NLTK version is quadratic)."""
    model = WittenBellInterpolated(order)
    texts = [padded(sentence) for sentence in sentences]
    model.fit([list(everygrams(text, max_len=order)) for text in texts], [w for text in texts for w in text])
    return model


class GenericModel:
    """PocketSphinx's own generic US-English trigram (`en-us.lm.bin` in its wheel), queried through its API."""

    def __init__(self, path):
        import pocketsphinx

        self._lm = pocketsphinx.NGramModel.readfile(str(path))
        self._scale = math.log(1.0001)    # NGramModel scores are logs in base 1.0001 (sphinxbase's default LogMath)

    def prob(self, word, context=()):
        """P(word | context) with the model's own back-off; 0 for a word it does not know."""
        # sphinxbase takes the word first, then its history from the nearest word back
        score = self._lm.prob([word, *reversed(context)])
        return 0.0 if score <= -536870912 else math.exp(score * self._scale)


def top_words(generic, candidates, count):
    """The `count` most probable words of the generic model among the candidates (ties by spelling)."""
    scored = sorted(((generic.prob(word), word) for word in candidates), key=lambda pair: (-pair[0], pair[1]))
    return [word for p, word in scored[:count] if p > 0]


def mix(domain, generic, vocabulary, weight):
    """{n-gram tuple: [log10 prob, log10 back-off]} for the mixed model over `vocabulary` (without <s>)."""
    vocabulary = sorted(set(vocabulary) - {BOS} | {EOS})
    domain_unigrams = {w: domain.score(w) for w in vocabulary}
    d_total = sum(domain_unigrams.values()) or 1.0
    g_unigrams = {w: generic.prob(w) for w in vocabulary}
    g_total = sum(g_unigrams.values()) or 1.0
    probs = {(w,): weight * domain_unigrams[w] / d_total + (1 - weight) * g_unigrams[w] / g_total for w in vocabulary}
    known = set(vocabulary) | {BOS}
    for order in range(2, domain.order + 1):
        for gram in sorted(_ngrams(domain, order)):
            if all(w in known for w in gram):
                *context, word = gram
                probs[gram] = (weight * domain.score(word, context)
                               + (1 - weight) * generic.prob(word, tuple(context)))
    return _with_backoffs(probs)


def _ngrams(domain, order):
    for context, counts in domain.counts[order].items():
        for word in counts:
            yield (*context, word)


def _with_backoffs(probs):
    """Back-off weight of each context: the mass its unseen continuations get, over what the shorter context
    gives those same continuations."""
    followers = defaultdict(list)
    for gram in probs:
        if len(gram) > 1:
            followers[gram[:-1]].append(gram)
    table = {gram: [p, 0.0] for gram, p in probs.items()}
    table[(BOS,)] = [0.0, 0.0]
    for context in sorted(followers, key=len):
        seen = followers[context]
        left = 1.0 - sum(probs[g] for g in seen)
        lower = 1.0 - sum(_backed_off(table, g[1:]) for g in seen)
        table.setdefault(context, [0.0, 0.0])[1] = max(left, 1e-9) / max(lower, 1e-9)
    return table


def _backed_off(table, gram):
    """P(gram) from the back-off model as built so far (orders are finished shortest first)."""
    if gram in table:
        return table[gram][0]
    backoff = table.get(gram[:-1], (0.0, 1.0))[1] if len(gram) > 1 else 1.0
    return backoff * _backed_off(table, gram[1:]) if len(gram) > 1 else 0.0


def write_arpa(table, path):
    """Write the table as an ARPA file (sorted, so a rebuild from the same data gives the same bytes)."""
    by_order = defaultdict(list)
    for gram in table:
        by_order[len(gram)].append(gram)
    top = max(by_order)
    with open(Path(path), "w", encoding="utf-8") as out:
        out.write("\\data\\\n" + "".join(f"ngram {n}={len(by_order[n])}\n" for n in sorted(by_order)))
        for n in sorted(by_order):
            out.write(f"\n\\{n}-grams:\n")
            for gram in sorted(by_order[n]):
                p, backoff = table[gram]
                logp = LOG10_FLOOR if gram == (BOS,) else math.log10(max(p, 1e-99))
                tail = f"\t{math.log10(backoff):.6f}" if n < top and backoff else ""
                out.write(f"{logp:.6f}\t{' '.join(gram)}{tail}\n")
        out.write("\n\\end\\\n")
    return {f"{n}-grams": len(by_order[n]) for n in sorted(by_order)}
