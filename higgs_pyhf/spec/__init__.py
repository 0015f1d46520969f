"""The pyhf JSON specification as data, without pyhf.

- :mod:`.schema`: pyhf's JSON schemas (workspace, patch, patchset), checked
  with jsonschema from the installed pyhf's schema files;
- :mod:`.checks`: the project's checks beyond the schema (duplicates,
  numbers the likelihood cannot use, models too large to fit).
"""
