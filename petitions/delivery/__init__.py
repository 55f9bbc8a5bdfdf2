"""The signed bundle: the PDF, its signatures, and the ZIP a recipient can verify.

A library without Flask or the database: it takes plain data and rows.

- `model`: `PetitionInfo`, `ExportInfo`, `Summary`, `SignatureRow`, `ReceiptTree`, `LABELS`
  (kk, ru, en, read from the compiled gettext catalogues with Babel) and
  `new_bundle_identifier`.
- `keys`: `load_signing_key(path, password)` for PKCS#12 files (NCA RK's legacy RSA ones too),
  and `ensure_development_key(directory)`.
- `bundle`: `build_bundle(...)` writes the ZIP; `verify`: `verify_bundle(path)` checks one.
- `document`, `fonts`, `signature`: the PDF, its font and text, and the signatures.

Nothing is imported here, so that the worker processes that draw PDF volumes import only
`document` and stay small.
"""
