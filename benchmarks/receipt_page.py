"""What a receipt page costs in process, against the trivial endpoint, on an exported petition.

Seeds N confirmed signatures (encrypted, as in production), records one finished export's
receipt tree over them in the bundle's order (as `flask petitions export` stores it), then asks,
through the test client, for the receipt pages of 500 signers taken at random (each once per
round, so that nothing keyed by a code can help), their JSON, and as many times `/livez`.
Prints the milliseconds per request of each and their ratios; `--profile` prints where a
receipt's time goes.

    .venv/bin/python benchmarks/receipt_page.py [count] [database-url] [--profile]

Default: 100,000 signatures on a fresh SQLite file; for PostgreSQL, pass a URL to an empty
database. The public cache lives as in production (PUBLIC_CACHE_SECONDS=2); the rate limits are
off (benchmarks/load.sh measures the page with them, on gunicorn).
"""

from __future__ import annotations

import cProfile
import pstats
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from benchmarks.common import arguments, demo_app, seed
from petitions.extensions import db
from petitions.models import Delivery, DeliveryKind, ExportStatus, Petition, Signature, utcnow
from petitions.services import receipts

ASKED = 500
ROUNDS = 3


def record_export(petition: Petition) -> Delivery:
    """Store a finished interim export's tree over the counted signatures, in the bundle's order."""
    now = utcnow()
    delivery = Delivery(
        petition=petition,
        kind=DeliveryKind.INTERIM,
        status=ExportStatus.DONE,
        exported_at=now,
        finished_at=now,
        bundle_filename=f"{petition.slug}.zip",
        bundle_sha256="0" * 64,
    )
    db.session.add(delivery)
    db.session.flush()
    recorder = receipts.TreeRecorder(db.session, delivery.id)
    rows = db.session.execute(
        sa.select(Signature.receipt_leaf, Signature.created_at, Signature.id)
        .where(Signature.petition_id == petition.id)
        .order_by(Signature.created_at, Signature.id)
    )
    for leaf, created_at, signature_id in rows:
        recorder.add(bytes(leaf), created_at, signature_id)
    delivery.tree_size, root = recorder.finish()
    delivery.tree_root = root.hex()
    delivery.signature_count = delivery.tree_size
    db.session.commit()
    return delivery


def per_request(client, paths: list[str]) -> float:
    """Return the milliseconds per GET over `paths`, each answered 200 or the run stops."""
    started = time.perf_counter()
    for path in paths:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return (time.perf_counter() - started) * 1000 / len(paths)


def main() -> None:
    profile = "--profile" in sys.argv
    if profile:
        sys.argv.remove("--profile")
    count, url, workdir = arguments(100_000)
    app, petition_id = demo_app(url, workdir)
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], public_cache_seconds=2)
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        seed(petition, count)
        delivery = record_export(petition)
        ids = db.session.scalars(
            sa.select(Signature.public_id).where(Signature.petition_id == petition.id)
        ).all()
        chosen = random.Random(15).sample(ids, min(ASKED, len(ids)))
        paths = [f"/petitions/{petition.slug}/receipts/{receipts.code_of(i)}" for i in chosen]
        print(f"{count} signatures, tree of {delivery.tree_size}, {len(paths)} receipts a round")
        db.engine.dispose()
    client = app.test_client()
    per_request(client, paths[:20] + ["/livez"] * 20)  # warm up
    for number in range(1, ROUNDS + 1):
        receipt_ms = per_request(client, paths)
        json_ms = per_request(client, [path + ".json" for path in paths])
        livez_ms = per_request(client, ["/livez"] * len(paths))
        print(
            f"round {number}: receipt {receipt_ms:.2f} ms, its JSON {json_ms:.2f} ms, "
            f"/livez {livez_ms:.2f} ms; receipt at {livez_ms / receipt_ms:.1%} of /livez's "
            f"rate, JSON at {livez_ms / json_ms:.1%}"
        )
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(per_request, client, paths)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
