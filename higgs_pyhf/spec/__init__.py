"""The pyhf JSON specification as data, without pyhf.

- :mod:`.json_input`: the one reader of every JSON input file (strict
  numbers, bounded depth, inputs registered with the output guard);
- :mod:`.schema`: pyhf's JSON schemas (workspace, patch, patchset), checked
  with jsonschema from the installed pyhf's schema files;
- :mod:`.checks`: the project's checks beyond the schema (duplicates,
  numbers the likelihood cannot use, models too large to fit);
- :mod:`.patches`: JSON Patches and pyhf patchsets (digests, values).
"""
