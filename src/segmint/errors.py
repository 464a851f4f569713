"""User-facing errors: each carries one sentence that says what is wrong and what to do."""

from segmint.redact import redact_text

# Exit codes of `segmint run nightly` (README, "Exit codes"): 0 completed, 1 failed or rejected input,
# 2 usage or configuration error, 3 warehouse busy, 4 tonight's data held, 5 segments not published,
# 6 the warehouse file is damaged (restore a backup), 7 the disk is full.
EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_DATA_HELD = 4
EXIT_NOT_PUBLISHED = 5
EXIT_DAMAGED = 6
EXIT_DISK_FULL = 7


class SegmintError(Exception):
    """An error the user can fix; the CLI prints its message (no traceback) and exits with `exit_code`."""

    exit_code = 1

    def __str__(self) -> str:
        # The sentence is printed, stored in runs and in Prefect's states: it may quote a server's answer
        # to a login or a URL, so configured secrets are masked in it.
        return redact_text(super().__str__())


class ConfigError(SegmintError):
    """The configuration is wrong: unknown key, missing file, unknown preset."""

    exit_code = 2


class UsageError(SegmintError):
    """A command-line option has a value the command cannot take."""

    exit_code = EXIT_USAGE


class SourceFileError(SegmintError):
    """A source file cannot be read at all; nothing of it is loaded."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class WarehouseBusyError(SegmintError):
    """Another segmint process is writing the warehouse."""

    exit_code = 3


class WarehouseDamagedError(SegmintError):
    """The warehouse file (or its write-ahead log) is truncated or corrupt: restore a backup."""

    exit_code = 6


class DiskFullError(SegmintError):
    """The disk holding the warehouse (or a backup) has no space left."""

    exit_code = 7
