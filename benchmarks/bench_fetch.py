"""CPU per request of the polling process's fetcher (issue #13: one process fetches for the pool).

Real pages (/work/shared/corpus/pages/scrapinghub-aeb, gzipped HTML) are served by
tests/httpserver.py's server on 127.0.0.1 in this process, under many host names
(``h000.bench.test`` …); the client runs in a child process whose resolver maps ``*.bench.test``
to 127.0.0.1 (as benchmarks/bench_pipeline.py does), so the server's CPU is not counted. The child
fetches through ``monitor.fetch.Fetcher`` as the pipeline uses it (the default client, allow_hosts
[127.0.0.1], host_spacing 0, 8 threads like app.FEED_THREADS) and prints its CPU
(time.process_time) per request, after a warm-up. Kinds:

* ``page``: every page plain, as bench_pipeline serves them (``fetch_page``);
* ``gzip``: the same pages with ``Content-Encoding: gzip``, as most news sites send them;
* ``304``: a conditional ``fetch_feed`` answered 304 Not Modified (a re-poll).

``--ref DIR`` also runs the children with DIR's ``src`` first on sys.path (e.g. a ``git archive``
of main), alternating with this tree round by round, so both are measured under the same load.
``--keep-alive`` makes the server keep connections open (HTTP/1.1, as real sites do); by default
it closes every connection after one response. The server counts the connections it accepted.
``--tls`` serves https with a throw-away certificate for ``*.bench.test`` (made with the openssl
command; the children trust only it through SSL_CERT_FILE), as real sites are served.

Usage: python benchmarks/bench_fetch.py [--hosts 100] [--copies 3] [--threads 8] [--repeat 5]
       [--kinds page,gzip,304] [--ref /tmp/fetch-before] [--keep-alive] [--tls]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench_pipeline import CORPUS, DOMAIN, ROOT, _loopback_names  # the same loopback set-up

KINDS = ("page", "gzip", "304")
WARMUP = 20

# --- child side: the client, with *.bench.test resolved to 127.0.0.1 ------------------------------


def child(src: str, kind: str, urls_file: str, threads: int) -> dict[str, Any]:
    sys.path.insert(0, src)
    from monitor.errors import FetchError
    from monitor.fetch import Fetcher
    from monitor.models import FetchSettings

    _loopback_names()
    urls = json.loads(Path(urls_file).read_text(encoding="utf-8"))
    settings = FetchSettings(allow_hosts=("127.0.0.1",), host_spacing=0.0)
    failed = 0
    errors: list[str] = []  # the first few, to say why a run failed
    with Fetcher(settings) as fetcher:
        if kind == "304":

            def one(url: str) -> int:
                return len(fetcher.fetch_feed(url, etag='"v1"').content)
        else:

            def one(url: str) -> int:
                return len(fetcher.fetch_page(url).content)

        def guarded(url: str) -> int:
            nonlocal failed
            try:
                return one(url)
            except FetchError as exc:
                failed += 1
                if len(errors) < 3:
                    errors.append(f"{url}: {exc}")
                return 0

        for url in urls[:WARMUP]:  # imports, first connections, the deadline thread
            guarded(url)
        wall0, cpu0, ru0 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
        if threads <= 1:
            size = sum(guarded(u) for u in urls)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                size = sum(pool.map(guarded, urls))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        ru = resource.getrusage(resource.RUSAGE_SELF)

    kernel = ru.ru_stime - ru0.ru_stime
    return {"cpu": cpu, "sys": kernel, "wall": wall, "n": len(urls), "bytes": size, "failed": failed, "errors": errors}


# --- parent side: the server ------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    return env


def serve(server: Any, hosts: int, copies: int, scheme: str = "http") -> dict[str, list[str]]:
    """Register every page (plain and gzip) `copies` times over `hosts` names; the URLs per kind."""
    urls: dict[str, list[str]] = {k: [] for k in KINDS}
    pages = sorted(CORPUS.glob("*.html.gz"))
    for c in range(copies):
        for i, file in enumerate(pages):
            h = (i * copies + c) % hosts
            raw = file.read_bytes()
            base = f"{scheme}://h{h:03d}{DOMAIN}:{server.port}"
            server.add(f"/p/{i}-{c}.html", gzip.decompress(raw), content_type="text/html; charset=utf-8")
            server._add(f"/z/{i}-{c}.html", raw, content_type="text/html; charset=utf-8", encoding="gzip")
            server.add(f"/f/{i}-{c}.xml", b"<rss/>", etag='"v1"', content_type="application/rss+xml")
            urls["page"].append(f"{base}/p/{i}-{c}.html")
            urls["gzip"].append(f"{base}/z/{i}-{c}.html")
            urls["304"].append(f"{base}/f/{i}-{c}.xml")
    return urls


def run_child(src: Path, kind: str, urls_file: Path, threads: int, cert: Path | None) -> dict[str, Any]:
    env = _env()
    if cert is not None:
        env["SSL_CERT_FILE"] = str(cert)
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(src), kind, str(urls_file), str(threads)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _serve_tls(server: Any, tmp: Path) -> Path:
    """Wrap the server's socket in TLS with a new self-signed certificate for *.bench.test."""
    cert, key = tmp / "bench.pem", tmp / "bench.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bench.test",
         "-addext", f"subjectAltName=DNS:*{DOMAIN}", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server.use_tls(cert, key)
    return cert


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--copies", type=int, default=3, help="times each corpus page is served (distinct URLs)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (app.FEED_THREADS is 8)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--ref", type=Path, default=None, help="another source tree to measure alongside")
    parser.add_argument("--keep-alive", action="store_true", help="the server keeps connections open")
    parser.add_argument("--tls", action="store_true", help="https, with a throw-away certificate")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        src, kind, urls_file, threads = args.child
        print(json.dumps(child(src, kind, urls_file, int(threads))))
        return
    sys.path.insert(0, str(ROOT / "tests"))
    import httpserver

    httpserver._Server.request_queue_size = 1024  # as bench_pipeline: no dropped SYNs under bursts
    trees = {"this tree": ROOT / "src"}
    if args.ref is not None:
        trees["ref " + str(args.ref)] = (args.ref / "src").resolve()
    kinds = [k for k in args.kinds.split(",") if k]
    print(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.hosts} hosts, "
        f"corpus pages x{args.copies}, {args.threads} client threads, {args.repeat} rounds, "
        f"server {'keeps connections alive' if args.keep_alive else 'closes every connection'}"
        f"{', https' if args.tls else ''}"
    )
    cpu: dict[tuple[str, str], list[float]] = {}
    sys_cpu: dict[tuple[str, str], list[float]] = {}
    conns: dict[tuple[str, str], list[int]] = {}
    failures: dict[tuple[str, str], list[str]] = {}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, httpserver.TestServer(keep_alive=args.keep_alive) as server:
        cert = _serve_tls(server, Path(tmp)) if args.tls else None
        urls = serve(server, args.hosts, args.copies, "https" if args.tls else "http")
        files = {}
        for kind in kinds:
            files[kind] = Path(tmp) / f"{kind}.json"
            files[kind].write_text(json.dumps(urls[kind]), encoding="utf-8")
        for rnd in range(args.repeat):
            order = list(trees.items()) if rnd % 2 == 0 else list(reversed(trees.items()))
            for kind in kinds:
                for name, src in order:
                    accepted = server.accepted
                    r = run_child(src, kind, files[kind], args.threads, cert)
                    # a reference tree's failures are reported (main's client, whose pool keeps no
                    # connection, races with itself when a server keeps them: a socket closed while
                    # reused, "Bad file descriptor"); this tree must not fail
                    assert r["failed"] == 0 or name != "this tree", r
                    if r["failed"]:
                        failures.setdefault((name, kind), []).extend(r["errors"])
                    conns.setdefault((name, kind), []).append(server.accepted - accepted)
                    cpu.setdefault((name, kind), []).append(1000 * r["cpu"] / r["n"])
                    sys_cpu.setdefault((name, kind), []).append(1000 * r["sys"] / r["n"])
    for kind in kinds:
        n = len(urls[kind])
        for name in trees:
            values = cpu[(name, kind)]
            print(
                f"{kind:>4} x{n} ({name}): median {statistics.median(values):.3f} ms CPU/request "
                f"(min {min(values):.3f}, max {max(values):.3f}; of it in the kernel "
                f"{statistics.median(sys_cpu[(name, kind)]):.3f}; "
                f"{statistics.median(conns[(name, kind)]):.0f} connections per run of {n + WARMUP} requests)"
            )
    for (name, kind), errors in failures.items():
        print(f"{kind} ({name}): failed requests: {'; '.join(errors)}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
