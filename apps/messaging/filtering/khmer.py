"""Khmer word segmentation by dictionary maximal matching.

Khmer is written without spaces between words, so "lottery" (ឆ្នោត) sits inside "to vote" (បោះឆ្នោត) and a
substring search would flag every election notice as gambling. The text is cut into Khmer character clusters (a
consonant with its subscripts, vowels and signs: a word never ends inside one), then into the sequence of
dictionary words that

1. leaves the fewest clusters unknown,
2. then uses the fewest words (the "maximal matching" of Thai and Khmer segmentation: long words win), and
3. among equally short readings, the one whose words carry the most filter weight, so an ambiguous compound is
   read the way a spammer would mean it.

The dictionary is a word list built from khmer-nltk's resources (see `data/README.md`) plus the filter's own
Khmer terms, so every term is a word the segmenter can find. Consecutive unknown clusters come out as one token.
Why this and not khmer-nltk's CRF at run time: see the package docstring and `benchmarks/README.md`.
"""

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from apps.messaging.filtering.text import normalize

DATA_DIR = Path(__file__).resolve().parent / "data"
WORD_LIST_FILES = ("khmer_words.txt", "khmer_words_sms.txt")
_END = ""  # trie key marking the end of a word (no cluster is empty); its value is the word's filter weight

# A cluster: any character, then what attaches to it: dependent vowels and signs (U+17B4-U+17D3), the repetition
# sign ៗ and ATTHACAN, and COENG with the consonant after it. One regex scan is about twice as fast as a loop.
_CLUSTER = re.compile(r"(?:\u17d2.?|.)(?:\u17d2.?|[\u17b4-\u17d1\u17d3\u17d7\u17dd])*", re.DOTALL)


def khmer_clusters(run: str) -> list[str]:
    """Cut a Khmer run into character clusters; the consonant after a COENG belongs to the cluster before it."""
    return _CLUSTER.findall(run)


class KhmerSegmenter:
    """Maximal-matching segmenter over a trie of words keyed by cluster."""

    def __init__(self, words: Iterable[str], weights: Mapping[str, int] | None = None) -> None:
        """`words` must already be normalised; `weights` gives filter terms their weight for tie-breaking."""
        weights = weights or {}
        self._trie: dict = {}
        self.size = 0
        for word in words:
            clusters = khmer_clusters(word)
            if not clusters:
                continue
            node = self._trie
            for cluster in clusters:
                node = node.setdefault(cluster, {})
            if _END not in node:
                self.size += 1
            node[_END] = max(node.get(_END, 0), weights.get(word, 0))

    def segment(self, run: str) -> list[str]:
        """The words of one Khmer run (no spaces, punctuation or Latin inside)."""
        clusters = khmer_clusters(run)
        count = len(clusters)
        if count <= 1:
            return clusters
        trie = self._trie
        # best[i]: cost of the best reading of clusters[:i] as (unknown clusters, words, -weight), compared as a
        # tuple; start[i]: where its last word starts; known[i]: whether that word is in the dictionary.
        best: list[tuple[int, int, int] | None] = [None] * (count + 1)
        best[0] = (0, 0, 0)
        start = [0] * (count + 1)
        known = [False] * (count + 1)
        for i in range(count):
            unknown, words, negative_weight = best[i]  # type: ignore[misc] - always reached by the unknown step
            candidate = (unknown + 1, words + 1, negative_weight)
            current = best[i + 1]
            if current is None or candidate < current:
                best[i + 1], start[i + 1], known[i + 1] = candidate, i, False
            node = trie
            j = i
            while j < count:
                node = node.get(clusters[j])
                if node is None:
                    break
                j += 1
                weight = node.get(_END)
                if weight is not None:
                    candidate = (unknown, words + 1, negative_weight - weight)
                    current = best[j]
                    if current is None or candidate < current:
                        best[j], start[j], known[j] = candidate, i, True
        tokens: list[str] = []
        end = count
        unknown_run_end = None  # consecutive unknown clusters are merged into one token
        while end > 0:
            begin = start[end]
            if known[end]:
                if unknown_run_end is not None:
                    tokens.append("".join(clusters[end:unknown_run_end]))
                    unknown_run_end = None
                tokens.append("".join(clusters[begin:end]))
            elif unknown_run_end is None:
                unknown_run_end = end
            end = begin
        if unknown_run_end is not None:
            tokens.append("".join(clusters[0:unknown_run_end]))
        tokens.reverse()
        return tokens


@lru_cache(maxsize=1)
def base_khmer_words() -> frozenset[str]:
    """The shipped word lists, normalised (read once per process)."""
    words: set[str] = set()
    for name in WORD_LIST_FILES:
        for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                words.add(normalize(line))
    return frozenset(words)
