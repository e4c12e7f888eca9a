"""Great Expectations suites as Dagster asset checks (filled in by the quality work)."""

ASSET_CHECKS: list = []
