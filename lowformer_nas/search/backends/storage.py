"""Where a search's Optuna studies live: the run directory's journal, or ``--storage URL``.

Both are Optuna's own storages, used through their public API: the journal is a
``JournalStorage`` on a ``JournalFileBackend`` (``optuna-dashboard study.journal`` reads it;
every write is locked and fsynced by Optuna, so a killed run loses nothing), and a URL is an
``RDBStorage`` (PostgreSQL, SQLite) with heartbeats, so that many workers share one study and
the trials of a killed worker are failed and retried. Optuna wraps an ``RDBStorage`` in its
own cache when a study opens it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar
from collections.abc import Callable

from ...errors import RunError
from ...rundir.config import score_label

if TYPE_CHECKING:  # annotations only: optuna and sqlalchemy are imported where they are used
    from optuna import Study
    from optuna.samplers import BaseSampler
    from optuna.storages import BaseStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
    from sqlalchemy.engine import Engine
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

    from ..settings import SearchSettings

T = TypeVar("T")

STUDY_PREFIX = "lowformer-nas"
JOURNAL_NAME = "study.journal"


def optuna_module() -> ModuleType:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are recorded in trials.csv
    return optuna


def open_storage(settings: SearchSettings, run_dir: Path | None) -> BaseStorage:
    """Journal file in the run dir, or an RDB URL with heartbeats and retry of stale trials."""
    optuna = optuna_module()
    if settings.storage:
        import warnings

        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5: known, used
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)
            return _rdb_storage(optuna, settings.storage, settings.heartbeat, retry)
    from optuna.storages.journal import JournalFileBackend

    from ..._io import truncate_torn_tail

    assert run_dir is not None  # only --storage is opened without a run directory
    path = run_dir / JOURNAL_NAME
    truncate_torn_tail(path)  # the run dir is locked: a torn line is from a crashed run
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def check_storage(settings: SearchSettings) -> None:
    """Open ``--storage`` once before the run directory exists, so an unreachable database is
    a one-line error with nothing written."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        open_storage(settings, None)
    except ImportError as e:  # Optuna re-raises the driver's ImportError without its name
        name = getattr(e.__cause__, "name", None) or e.name
        raise RunError(f"cannot open --storage {settings.storage!r}: its database driver "
                       f"{name!r} is not installed (PostgreSQL: pip install "
                       f"'lowformer-nas[postgres]')") from None
    except SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).splitlines()[0]
        raise RunError(f"cannot open --storage {settings.storage!r}: {reason}") from None


def retry_races(make: Callable[[], T], attempts: int = 5) -> T:
    """``make()``, retried: workers started together on a fresh database race to create its
    schema and studies, and all but one fail (IntegrityError, or OperationalError "table ...
    already exists" / "database is locked"); on retry the winner's work is there. An
    unreachable database fails every attempt and its error is raised."""
    import random
    import time

    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(attempts):
        try:
            return make()
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 + random.random() * 0.4 * (attempt + 1))
    raise ValueError(f"retry_races: attempts must be >= 1, but got {attempts}")


def _rdb_storage(optuna: ModuleType, url: str, heartbeat: int,
                 retry: RetryHeartbeatStaleTrialCallback) -> RDBStorage:
    """Heartbeat every ``heartbeat`` s while a trial runs; any worker starting a trial fails
    the trials silent for 4x as long (their worker died) and ``retry`` re-enqueues them."""
    storage: RDBStorage = retry_races(lambda: optuna.storages.RDBStorage(
        engine_url(url), heartbeat_interval=heartbeat, grace_period=4 * heartbeat,
        heartbeat_stale_trial_callback=retry))
    if storage.engine.dialect.name == "sqlite" and storage.engine.url.database not in (
            None, "", ":memory:"):
        sqlite_write_ahead(storage.engine)
    return storage


SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")


def sqlite_write_ahead(engine: Engine) -> None:
    """A SQLite study file in write-ahead-log mode with ``synchronous=NORMAL``.

    Optuna commits every param and attribute on its own (~55 commits a trial); in SQLite's
    default mode each commit fsyncs the file several times, most of a predicted-only trial's
    time (1.7 ms a commit here). In WAL mode a commit appends to ``<file>-wal`` and fsyncs
    only at checkpoints, and readers (other workers) no longer block the writer. A killed
    process loses nothing; a power cut can lose the last commits, and the next run repeats
    those trials. WAL mode stays set in
    the file; it needs a local file system (not NFS), as SQLite's locking does anyway."""
    from sqlalchemy import event

    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened before the listener: closed, reopened with it


def engine_url(url: str) -> str:
    """``postgresql://`` names no driver, and SQLAlchemy then wants psycopg2; the
    ``postgres`` extra installs psycopg (3), so use it when psycopg2 is absent."""
    from importlib.util import find_spec

    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.drivername == "postgresql" and not find_spec("psycopg2") and find_spec("psycopg"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def make_sampler(settings: SearchSettings, offset: int) -> BaseSampler:
    optuna = optuna_module()
    seed = settings.seed + offset  # a resumed run must not redraw the first run's samples
    if settings.storage:  # workers sharing a study must not all draw the same samples
        seed += os.getpid()
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True,
                                          group=True)
    from .nsga import PicklableNSGAII

    return PicklableNSGAII(seed=seed, population_size=population_size(settings))


def population_size(settings: SearchSettings) -> int:
    """NSGA-II's generation size (also the cadence of verify rounds during a search)."""
    return max(8, min(50, settings.trials // 4))


def study_name(settings: SearchSettings, stage: str) -> str:
    """``lowformer-nas-<stage>-<key>``: the key hashes the options that define a search, so
    workers of one search share a study and different searches in one database never mix."""
    import hashlib

    from ..settings import identity

    ident = json.dumps(identity(settings), sort_keys=True, default=str)
    return f"{STUDY_PREFIX}-{stage}-{hashlib.sha1(ident.encode()).hexdigest()[:10]}"


def metric_names(settings: SearchSettings, stage: str) -> list[str]:
    """What the two objective values are, as optuna-dashboard and Optuna's plots label them."""
    return [score_label(settings, stage), "latency_ms"]


def name_metrics(study: Study, names: list[str]) -> None:
    """Store ``names`` on ``study`` unless already there (one write, not one per worker)."""
    import warnings

    optuna = optuna_module()
    if study.metric_names != names:
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2: known, used
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)


def open_study(storage: BaseStorage, settings: SearchSettings, stage: str,
               prefix: str = "") -> Study:
    """The stage's study (created on first use), with a sampler seeded past its trials.
    ``prefix`` keeps another backend's study of the same search apart (Ray: ``ray-``)."""
    optuna = optuna_module()
    name = study_name(settings, prefix + stage)

    def create() -> Study:
        study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                    directions=["maximize", "minimize"])
        name_metrics(study, metric_names(settings, stage))
        return study
    study = retry_races(create)
    n = len(study.get_trials(deepcopy=False))
    return optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(settings, n))


def find_study(storage: BaseStorage, settings: SearchSettings, stage: str) -> Study | None:
    """The stage's study if it exists (None otherwise), without creating it."""
    optuna = optuna_module()
    try:
        return optuna.load_study(study_name=study_name(settings, stage), storage=storage)
    except KeyError:
        return None
