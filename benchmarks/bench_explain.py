"""tlslab explain: time per message after start-up, over the corpus of real client messages.

Goal (issue 9): <= 0.2 s per message after start-up. Prints start-up (import, catalog, the
evidence index from the catalog and docs/symptoms.json), then per-message figures, then one
full CLI invocation for scale.

    python benchmarks/bench_explain.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

GOAL = 0.2  # seconds per message


def main() -> None:
    started = time.perf_counter()
    from lab.explain import explain_text
    from lab.scenario import Catalog
    catalog = Catalog.load()
    explain_text("x509: certificate signed by unknown authority", catalog)  # builds the evidence index
    startup = time.perf_counter() - started

    from explain_corpus import CORPUS, JAVA_TRACE, PASTED_LOG
    texts = [r.text for r in CORPUS] + [PASTED_LOG, JAVA_TRACE]
    times: list[tuple[float, str]] = []
    for text in texts:
        t0 = time.perf_counter()
        explain_text(text, catalog)
        times.append((time.perf_counter() - t0, text))
    seconds = [t for t, _ in times]
    over = [(t, text) for t, text in times if t > GOAL]

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lab", "explain", "x509: certificate signed by unknown authority"],
                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    cli = time.perf_counter() - t0

    print(f"tlslab explain, {len(texts)} real messages ({len(CORPUS)} corpus lines + 2 pasted logs)")
    print(f"  start-up (import, catalog, evidence index)  {startup * 1000:8.1f} ms")
    print(f"  per message: median                         {statistics.median(seconds) * 1000:8.2f} ms")
    print(f"               mean                           {statistics.mean(seconds) * 1000:8.2f} ms")
    print(f"               max                            {max(seconds) * 1000:8.2f} ms")
    print(f"  goal <= {GOAL * 1000:.0f} ms per message: {len(texts) - len(over)}/{len(texts)} within")
    for t, text in sorted(over, reverse=True)[:5]:
        print(f"    over: {t * 1000:.1f} ms  {' '.join(text.split())[:60]}")
    print(f"  one CLI call, wall (python start-up included) {cli * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
