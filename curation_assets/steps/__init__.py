"""What each asset does, as pure code: one module per asset or family of assets, named after it
(``ingest`` for ``source_videos``, ``shots`` for ``shot_clips``, ``filters``, ``near_duplicates``,
``concepts``, ``subsets``, ``finetune``). No Dagster here: ``assets/`` wires these to the UI."""
