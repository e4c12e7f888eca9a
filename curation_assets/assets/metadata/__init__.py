"""The UI metadata of each asset (tables, histograms, contact sheets), built from its step's
results; one module per asset, named like it."""
