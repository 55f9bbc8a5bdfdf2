"""The English catalogue: English is the source language, so its translations start as the source.

`make translations` runs `python -m petitions.catalogues FILE.po` after merging new strings: every
empty msgstr becomes its msgid (singular and plural), and an English wording edited by hand in the
catalogue is left as it is. The catalogue lets English be reworded without touching the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po


def _is_untranslated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return not all(strings)


def _source_strings(message: Message, plurals: int) -> str | tuple[str, ...]:
    if not message.pluralizable:
        return message.id
    singular, plural = message.id[0], message.id[1]
    # English has two forms; any further slot the header asks for takes the plural.
    return (singular, *[plural] * (plurals - 1))


def fill_from_source(catalogue: Catalog) -> int:
    """Copy the msgid into every untranslated entry and return how many were filled."""
    filled = 0
    for message in catalogue:
        if message.id and _is_untranslated(message):
            message.string = _source_strings(message, catalogue.num_plurals)
            message.flags.discard("fuzzy")
            filled += 1
    return filled


def fill_file(path: Path) -> int:
    """Fill a .po file's untranslated entries from their msgids, in place."""
    with path.open("rb") as handle:
        catalogue = read_po(handle)
    filled = fill_from_source(catalogue)
    if filled:
        # The same options as `pybabel update`, so the file does not churn between the two.
        with path.open("wb") as handle:
            write_po(handle, catalogue, ignore_obsolete=True, width=76)
    return filled


def main(arguments: list[str]) -> int:
    """Fill each .po file named on the command line; print how many entries each gained."""
    if not arguments:
        print("usage: python -m petitions.catalogues FILE.po [FILE.po ...]", file=sys.stderr)
        return 2
    for name in arguments:
        print(f"{name}: {fill_file(Path(name))} entries filled from the source")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
