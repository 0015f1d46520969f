"""``python -m higgs_pyhf`` runs the command-line interface."""

from __future__ import annotations

from higgs_pyhf.cli import main

if __name__ == "__main__":
    main()
