"""Thin Dagster wiring, one module per asset (or family of assets) named like ``steps/``, each
asset beside its checks; ``metadata/`` builds what the UI shows."""
