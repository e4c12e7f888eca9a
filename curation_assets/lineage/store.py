"""The lineage store: Parquet parts per (table, writer, partition) behind DuckDB views.

Why not one DuckDB file that every run writes into: DuckDB lets one process write a file at a
time, and readers are locked out while it does. Here each asset materialization replaces its own
Parquet part per table with an atomic rename, so parallel shard runs never contend and never lose
a row, re-runs replace instead of duplicating, a crash leaves the previous part intact, and
``lineage.duckdb`` (views over the parts) stays queryable read-only at any time.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import duckdb
import polars as pl

from curation_assets.lineage.schema import TABLES, frame

CATALOG_VERSION = 1
ROW_GROUP = 8192  # rows per Parquet row group in lineage parts
_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")
_DATABASES: dict[int, duckdb.DuckDBPyConnection] = {}  # per process id
_DATABASES_LOCK = threading.Lock()


def _session() -> duckdb.DuckDBPyConnection:
    """A new connection to this process's in-memory DuckDB database. ``duckdb.connect()`` starts
    a whole database (~20 ms, and a run connects a few hundred times); a cursor on a running one
    is free, and its temporary views are its own. Per process id: a forked child never uses its
    parent's database."""
    pid = os.getpid()
    with _DATABASES_LOCK:
        database = _DATABASES.get(pid)
        if database is None:
            database = _DATABASES[pid] = duckdb.connect()
        return database.cursor()


class LineageStore:
    def __init__(self, parts_dir: Path, catalog_path: Path) -> None:
        self.parts_dir = Path(parts_dir)
        self.catalog_path = Path(catalog_path)

    # -- writing ---------------------------------------------------------------------------
    def replace(
        self, writer: str, partition: str, tables: Mapping[str, list[dict] | pl.DataFrame]
    ) -> None:
        """Make ``tables`` the whole output of ``writer`` for ``partition`` (idempotent)."""
        for name in (writer, partition):
            if not _SAFE.match(name):
                raise ValueError(f"unsafe lineage part name: {name!r}")
        staged: list[tuple[Path, Path]] = []
        try:
            for table, rows in tables.items():
                df = rows if isinstance(rows, pl.DataFrame) else frame(table, rows)
                target = self._table_dir(table) / f"{writer}__{partition}.parquet"
                tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
                schema = TABLES[table]
                missing = [
                    pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in df.columns
                ]  # optional columns a writer leaves out
                df = df.with_columns(missing) if missing else df
                if "clip_id" in schema and df.height > ROW_GROUP and not df["clip_id"].is_sorted():
                    # sorted parts with small row groups: a lookup by clip id reads a few
                    # groups per part (min/max statistics), not the whole table
                    df = df.sort("clip_id")
                df.select(list(schema)).write_parquet(
                    tmp, statistics=True, row_group_size=ROW_GROUP, compression="lz4"
                )
                staged.append((tmp, target))
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, target in staged:  # every part written before any is renamed into place
            os.replace(tmp, target)

    def _table_dir(self, table: str) -> Path:
        if table not in TABLES:
            raise KeyError(f"unknown lineage table {table!r}")
        folder = self.parts_dir / table
        folder.mkdir(parents=True, exist_ok=True)
        empty = folder / "_empty.parquet"  # keeps the view valid before any run wrote
        if not empty.exists():
            tmp = folder / f"._empty.{uuid.uuid4().hex}.tmp"
            frame(table, []).write_parquet(tmp)
            os.replace(tmp, empty)
        return folder

    # -- reading ---------------------------------------------------------------------------
    def _view_sql(
        self, table: str, partitions: Iterable[str] | None = None, temporary: bool = False
    ) -> str:
        folder = self._table_dir(table)
        if partitions is None:
            globs = [folder / "*.parquet"]
        else:  # only the parts of these partitions (a shard's, "all" for global writers)
            globs = [folder / "_empty.parquet"] + sorted(
                f for p in partitions if _SAFE.match(p) for f in folder.glob(f"*__{p}.parquet")
            )
        listed = ", ".join("'" + str(g).replace("'", "''") + "'" for g in globs)
        return (
            f"CREATE OR REPLACE {'TEMP ' if temporary else ''}VIEW {table} AS SELECT * FROM "
            f"read_parquet([{listed}], union_by_name = true)"
        )

    def connect(
        self, tables: Iterable[str] | None = None, partitions: Iterable[str] | None = None
    ) -> duckdb.DuckDBPyConnection:
        """An in-memory connection with lineage tables (all, or ``tables``) as views: never
        blocks a writer. Naming the tables a query needs makes connecting cheaper; naming the
        partitions (e.g. one shard and "all") reads only their parts."""
        con = _session()
        partitions = list(partitions) if partitions is not None else None
        for table in TABLES if tables is None else tables:
            con.execute(self._view_sql(table, partitions, temporary=True))
        return con

    def query(
        self, sql: str, params: list | None = None, tables: Iterable[str] | None = None
    ) -> pl.DataFrame:
        """One statement, over views of the tables it names (each view reads its parts'
        footers: all 18 cost ~35 ms a query, and a global run makes ~100)."""
        with self.connect(tables if tables is not None else tables_in(sql)) as con:
            return con.sql(sql, params=params or None).pl()

    def ensure_catalog(self, attempts: int = 50) -> Path:
        """Create ``lineage.duckdb`` (views over the parts) for users' own queries.

        It is written only when missing or stale, so it is almost always free for read-only use.
        """
        self.catalog_path.parent.mkdir(parents=True, exist_ok=True)
        # the table list is part of the stamp: a catalog made before a table existed gains its view
        stamp = f"{CATALOG_VERSION}:{self.parts_dir}:{','.join(TABLES)}"
        if _CATALOGS_SEEN.get(self.catalog_path) == (stamp, _file_state(self.catalog_path)):
            return self.catalog_path  # checked in this process and not touched since
        for attempt in range(attempts):
            try:
                if self.catalog_path.exists():
                    with duckdb.connect(str(self.catalog_path), read_only=True) as con:
                        current = _catalog_stamp(con) == stamp
                    if current:
                        _CATALOGS_SEEN[self.catalog_path] = (stamp, _file_state(self.catalog_path))
                        return self.catalog_path
                with duckdb.connect(str(self.catalog_path)) as con:
                    for table in TABLES:
                        con.execute(self._view_sql(table))
                    con.execute("CREATE OR REPLACE TABLE catalog_info (stamp VARCHAR)")
                    con.execute("INSERT INTO catalog_info VALUES (?)", [stamp])
                _CATALOGS_SEEN[self.catalog_path] = (stamp, _file_state(self.catalog_path))
                return self.catalog_path
            except duckdb.IOException:
                # another process holds the file for a moment; try again
                time.sleep(0.05 * (attempt + 1))
        raise RuntimeError(f"could not open {self.catalog_path} after {attempts} attempts")


# catalog file -> (stamp, file state) when this process last found it current: opening the file
# to read its stamp costs ~20 ms, and every asset makes sure of it
_CATALOGS_SEEN: dict[Path, tuple[str, tuple[int, int, int] | None]] = {}


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def tables_in(sql: str) -> list[str]:
    """The lineage tables a statement names (a word that is also a column name only adds an
    unused view)."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql))
    return [table for table in TABLES if table in words]


def _catalog_stamp(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        row = con.execute("SELECT stamp FROM catalog_info").fetchone()
    except duckdb.CatalogException:
        return None
    return row[0] if row else None
