"""Find the analyst-editable folders (sql/, expectations/, reports/, flows/) and the example files wherever
segmint runs from."""

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Literal

Resource = Literal["sql", "expectations", "reports", "flows"]
# The example files `segmint init` copies; the top-level ones are the only source, the wheel carries copies.
Template = Literal["segmint.example.toml", "campaigns.example.toml", ".env.example"]
TEMPLATES: tuple[Template, ...] = ("segmint.example.toml", "campaigns.example.toml", ".env.example")

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def resource_dir(name: Resource) -> Path:
    """Return the folder `name`: the source checkout's top-level folder, else the copy inside the wheel."""
    # A source checkout (editable install, tests) wins so that edits to sql/ take effect at once.
    checkout = _PACKAGE_DIR.parent.parent / name
    if checkout.is_dir():
        return checkout
    bundled = _PACKAGE_DIR / "_resources" / name
    if bundled.is_dir():
        return bundled
    raise FileNotFoundError(f"segmint resource folder {name!r} is missing from {_PACKAGE_DIR}")


def sql_file(relative: str) -> str:
    """Read one SQL file below sql/, e.g. `sql_file("marts/customer_features.sql")`."""
    return (resource_dir("sql") / relative).read_text(encoding="utf-8")


def template_path(name: Template) -> Path:
    """The example file `name`: the source checkout's top-level copy, else the one inside the wheel."""
    checkout = _PACKAGE_DIR.parent.parent / name
    if checkout.is_file():
        return checkout
    bundled = _PACKAGE_DIR / "_resources" / "templates" / name
    if bundled.is_file():
        return bundled
    raise FileNotFoundError(f"segmint template {name!r} is missing from {_PACKAGE_DIR}")


def load_flow_module(name: str) -> ModuleType:
    """Import flows/<name>.py from the analyst-editable flows folder."""
    path = resource_dir("flows") / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"segmint_flows_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running it, as importlib's recipe does: dataclasses look their module up there.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
