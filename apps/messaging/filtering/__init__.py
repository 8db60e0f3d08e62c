"""Khmer-aware content filter (anti-spam) for client messages.

Entry point: `check_content(body)` → `FilterDecision(action=allow|hold|reject, score, reasons)`. How the filter
scores is described in `engine.py`, how it is kept current across processes in `runtime.py`.

Khmer word segmentation: dictionary maximal matching (`khmer.py`), chosen over khmer-nltk's CRF after measuring
both on the same messages (`benchmarks/content_filter.py`, figures in `benchmarks/RESULTS.md`):

* Cost: the whole filter costs about 50 µs per message with maximal matching and about 280 µs with the CRF,
  which is ~17× slower per Khmer run and needs 0.6 s and ~100 MiB (scikit-learn, SciPy, a 17 MB model) in every
  web and Celery process; the word-list trie loads in 0.1 s and takes 5 MiB.
* Finding the terms: maximal matching has every term in its dictionary, so a term inside unspaced text is read
  as one word (all Khmer terms in the benchmark's spam found). The CRF knows nothing of the terms and segments a
  phrase differently in context than alone, so the filter missed 5 % of them. On ordinary text the two agree on
  most word boundaries (F1 89 %), differing mainly on compounds.
* Control: a term staff add changes the segmentation within seconds; a CRF would need retraining.

khmer-nltk stays a development tool: it builds the word list (`scripts/build_khmer_wordlist.py`) and is the
reference in the benchmark.
"""

from apps.messaging.filtering.engine import ContentFilter, FilterDecision, Reason
from apps.messaging.filtering.runtime import check_content

__all__ = ["ContentFilter", "FilterDecision", "Reason", "check_content"]
