"""The results store: SQLite (stdlib) at ``.harness/results.db`` by default.

Tables: ``runs`` (one row per run key, ``hash``: see ``harness._core.identity``; with its environment
manifest), ``points`` (one row per curve point), ``verdicts`` (the theory checker's verdict per run
and theorem). Writes are single transactions under ``BEGIN IMMEDIATE`` with a busy timeout, in WAL
mode, so concurrent runners in several processes lose no rows. A run key is UNIQUE: saving a run
replaces the content (points, and the verdicts about the old content) of an earlier run with the
same key (``--force``, a rerun after a failure, or two identical runs started together: the last
one stored stays) and keeps its id, so an id another process printed or holds still names that
run key. A verdict computed from content that has since been replaced is not stored.

The layout is versioned (SQLite's ``user_version``, :data:`SCHEMA_VERSION`): a store written before
versions existed is migrated when it is opened for writing (one row per key: the newest measured
row, else the newest); a store of a newer version, or with columns this harness does not know, is
refused with one line before any work.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from harness._core.monitor import DIVERGED, ERROR, FINISHED_OK, INTERRUPTED, POINT_FIELDS, TIMEOUT
from harness._core.output import json_default
from harness._core.paths import full_disk_note

MEASURED = (*FINISHED_OK, DIVERGED)              # a run that was carried out: its row is a measurement
NOT_CARRIED_OUT = (INTERRUPTED, ERROR, TIMEOUT)   # never replaces a measured row of the same key

DEFAULT_PATH = Path(".harness") / "results.db"
# 1: one row per run key (UNIQUE index), ids kept across replacement; 0: a store from before versions
SCHEMA_VERSION = 1

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL,
    created REAL NOT NULL,
    plugin TEXT NOT NULL,
    plugin_version TEXT,
    family TEXT,
    backend TEXT,
    workload TEXT NOT NULL,
    workload_params TEXT NOT NULL,
    params TEXT NOT NULL,
    workers INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    budget TEXT,
    target TEXT,
    status TEXT NOT NULL,
    reason TEXT,
    wall_s REAL,
    constants TEXT,
    info TEXT,
    env TEXT,
    suite TEXT
);
CREATE INDEX IF NOT EXISTS runs_hash ON runs(hash);
CREATE TABLE IF NOT EXISTS points (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    {", ".join(f"{f} REAL" for f in POINT_FIELDS)},
    extra TEXT,
    PRIMARY KEY (run_id, idx)
);
CREATE TABLE IF NOT EXISTS run_suites (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    suite TEXT NOT NULL,
    PRIMARY KEY (run_id, suite)
);
CREATE TABLE IF NOT EXISTS verdicts (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    theorem TEXT NOT NULL,
    verdict TEXT NOT NULL,
    detail TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, theorem)
);
"""


_RUN_COLUMNS = ("id", "hash", "created", "plugin", "plugin_version", "family", "backend", "workload",
                "workload_params", "params", "workers", "seed", "budget", "target", "status", "reason", "wall_s",
                "constants", "info", "env", "suite")


@dataclass
class RunRecord:
    """A run as stored: its spec, status and curve (``points``: list of dicts, in update order)."""

    id: int | None
    hash: str
    plugin: str
    workload: str
    workload_params: dict[str, Any]
    params: dict[str, Any]
    workers: int
    seed: int
    status: str
    reason: str = ""
    plugin_version: str = ""
    family: str = ""
    backend: str = ""
    budget: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    wall_s: float | None = None
    constants: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    suite: str | None = None
    created: float = 0.0
    points: list[dict[str, Any]] = field(default_factory=list)
    cached: bool = False

    def curve(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(updates, metric) as float arrays, points without the metric dropped."""
        xs, ys = [], []
        for p in self.points:
            v = p.get(metric)
            if v is not None:
                xs.append(p["updates"])
                ys.append(v)
        return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)

    def column(self, name: str) -> np.ndarray:
        """A point column as floats (nan where a point lacks it); a name the points do not carry is read from
        each point's ``extra`` (a plugin's own figure, e.g. ``rounds``: communication rounds completed)."""
        def value(p):
            v = p.get(name)
            if v is None and isinstance(p.get("extra"), dict):
                v = p["extra"].get(name)
            return v if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan

        return np.asarray([value(p) for p in self.points], dtype=float)

    @property
    def ok(self) -> bool:
        return self.status in FINISHED_OK

    def label(self) -> str:
        return f"#{self.id} {self.plugin} on {self.workload} (workers={self.workers}, seed={self.seed})"


SQLITE_MAGIC = b"SQLite format 3\x00"
DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")  # an empty file of another name is not taken for a new store
# the suites the gate files runs under, apart from the suite NAME they were measured for (harness.cli.gate)
MOVED_SUITES = (".refused", ".gate-failed")


def reports_root() -> Path:
    """Where reports go by default: a ``reports`` folder beside the store they are drawn from
    (``.harness/reports`` for the default ``.harness/results.db``; ``/x/reports`` for ``--store
    /x/h.db``), so two stores never write over each other's reports."""
    return Path(os.environ.get("HARNESS_STORE") or DEFAULT_PATH).parent / "reports"


class Store:
    """The results database at ``path`` (default ``$HARNESS_STORE`` or ``.harness/results.db``).

    ``readonly=True`` (commands that only read: ``runs list/show/export``, ``gate --current``) opens
    the file with SQLite's ``mode=ro`` and never creates it, its folder or its tables, so a store on
    a read-only mount can be read; a store that does not exist yet reads as empty.
    ``readonly="auto"`` (commands that read and may add, e.g. ``report`` storing the verdicts it
    computes): read-write where the store exists and can be written, else read-only.
    Errors (a UserError of one line): the path is a folder, the file is not an SQLite database,
    the file or its folder cannot be opened or created.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, readonly: bool | str = False):
        from harness._core.errors import UserError
        from harness._core.paths import path_of

        chosen = path or os.environ.get("HARNESS_STORE")
        self._chosen = bool(chosen)  # a path given, not the default: its folder must exist already
        self.path = path_of(chosen or DEFAULT_PATH, "store")
        if readonly != "auto":
            self._open(bool(readonly))
        elif not self.path.exists():
            self._open(True)
        else:
            try:
                self._open(False)
            except UserError:  # e.g. a read-only mount: what can be read is still read
                self._open(True)

    def _open(self, readonly: bool) -> None:
        from harness._core.errors import UserError

        self.readonly = readonly
        self._empty = False  # read-only and nothing stored yet: reads see the schema and no rows
        if self.path.is_dir():
            raise UserError(f"store {self.path} is a directory: give a database file (e.g. {self.path / 'results.db'})")
        if self.path.exists():
            if not self.path.is_file():  # a FIFO would block open() for good; /dev/null reads as empty
                raise UserError(f"store {self.path} is not a regular file: give a database file")
            try:
                with open(self.path, "rb") as fh:
                    head = fh.read(len(SQLITE_MAGIC))
            except OSError as exc:
                raise UserError(f"cannot open store {self.path}: {exc.strerror or exc}") from None
            if head and head != SQLITE_MAGIC:
                raise UserError(f"store {self.path} is not a harness results database (not an SQLite file)")
            if not head and self.path.suffix.lower() not in DB_SUFFIXES:
                raise UserError(f"store {self.path} is an empty file that is not named as a database "
                                f"({', '.join(DB_SUFFIXES)}): not turning it into one")
        elif self._chosen and not self.path.absolute().parent.is_dir():
            # a path the user gave: its folder must be there (a typo must not grow folders, nor read as
            # an empty store: `--store /typo/x.db runs` listed 0 runs)
            raise UserError(f"{'no' if readonly else 'cannot create'} store {self.path}: folder "
                            f"{self.path.absolute().parent} does not exist")
        elif readonly:
            self._empty = True
            return
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(f"cannot create the store's folder {self.path.parent}: {exc.strerror or exc}") from None
        self._ro_uri = f"{self.path.absolute().as_uri()}?mode=ro"
        creating = not readonly and not self.path.exists()
        try:
            if readonly:
                try:
                    with self._connect() as con:
                        con.execute("SELECT 1 FROM sqlite_master").fetchone()
                except sqlite3.OperationalError:
                    # a WAL database on a read-only mount: SQLite cannot create its shared-memory file
                    # there; nothing can write through that mount either, so read it as immutable
                    self._ro_uri = f"{self.path.absolute().as_uri()}?immutable=1"
                with self._connect() as con:
                    if con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='runs'").fetchone() is None:
                        self._empty = True
                    else:
                        self._check_layout(con)
            else:
                with self._connect() as con:
                    self._check_layout(con)
                    con.executescript(SCHEMA)
                self._migrate()
        except sqlite3.DatabaseError as exc:
            if creating:  # a half-made database (0 bytes on a full disk) would pass for a store next time
                for leftover in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                    leftover.unlink(missing_ok=True)
            how = "" if readonly else " for writing"
            raise UserError(f"cannot open store {self.path}{how}: {exc}{full_disk_note(self.path)}") from None

    def _check_layout(self, con: sqlite3.Connection) -> None:
        """Refuse (one line) a store this harness cannot read or write: a newer schema version, or a
        ``runs`` table whose columns differ from this version's (a newer harness added one: a run
        would be computed, then lost on its constraint)."""
        from harness._core.errors import UserError

        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserError(f"store {self.path} has schema version {version}, newer than this harness's "
                            f"{SCHEMA_VERSION}: written by a newer harness (upgrade it, or give another --store)")
        have = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
        if have:
            want = _RUN_COLUMNS
            extra, missing = [c for c in have if c not in want], [c for c in want if c not in have]
            if extra or missing:
                what = "; ".join(x for x in (f"unknown columns {', '.join(extra)}" if extra else "",
                                             f"missing columns {', '.join(missing)}" if missing else "") if x)
                raise UserError(f"store {self.path} is not in this harness's layout ({what}): written by "
                                "another version (give another --store)")

    def _migrate(self) -> None:
        """A store from before schema versions (0) to version 1: one row per run key, the UNIQUE
        index on it. Of duplicate rows the newest measured one is kept (the README's rule: an error,
        interruption or timeout never replaces a measured run), else the newest."""
        with self._connect() as con:
            if con.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
                return
        with self._transaction() as con:
            if con.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
                return  # another process migrated it meanwhile
            measured = ",".join("?" * len(MEASURED))
            con.execute(f"""DELETE FROM runs WHERE id NOT IN (
                SELECT COALESCE(MAX(CASE WHEN status IN ({measured}) THEN id END), MAX(id)) FROM runs GROUP BY hash)""",
                        MEASURED)
            con.execute("CREATE UNIQUE INDEX IF NOT EXISTS runs_key ON runs(hash)")
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        if self._empty:
            con = sqlite3.connect(":memory:", isolation_level=None)
            con.executescript(SCHEMA)
        elif self.readonly:
            con = sqlite3.connect(self._ro_uri, uri=True, timeout=60.0,
                                  isolation_level=None)
        else:
            con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        try:
            if not (self.readonly or self._empty):
                con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=60000")
            con.execute("PRAGMA foreign_keys=ON")
            con.row_factory = sqlite3.Row
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as con:
            for attempt in range(50):
                try:
                    con.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError:
                    time.sleep(0.05 * (attempt + 1))
            else:
                raise sqlite3.OperationalError(f"store {self.path} stayed locked")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (a full disk: "database or disk is full"); a
                # second ROLLBACK's "no transaction is active" must not hide the real error
                if con.in_transaction:
                    try:
                        con.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise

    # -- writing ------------------------------------------------------------------------------
    def save(self, rec: RunRecord) -> int | None:
        """Store a run, replacing the row of an earlier run with the same key; returns its id. A run
        that was not carried out (interrupted, error, timeout) never replaces a measured one (done,
        target, budget, diverged) of the same key: that row is kept, ``rec.id`` stays None, its
        reason says so, and None is returned (a ``--force`` rerun stopped by Ctrl-C, or a refused
        baseline attempt that timed out, deleted the good result)."""
        with self._transaction() as con:
            if rec.status in NOT_CARRIED_OUT:
                kept = con.execute(
                    f"SELECT id FROM runs WHERE hash = ? AND status IN ({','.join('?' * len(MEASURED))})"
                    " ORDER BY id DESC LIMIT 1", (rec.hash, *MEASURED)).fetchone()
                if kept is not None:
                    rec.id = None
                    rec.reason = (rec.reason + "; " if rec.reason else "") + \
                        f"not stored: run #{kept['id']} with the same key finished and is kept"
                    return None
            # a run key belongs to every suite that asked for it (a cache hit in another suite adds one)
            suites = {r["suite"] for r in con.execute(
                "SELECT s.suite FROM run_suites s JOIN runs r ON r.id = s.run_id WHERE r.hash = ?", (rec.hash,))}
            rec.created = rec.created or time.time()
            values = (rec.hash, rec.created, rec.plugin, rec.plugin_version, rec.family, rec.backend,
                      rec.workload, _dumps(rec.workload_params), _dumps(rec.params), rec.workers, rec.seed,
                      _dumps(rec.budget), _dumps(rec.target), rec.status, rec.reason, rec.wall_s,
                      _dumps(rec.constants), _dumps(rec.info), _dumps(rec.env), rec.suite)
            old = con.execute("SELECT id FROM runs WHERE hash = ?", (rec.hash,)).fetchone()
            if old is None:
                cur = con.execute(f"INSERT INTO runs ({', '.join(_RUN_COLUMNS[1:])}) "
                                  f"VALUES ({','.join('?' * len(values))})", values)
                run_id = int(cur.lastrowid)
            else:  # the key's row keeps its id (others may hold it); its old content goes
                run_id = int(old["id"])
                con.execute("DELETE FROM points WHERE run_id = ?", (run_id,))
                con.execute("DELETE FROM verdicts WHERE run_id = ?", (run_id,))
                con.execute(f"UPDATE runs SET {', '.join(f'{c} = ?' for c in _RUN_COLUMNS[1:])} WHERE id = ?",
                            (*values, run_id))
            con.executemany("INSERT OR IGNORE INTO run_suites (run_id, suite) VALUES (?, ?)",
                            [(run_id, x) for x in suites | ({rec.suite} if rec.suite else set())])
            con.executemany(
                f"INSERT INTO points (run_id, idx, {', '.join(POINT_FIELDS)}, extra) VALUES (?, ?, {', '.join('?' * len(POINT_FIELDS))}, ?)",
                [(run_id, i, *[_num(p.get(f)) for f in POINT_FIELDS],
                  _dumps({k: v for k, v in p.items() if k not in POINT_FIELDS}) if set(p) - set(POINT_FIELDS) else None)
                 for i, p in enumerate(rec.points)])
        rec.id = run_id
        return run_id

    def add_to_suite(self, run_id: int, suite: str) -> None:
        """Record that ``suite`` holds the stored run ``run_id`` (a cache hit of that suite), so
        ``runs(suite=...)`` and the suite's report find it."""
        with self._transaction() as con:
            con.execute("INSERT OR IGNORE INTO run_suites (run_id, suite) VALUES (?, ?)", (int(run_id), suite))

    def move_to_suite(self, run_ids: Iterable[int], old: str, new: str) -> None:
        """The runs ``run_ids`` leave suite ``old`` for suite ``new`` (a baseline the gate refused to
        save: its runs stay in the store, no longer reported as ``old``'s); other suites keep them."""
        ids = [int(i) for i in run_ids]
        with self._transaction() as con:
            con.executemany("DELETE FROM run_suites WHERE run_id = ? AND suite = ?", [(i, old) for i in ids])
            con.executemany("INSERT OR IGNORE INTO run_suites (run_id, suite) VALUES (?, ?)", [(i, new) for i in ids])
            con.executemany("UPDATE runs SET suite = ? WHERE id = ? AND suite = ?", [(new, i, old) for i in ids])

    def save_verdict(self, run_id: int, theorem: str, verdict: str, detail: dict[str, Any], *,
                     measured: float | None = None) -> bool:
        """Store a theorem's verdict for run ``run_id``. ``measured``: the ``created`` time of the
        run content the verdict was computed from; when another process has replaced that content
        (or deleted the run) since, nothing is stored and False is returned."""
        with self._transaction() as con:
            row = con.execute("SELECT created FROM runs WHERE id = ?", (int(run_id),)).fetchone()
            if row is None or (measured is not None and row["created"] != measured):
                return False
            con.execute("INSERT OR REPLACE INTO verdicts (run_id, theorem, verdict, detail, created) VALUES (?,?,?,?,?)",
                        (run_id, theorem, verdict, _dumps(detail), time.time()))
        return True

    def delete(self, run_ids: Iterable[int]) -> list[RunRecord]:
        """Delete runs (their points and verdicts with them); returns what was deleted. An id that
        is not in the store is a UserError and nothing is deleted."""
        from harness._core.errors import UserError

        ids = list(dict.fromkeys(int(i) for i in run_ids))
        with self._transaction() as con:
            found = {r["id"]: r for r in con.execute(
                f"SELECT * FROM runs WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()} if ids else {}
            unknown = [i for i in ids if i not in found]
            if unknown:
                more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
                raise UserError(f"no run #{unknown[0]}{more} in {self.path}: nothing deleted")
            con.executemany("DELETE FROM runs WHERE id = ?", [(i,) for i in ids])
        return [_record(found[i], []) for i in ids]

    # -- reading ------------------------------------------------------------------------------
    def find_cached(self, content_hash: str, suite: str | None = None) -> RunRecord | None:
        """The newest successful run with this content hash (failed runs are never cache hits).
        ``suite``: the suite asking; a hit is recorded as one of its runs (``add_to_suite``)."""
        with self._connect() as con:
            row = con.execute(
                f"SELECT id FROM runs WHERE hash = ? AND status IN ({','.join('?' * len(FINISHED_OK))})"
                " ORDER BY id DESC LIMIT 1", (content_hash, *FINISHED_OK)).fetchone()
        if row is None:
            return None
        if suite and not self.readonly:
            self.add_to_suite(int(row["id"]), suite)
        rec = self.load(int(row["id"]))
        rec.cached = True
        return rec

    def load(self, run_id: int) -> RunRecord:
        with self._connect() as con:
            row = con.execute("SELECT * FROM runs WHERE id = ?", (int(run_id),)).fetchone()
            if row is None:
                from harness._core.errors import UserError

                raise UserError(f"no run #{run_id} in {self.path}")
            pts = con.execute("SELECT * FROM points WHERE run_id = ? ORDER BY idx", (int(run_id),)).fetchall()
        return _record(row, pts)

    def runs(self, *, plugin: str | None = None, workload: str | None = None, status: str | None = None,
             suite: str | None = None, ids: Iterable[int] | None = None, with_points: bool = False,
             limit: int | None = None) -> list[RunRecord]:
        where, args = [], []
        for col, val in (("plugin", plugin), ("workload", workload), ("status", status)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if suite is not None:  # the suite that first ran it, or any suite that got it as a cache hit
            where.append("(suite = ? OR id IN (SELECT run_id FROM run_suites WHERE suite = ?))")
            args.extend([suite, suite])
        if ids is not None:
            ids = [int(i) for i in ids]
            where.append(f"id IN ({','.join('?' * len(ids))})" if ids else "0")
            args.extend(ids)
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as con:
            rows = con.execute(sql, args).fetchall()
            out = []
            for row in rows:
                pts = con.execute("SELECT * FROM points WHERE run_id = ? ORDER BY idx", (row["id"],)).fetchall() if with_points else []
                out.append(_record(row, pts))
        return out

    def values(self, column: str) -> set[str]:
        """The distinct stored values of ``column`` ('plugin', 'workload' or 'suite': a suite also
        names the runs it got as cache hits, and ``NAME`` is known by its ``NAME.refused`` /
        ``NAME.gate-failed`` runs): what a filter of that column names."""
        if column not in ("plugin", "workload", "suite"):
            raise ValueError(f"no filter column {column!r}")
        if self._empty:
            return set()
        sql = f"SELECT DISTINCT {column} FROM runs"
        if column == "suite":
            sql += " UNION SELECT DISTINCT suite FROM run_suites"
        with self._connect() as con:
            found = {row[0] for row in con.execute(sql).fetchall() if row[0] is not None}
        # a suite whose runs the gate filed apart (NAME.refused, NAME.gate-failed) is known by NAME still
        return found | {v.rsplit(".", 1)[0] for v in found if column == "suite" and v.endswith(MOVED_SUITES)}

    def verdicts(self, run_id: int) -> dict[str, dict[str, Any]]:
        with self._connect() as con:
            rows = con.execute("SELECT * FROM verdicts WHERE run_id = ? ORDER BY theorem", (int(run_id),)).fetchall()
        return {r["theorem"]: {"verdict": r["verdict"], **(json.loads(r["detail"]) if r["detail"] else {})} for r in rows}

    def count(self) -> tuple[int, int]:
        with self._connect() as con:
            return (con.execute("SELECT COUNT(*) FROM runs").fetchone()[0],
                    con.execute("SELECT COUNT(*) FROM points").fetchone()[0])

    # -- export -------------------------------------------------------------------------------


def run_to_dict(r: RunRecord) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(r)


def record_from_dict(d: dict[str, Any]) -> RunRecord:
    fields = RunRecord.__dataclass_fields__
    return RunRecord(**{k: v for k, v in d.items() if k in fields})


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=json_default)


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _record(row: sqlite3.Row, pts: list[sqlite3.Row]) -> RunRecord:
    def loads(s, what: str = "column"):
        """A stored JSON text; a store written by something else (invalid or absurdly nested JSON) is
        one line naming the run, never a traceback."""
        try:
            return json.loads(s) if s else {}
        except (ValueError, RecursionError) as exc:
            from harness._core.errors import UserError

            raise UserError(f"the store's run #{row['id']} holds malformed JSON in its {what} "
                            f"({type(exc).__name__}: {str(exc)[:80]}): not a store this harness wrote") from None
    points = []
    for p in pts:
        d = {f: p[f] for f in POINT_FIELDS if p[f] is not None}
        if "updates" in d:
            d["updates"] = int(d["updates"])
        if p["extra"]:
            d.update(loads(p["extra"], "points"))
        points.append(d)
    return RunRecord(id=row["id"], hash=row["hash"], plugin=row["plugin"], workload=row["workload"],
                     workload_params=loads(row["workload_params"], "workload_params"), params=loads(row["params"], "params"),
                     workers=row["workers"],
                     seed=row["seed"], status=row["status"], reason=row["reason"] or "",
                     plugin_version=row["plugin_version"] or "", family=row["family"] or "", backend=row["backend"] or "",
                     budget=loads(row["budget"], "budget"), target=loads(row["target"], "target"), wall_s=row["wall_s"],
                     constants=loads(row["constants"], "constants"), info=loads(row["info"], "info"),
                     env=loads(row["env"], "env"),
                     suite=row["suite"], created=row["created"], points=points)
