"""CPU per article of what a worker process does after extraction (issue #13).

The corpus pages (/work/shared/corpus/pages/scrapinghub-aeb/html, gzipped HTML) are extracted
once as the pipeline does (``analysis.page_article``); then, in this one process, with the
garbage collector's view frozen as a worker's is (``workers._init``), per article:
``changes.copies.shingles``, ``changes.stories.article_terms`` and ``Scorer.score`` (the
scorer of the seeds, pickled and read back as a worker receives it), and the pickling of a
worker's result (``ProcessedEntry`` with its ``ArticleFeatures``) and its reading in the
polling process. The first pass meets every word for the first time (a fresh worker's caches:
stems, word frequencies, folded words); the later passes are the steady state. CPU time of
this process (``time.process_time``); per pass, the best of ``--repeat`` warm passes is printed
beside the mean (other load on a shared machine only ever adds time).

``--pool``: also the worker side of a poll as bench_pipeline counts it: a ``WorkerPool`` of 2
fresh workers analyses every page 3 times (fed by 4 threads), then the pool and its fork server
are stopped and reaped; the CPU of the workers and the fork server (RUSAGE_CHILDREN: their
start included) and of this process meanwhile, per article.

    python benchmarks/bench_features.py [--pages DIR] [--seeds seeds] [--repeat 8] [--pool]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import pickle
import resource
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from monitor.analysis import ArticleFeatures, ProcessedEntry, page_article
from monitor.changes.copies import shingles
from monitor.changes.stories import article_terms
from monitor.config import load_seeds
from monitor.models import Article, Document, Entry, FetchResult
from monitor.score import Scorer, build_scorer

ROOT = Path(__file__).resolve().parent.parent
COPIES = 3  # --pool: each page this many times, as bench_pipeline polls it
PAGES = ROOT.parent / "shared" / "corpus" / "pages" / "scrapinghub-aeb" / "html"
if not PAGES.is_dir():
    PAGES = Path("/work/shared/corpus/pages/scrapinghub-aeb/html")


def fetched(pages: Path, copies: int = 1) -> list[tuple[Entry, FetchResult]]:
    bodies = [gzip.decompress(path.read_bytes()) for path in sorted(pages.glob("*.html.gz"))]
    out = []
    for copy in range(copies):
        for i, body in enumerate(bodies):
            link = f"http://127.0.0.1/{copy}/{i}.html"
            entry = Entry(f"{copy}-{i}", "http://127.0.0.1/feed.xml", "", link, None, summary="", content="")
            headers = {"content-type": "text/html; charset=utf-8"}
            out.append((entry, FetchResult(url=link, final_url=link, status=200, content=body, headers=headers)))
    return out


def articles(pages: Path) -> list[Article]:
    return [page_article(entry, page, None) for entry, page in fetched(pages)]


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def pool_pass(pages: Path, scorer: Scorer) -> None:
    from multiprocessing import forkserver

    from monitor.workers import WorkerPool

    items = fetched(pages, COPIES)
    kids, own = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    pool = WorkerPool(scorer, 2)
    with ThreadPoolExecutor(4) as feeders:
        done = list(feeders.map(lambda item: pool.analyse(item[0], item[1], None), items))
    pool.close()
    forkserver._forkserver._stop()  # type: ignore[attr-defined]  # reaped: its CPU and its workers' counted
    kids, own = _cpu(resource.RUSAGE_CHILDREN) - kids, _cpu(resource.RUSAGE_SELF) - own
    n = len(items)
    lost = sum(1 for d in done if not isinstance(d, ProcessedEntry))
    print(
        f"pool of 2 workers, {n} articles ({lost} lost): workers + fork server {kids / n * 1000:.2f} ms/article, "
        f"this process meanwhile {own / n * 1000:.2f} ms/article"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pages", type=Path, default=PAGES)
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--pool", action="store_true", help="also the worker side of a poll (2 fresh workers)")
    args = ap.parse_args()
    arts = articles(args.pages)
    built = build_scorer(load_seeds(args.seeds))
    if args.pool:  # first: a fresh process, as a poll's
        pool_pass(args.pages, built)
    scorer = pickle.loads(pickle.dumps(built))
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
