"""Which embedded engine and layout for the time-series store? Prints figures; not a test.

Candidates, each with its best idempotent-upsert write path, a ``latest`` table or seek, and
the same three queries (see ``docs/benchmarks.md``): ``sqlite-wide-text`` (a column per
measure, ``PRIMARY KEY (tenant_id, device_id, ts) WITHOUT ROWID``, ``ON CONFLICT DO UPDATE
SET col = COALESCE(excluded.col, col)``); ``sqlite-wide-series`` (the same keyed by
``(series_id, ts)``, a small integer per (tenant, device)); ``sqlite-narrow`` (a row per
point, ``PRIMARY KEY (series_id, measure_id, ts)``); ``duckdb-wide`` (``PRIMARY KEY
(series_id, ts)``; appender into a temporary staging table, then ``INSERT ... ON CONFLICT DO
UPDATE``: DuckDB's ``executemany`` runs ~500 rows/s and its upserting appender replaces
whole rows). Every batch is one committed transaction; SQLite in WAL mode.

    .venv/bin/python benchmarks/bench_telemetry_engines.py --devices 24 --hours 24
"""

# ruff: noqa: S608 - SQL built from the constant measure list above; values are bound
from __future__ import annotations

import argparse
import itertools
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MEASURES = ("power_watts", "state", "temperature_c", "cycle_count", "scrap_count")
COLUMN_TYPES = ("REAL", "TEXT", "REAL", "INTEGER", "INTEGER")
STATES = ("running", "idle", "offline")
T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z
Sample = tuple[str, str, float, dict[str, Any]]


def samples(devices: int, start_s: int, seconds: int, seed: int = 7) -> Iterator[Sample]:
    """1 Hz machine samples of ``devices`` devices over two tenants, interleaved by time."""
    rng = random.Random(seed + start_s)
    for second in range(start_s, start_s + seconds):
        for d in range(devices):
            yield (
                f"tenant-{d % 2}",
                f"machine-{d:04d}",
                T0 + second,
                {
                    "power_watts": rng.uniform(0, 20_000),
                    "state": STATES[rng.randrange(3)],
                    "temperature_c": rng.uniform(20, 90),
                    "cycle_count": second * 2 + d,
                    "scrap_count": second // 100,
                },
            )


def batched(items: Iterator[Sample], size: int) -> Iterator[list[Sample]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def latest_points(batch: list[Sample], key: Callable[[Sample], Any]) -> list[Any]:
    """The newest value of each (series, measure) in the batch: what the latest table gets."""
    best: dict[tuple[Any, str], tuple[float, Any]] = {}
    for sample in batch:
        series, ts = key(sample), sample[2]
        for name, value in sample[3].items():
            seen = best.get((series, name))
            if seen is None or ts >= seen[0]:
                best[series, name] = (ts, value)
    return [(s, m, ts, v) for (s, m), (ts, v) in best.items()]


class SqliteBase:
    name = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "cache_size = -131072"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.series: dict[tuple[str, str], int] = {}

    def sync(self, level: str) -> None:
        self.conn.execute(f"PRAGMA synchronous = {level}")

    def series_id(self, tenant: str, device: str) -> int:
        return self.series.setdefault((tenant, device), len(self.series) + 1)

    def close(self) -> None:
        self.conn.close()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))


_COLS = ", ".join(MEASURES)
_COALESCE = ", ".join(f"{m} = COALESCE(excluded.{m}, {m})" for m in MEASURES)
_DEFS = ", ".join(f"{m} {t}" for m, t in zip(MEASURES, COLUMN_TYPES, strict=True))
_MARKS = ", ".join("?" for _ in MEASURES)
_LATEST_SET = "SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= latest.ts"


class SqliteWide(SqliteBase):
    """Wide table keyed by (series_id, ts), or by (tenant_id, device_id, ts) text."""

    name = "sqlite-wide-series"
    by_text = False

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.key = "tenant_id, device_id" if self.by_text else "series_id"
        key_defs = "tenant_id TEXT, device_id TEXT" if self.by_text else "series_id INTEGER"
        self.where = "tenant_id = :t AND device_id = :d" if self.by_text else "series_id = :s"
        self.conn.execute(
            f"CREATE TABLE m ({key_defs}, ts REAL, {_DEFS}, PRIMARY KEY ({self.key}, ts))"
            " WITHOUT ROWID"
        )
        self.conn.execute(
            f"CREATE TABLE latest ({key_defs}, measure TEXT, ts REAL, value,"
            f" PRIMARY KEY ({self.key}, measure)) WITHOUT ROWID"
        )

    def keys(self, tenant: str, device: str) -> tuple[Any, ...]:
        return (tenant, device) if self.by_text else (self.series_id(tenant, device),)

    def params(self, tenant: str, device: str, **more: Any) -> dict[str, Any]:
        key = {"t": tenant, "d": device} if self.by_text else {"s": self.series[tenant, device]}
        return key | more

    def write(self, batch: list[Sample]) -> None:
        keys = self.keys
        rows = [(*keys(t, d), ts, *[v.get(m) for m in MEASURES]) for t, d, ts, v in batch]
        latest = [(*k, m, ts, v) for k, m, ts, v in latest_points(batch, lambda s: keys(*s[:2]))]
        marks = "?, " * (2 if self.by_text else 1)
        c = self.conn
        c.execute("BEGIN")
        c.executemany(
            f"INSERT INTO m VALUES ({marks}?, {_MARKS})"
            f" ON CONFLICT ({self.key}, ts) DO UPDATE SET {_COALESCE}",
            rows,
        )
        c.executemany(
            f"INSERT INTO latest VALUES ({marks}?, ?, ?)"
            f" ON CONFLICT ({self.key}, measure) DO UPDATE {_LATEST_SET}",
            latest,
        )
        c.execute("COMMIT")

    def latest(self, tenant: str, device: str) -> list[Any]:
        return self.conn.execute(
            f"SELECT measure, ts, value FROM latest WHERE {self.where}",
            self.params(tenant, device),
        ).fetchall()

    def range(self, tenant: str, device: str, start: float, end: float, limit: int) -> Any:
        return self.conn.execute(
            f"SELECT ts, {_COLS} FROM m WHERE {self.where} AND ts >= :a AND ts < :b"
            " ORDER BY ts LIMIT :n",
            self.params(tenant, device, a=start, b=end, n=limit),
        ).fetchall()

    def buckets(self, tenant: str, device: str, start: float, end: float, width: int) -> Any:
        where = self.where
        return self.conn.execute(
            "WITH g AS (SELECT CAST(ts / :w AS INTEGER) AS k, COUNT(*) AS n,"
            " MIN(power_watts) AS lo, MAX(power_watts) AS hi, SUM(power_watts) AS s,"
            f" MIN(ts) AS t0, MAX(ts) AS t1 FROM m WHERE {where} AND ts >= :a AND ts < :b"
            " AND power_watts IS NOT NULL GROUP BY k)"
            f" SELECT k * :w, n, lo, hi, s, (SELECT power_watts FROM m WHERE {where} AND ts = t0),"
            f" (SELECT power_watts FROM m WHERE {where} AND ts = t1) FROM g ORDER BY k",
            self.params(tenant, device, a=start, b=end, w=width),
        ).fetchall()


class SqliteWideText(SqliteWide):
    name = "sqlite-wide-text"
    by_text = True


class SqliteNarrow(SqliteBase):
    name = "sqlite-narrow"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.conn.execute(
            "CREATE TABLE p (series_id INTEGER, measure_id INTEGER, ts REAL, value,"
            " PRIMARY KEY (series_id, measure_id, ts)) WITHOUT ROWID"
        )
        self.ids = {m: i for i, m in enumerate(MEASURES)}

    def write(self, batch: list[Sample]) -> None:
        sid, ids = self.series_id, self.ids
        rows = [(sid(t, d), ids[m], ts, value) for t, d, ts, v in batch for m, value in v.items()]
        c = self.conn
        c.execute("BEGIN")
        c.executemany(
            "INSERT INTO p VALUES (?, ?, ?, ?)"
            " ON CONFLICT (series_id, measure_id, ts) DO UPDATE SET value = excluded.value",
            rows,
        )
        c.execute("COMMIT")

    def latest(self, tenant: str, device: str) -> list[Any]:
        s, c = self.series[tenant, device], self.conn
        q = "SELECT ts, value FROM p WHERE series_id = ? AND measure_id = ?"
        q += " ORDER BY ts DESC LIMIT 1"
        return [(m, *r) for m, i in self.ids.items() if (r := c.execute(q, (s, i)).fetchone())]

    def range(self, tenant: str, device: str, start: float, end: float, limit: int) -> Any:
        """One range scan per measure, merged by SQLite's sort, pivoted into samples."""
        out: dict[float, dict[str, Any]] = {}
        for ts, mid, value in self.conn.execute(
            "SELECT ts, measure_id, value FROM p WHERE series_id = ? AND ts >= ? AND ts < ?"
            " ORDER BY ts LIMIT ?",
            (self.series[tenant, device], start, end, limit * len(MEASURES)),
        ):
            out.setdefault(ts, {})[MEASURES[mid]] = value
        return list(out.items())[:limit]

    def buckets(self, tenant: str, device: str, start: float, end: float, width: int) -> Any:
        return self.conn.execute(
            "WITH g AS (SELECT CAST(ts / :w AS INTEGER) AS k, COUNT(*) AS n, MIN(value) AS lo,"
            " MAX(value) AS hi, SUM(value) AS s, MIN(ts) AS t0, MAX(ts) AS t1 FROM p"
            " WHERE series_id = :s AND measure_id = 0 AND ts >= :a AND ts < :b GROUP BY k)"
            " SELECT k * :w, n, lo, hi, s,"
            " (SELECT value FROM p WHERE series_id = :s AND measure_id = 0 AND ts = t0),"
            " (SELECT value FROM p WHERE series_id = :s AND measure_id = 0 AND ts = t1)"
            " FROM g ORDER BY k",
            {"s": self.series[tenant, device], "a": start, "b": end, "w": width},
        ).fetchall()


_DUCK_TYPES = ("DOUBLE", "VARCHAR", "DOUBLE", "BIGINT", "BIGINT")


class DuckWide(SqliteBase):
    name = "duckdb-wide"

    def __init__(self, path: Path) -> None:  # shares only series ids, size and close
        import duckdb  # noqa: PLC0415  (optional: only this candidate needs it)

        self.path = path.with_suffix(".duckdb")
        self.conn = duckdb.connect(str(self.path))
        defs = ", ".join(f"{m} {t}" for m, t in zip(MEASURES, _DUCK_TYPES, strict=True))
        self.conn.execute(
            f"CREATE TABLE m (series_id INTEGER, ts DOUBLE, {defs}, PRIMARY KEY (series_id, ts))"
        )
        self.conn.execute(f"CREATE TEMP TABLE stage (series_id INTEGER, ts DOUBLE, {defs})")
        latest = "series_id INTEGER, measure VARCHAR, ts DOUBLE, value VARCHAR"
        self.conn.execute(f"CREATE TABLE latest ({latest}, PRIMARY KEY (series_id, measure))")
        self.conn.execute(f"CREATE TEMP TABLE stage_latest ({latest})")
        self.stage = self.conn.appender("stage")
        self.stage_latest = self.conn.appender("stage_latest")
        self.series: dict[tuple[str, str], int] = {}

    def sync(self, level: str) -> None:
        pass  # DuckDB syncs its WAL at every commit

    def write(self, batch: list[Sample]) -> None:
        sid = self.series_id
        rows = [(sid(t, d), ts, *[v.get(m) for m in MEASURES]) for t, d, ts, v in batch]
        latest = [
            (s, m, ts, str(v)) for s, m, ts, v in latest_points(batch, lambda x: sid(x[0], x[1]))
        ]
        c = self.conn
        c.execute("BEGIN")
        self.stage.append_rows(rows)
        self.stage.flush()
        c.execute(f"INSERT INTO m SELECT * FROM stage ON CONFLICT DO UPDATE SET {_COALESCE}")
        c.execute("DELETE FROM stage")
        self.stage_latest.append_rows(latest)
        self.stage_latest.flush()
        c.execute(
            "INSERT INTO latest SELECT * FROM stage_latest ON CONFLICT DO UPDATE"
            " SET ts = excluded.ts, value = excluded.value WHERE excluded.ts >= latest.ts"
        )
        c.execute("DELETE FROM stage_latest")
        c.execute("COMMIT")

    def latest(self, tenant: str, device: str) -> list[Any]:
        return self.conn.execute(
            "SELECT measure, ts, value FROM latest WHERE series_id = ?",
            (self.series[tenant, device],),
        ).fetchall()

    def range(self, tenant: str, device: str, start: float, end: float, limit: int) -> Any:
        return self.conn.execute(
            f"SELECT ts, {_COLS} FROM m WHERE series_id = ? AND ts >= ? AND ts < ?"
            " ORDER BY ts LIMIT ?",
            (self.series[tenant, device], start, end, limit),
        ).fetchall()

    def buckets(self, tenant: str, device: str, start: float, end: float, width: int) -> Any:
        return self.conn.execute(
            "SELECT floor(ts / $w) * $w AS k, count(*), min(power_watts), max(power_watts),"
            " sum(power_watts), arg_min(power_watts, ts), arg_max(power_watts, ts) FROM m"
            " WHERE series_id = $s AND ts >= $a AND ts < $b AND power_watts IS NOT NULL"
            " GROUP BY k ORDER BY k",
            {"s": self.series[tenant, device], "a": start, "b": end, "w": width},
        ).fetchall()


CANDIDATES = {c.name: c for c in (SqliteWideText, SqliteWide, SqliteNarrow, DuckWide)}


def timed_writes(store: Any, batches: Iterator[list[Sample]]) -> float:
    """Samples per second over the write calls only (generation excluded)."""
    count, spent = 0, 0.0
    for batch in batches:
        began = time.perf_counter()
        store.write(batch)
        spent += time.perf_counter() - began
        count += len(batch)
    return count / spent


def latency_ms(call: Callable[[], object], runs: int) -> tuple[float, float]:
    spent = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        spent.append((time.perf_counter() - began) * 1000)
    spent.sort()
    return statistics.median(spent), spent[int(len(spent) * 0.95) - 1]


def run(name: str, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    store = CANDIDATES[name](folder / f"{name}.sqlite3")
    seconds = args.hours * 3600
    out: dict[str, float] = {}
    extra = 100_000 // args.devices  # 100,000 samples after the load
    for key, first, span, size, level in (
        ("load_5000", 0, seconds, 5000, "NORMAL"),
        ("append_1000", seconds, extra, 1000, "NORMAL"),
        ("redeliver_1000", seconds, extra, 1000, "NORMAL"),
        ("append_1000_full", seconds + extra, extra, 1000, "FULL"),
    ):
        store.sync(level)
        out[key] = timed_writes(store, batched(samples(args.devices, first, span), size))
    store.sync("NORMAL")
    rng = random.Random(1)
    keys = [(f"tenant-{d % 2}", f"machine-{d:04d}") for d in range(args.devices)]
    out["latest"], out["latest95"] = latency_ms(
        lambda: store.latest(*rng.choice(keys)), args.queries
    )

    def hour() -> object:
        start = T0 + rng.randrange(seconds - 3600)
        rows = store.range(*rng.choice(keys), start, start + 3600, 5000)
        assert len(rows) == 3600, len(rows)

    out["range"], out["range95"] = latency_ms(hour, args.queries)

    def day() -> object:
        rows = store.buckets(*rng.choice(keys), T0, T0 + 86400, 3600)
        assert len(rows) >= min(24, args.hours), len(rows)

    out["hourly"], out["hourly95"] = latency_ms(day, args.queries)
    out["mb"] = store.size() / 1e6
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=24)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--engines", default=",".join(CANDIDATES))
    parser.add_argument("--repeat", type=int, default=1, help="report the best of N runs")
    args = parser.parse_args()
    print(
        f"sqlite {sqlite3.sqlite_version}; {args.devices} machines x {args.hours} h at 1 Hz ="
        f" {args.devices * args.hours * 3600:,} samples of 5 measures"
    )
    print(
        "| layout | load, batches of 5000 (samples/s) | append 1000 | redeliver 1000"
        " | append 1000, sync FULL | latest p50/p95 (ms) | 1 h range p50/p95 (ms)"
        " | 24 h hourly p50/p95 (ms) | file (MB) |\n" + "|---" * 9 + "|"
    )
    for name in args.engines.split(","):
        runs = []
        for _ in range(args.repeat):  # best of N: the machine may be shared
            with tempfile.TemporaryDirectory() as folder:
                runs.append(run(name, args, Path(folder)))
        rate = ("load", "append", "redeliver")  # higher is better; for latencies, lower
        r = {k: (max if k.startswith(rate) else min)(x[k] for x in runs) for k in runs[0]}
        print(
            f"| {name} | {r['load_5000']:,.0f} | {r['append_1000']:,.0f}"
            f" | {r['redeliver_1000']:,.0f} | {r['append_1000_full']:,.0f}"
            f" | {r['latest']:.2f} / {r['latest95']:.2f} | {r['range']:.1f} / {r['range95']:.1f}"
            f" | {r['hourly']:.1f} / {r['hourly95']:.1f} | {r['mb']:,.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
