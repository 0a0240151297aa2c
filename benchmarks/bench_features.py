"""CPU per article of what a worker process does after extraction (issue #13).

The corpus pages (/work/shared/corpus/pages/scrapinghub-aeb/html, gzipped HTML) are extracted
once as the pipeline does (``pipeline.page_article``); then, in this one process, with the
garbage collector's view frozen as a worker's is (``workers._init``), per article:
``changes.copies.shingles``, ``changes.stories.article_terms`` and ``Scorer.score`` (the
scorer of the seeds, pickled and read back as a worker receives it), and the pickling of a
worker's result (``ProcessedEntry`` with its ``ArticleFeatures``) and its reading in the
polling process. The first pass meets every word for the first time (a fresh worker's caches:
stems, word frequencies, folded words); the later passes are the steady state. CPU time of
this process (``time.process_time``); per pass, the best of ``--repeat`` warm passes is printed
beside the mean (other load on a shared machine only ever adds time).

    python benchmarks/bench_features.py [--pages DIR] [--seeds seeds] [--repeat 8]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import pickle
import time
from collections.abc import Callable
from pathlib import Path

from monitor.changes.copies import shingles
from monitor.changes.stories import article_terms
from monitor.config import load_seeds
from monitor.fetch import FetchResult
from monitor.models import Article, Document, Entry
from monitor.pipeline import ArticleFeatures, ProcessedEntry, page_article
from monitor.score import build_scorer

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT.parent / "shared" / "corpus" / "pages" / "scrapinghub-aeb" / "html"
if not PAGES.is_dir():
    PAGES = Path("/work/shared/corpus/pages/scrapinghub-aeb/html")


def articles(pages: Path) -> list[Article]:
    out = []
    for i, path in enumerate(sorted(pages.glob("*.html.gz"))):
        link = f"http://127.0.0.1/{i}.html"
        entry = Entry(str(i), "http://127.0.0.1/feed.xml", "", link, None, summary="", content="")
        page = FetchResult(
            url=link,
            final_url=link,
            status=200,
            content=gzip.decompress(path.read_bytes()),
            headers={"content-type": "text/html; charset=utf-8"},
        )
        out.append(page_article(entry, page, None))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pages", type=Path, default=PAGES)
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--repeat", type=int, default=8)
    args = ap.parse_args()
    arts = articles(args.pages)
    scorer = pickle.loads(pickle.dumps(build_scorer(load_seeds(args.seeds))))
    docs = [Document(id=a.entry.id, title=a.title, text=a.text, language=a.language) for a in arts]
    c0 = time.process_time()  # the first pass: each word met for the first time, as in a fresh worker
    done = [
        ProcessedEntry(a, scorer.score(d), True, ArticleFeatures(article_terms(a.title, a.text), shingles(a.text)))
        for a, d in zip(arts, docs, strict=True)
    ]
    first = (time.process_time() - c0) / len(arts) * 1000
    blobs = [pickle.dumps(p) for p in done]
    gc.freeze()  # as workers._init does
    steps: dict[str, Callable[[int], object]] = {
        "shingles": lambda i: shingles(arts[i].text),
        "article_terms": lambda i: article_terms(arts[i].title, arts[i].text),
        "score": lambda i: scorer.score(docs[i]),
        "result pickled (worker)": lambda i: pickle.dumps(done[i]),
        "result read (polling process)": lambda i: pickle.loads(blobs[i]),
    }
    n = len(arts)
    print(f"{n} articles, {sum(len(a.text) for a in arts) // n} characters of text on average")
    for name, step in steps.items():
        passes = []
        for _ in range(args.repeat):
            c0 = time.process_time()
            for i in range(n):
                step(i)
            passes.append((time.process_time() - c0) / n * 1000)
        mean = sum(passes) / len(passes)
        print(f"{name:30s} ms/article: mean {mean:.3f}, best pass {min(passes):.3f}")
    print(f"first pass (shingles + article_terms + score, every word new): {first:.3f} ms/article")
    print(f"result size: {sum(map(len, blobs)) / n / 1000:.1f} kB/article")


if __name__ == "__main__":
    main()
