"""Cost of sealing one signature and opening it again, for the formats a sealed petition could use.

    .venv/bin/python benchmarks/sealing.py [rows] [repeats]

Measures, per row of a typical signer (Kazakh name, email, city, a comment): sealing to the
organiser's public key as the signing request does (`petitions.sealing`, a libsodium sealed box
through PyNaCl) and opening it as `flask bundles unseal` does, each the best of `repeats` runs.
If pyrage is installed (`pip install pyrage`, not a dependency of the project), age's X25519
recipients are measured the same way for comparison: the reason the project seals with
libsodium is in docs/architecture-notes.md.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from petitions.sealing import SealingIdentity

FIELDS = {
    "name": "Айгерім Сәрсенбаева",
    "email": "aigerim.sarsenbayeva@example.kz",
    "city": "Алматы",
    "comment": "Ақынды босатыңыздар",
}


def best(function, rows: int, repeats: int) -> float:
    """Return the best time per row, in microseconds, of `repeats` runs of `rows` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for number in range(rows):
            function(number)
        times.append((time.perf_counter() - started) / rows * 1e6)
    return min(times)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    identity = SealingIdentity.generate()
    public = identity.public_key
    sealed = [public.seal(FIELDS, signature_id=str(n), petition="p") for n in range(rows)]
    seal_us = best(lambda n: public.seal(FIELDS, signature_id=str(n), petition="p"), rows, repeats)
    open_us = best(
        lambda n: identity.open(sealed[n], signature_id=str(n), petition="p"), rows, repeats
    )
    print(
        f"sealed box (PyNaCl): seal {seal_us:6.1f} us, open {open_us:6.1f} us, "
        f"{len(sealed[0])} bytes a row"
    )
    try:
        import pyrage
        from pyrage import x25519
    except ImportError:
        print("age (pyrage): not installed; pip install pyrage to compare")
        return
    age_identity = x25519.Identity.generate()
    recipient = age_identity.to_public()
    plain = json.dumps(FIELDS, ensure_ascii=False).encode()
    boxes = [pyrage.encrypt(plain, [recipient]) for _ in range(rows)]
    age_seal = best(lambda n: pyrage.encrypt(plain, [recipient]), rows, repeats)
    age_open = best(lambda n: pyrage.decrypt(boxes[n], [age_identity]), rows, repeats)
    print(
        f"age (pyrage):        seal {age_seal:6.1f} us, open {age_open:6.1f} us, "
        f"{len(boxes[0])} bytes a row"
    )
    print(f"a million rows opened on one core: sealed box {open_us:.0f} s, age {age_open:.0f} s")


if __name__ == "__main__":
    main()
