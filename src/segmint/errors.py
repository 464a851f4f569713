"""User-facing errors: each carries one sentence that says what is wrong and what to do."""


class SegmintError(Exception):
    """An error the user can fix; the CLI prints its message (no traceback) and exits with `exit_code`."""

    exit_code = 1


class ConfigError(SegmintError):
    """The configuration is wrong: unknown key, missing file, unknown preset."""

    exit_code = 2


class SourceFileError(SegmintError):
    """A source file cannot be read at all; nothing of it is loaded."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class WarehouseBusyError(SegmintError):
    """Another segmint process is writing the warehouse."""

    exit_code = 3
