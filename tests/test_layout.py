"""The house's layout: development tools live in devtools/, production (plugins/, dags/) never imports them,
and the Docker image copies no development module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from eviction_prevention import settings

ROOT = settings.REPO_ROOT
PRODUCTION = [ROOT / "plugins", ROOT / "dags"]
DEVTOOLS = ROOT / "devtools"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    return modules


def production_files() -> list[Path]:
    return sorted(p for folder in PRODUCTION for p in folder.rglob("*.py"))


def test_production_never_imports_development_tools_or_tests() -> None:
    files = production_files()
    assert len(files) > 40
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in {"devtools", "tests"}
        )
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_production_module_runs_development_tools_by_name() -> None:
    # e.g. subprocess [python, -m, devtools.x] or an import string "devtools.x.y"
    found = {
        str(path.relative_to(ROOT)): re.findall(r"\bdevtools\.\w+", path.read_text(encoding="utf-8"))
        for path in production_files()
    }
    assert {k: v for k, v in found.items() if v} == {}


def test_development_tools_are_apart_from_the_production_package() -> None:
    dev_modules = {p.stem for p in DEVTOOLS.glob("*.py")} - {"__init__"}
    assert {"synthetic", "demo", "bench", "sftp_server", "local_airflow", "native_stack"} <= dev_modules
    package = ROOT / "plugins" / "eviction_prevention"
    assert not [p.relative_to(ROOT) for p in package.rglob("*.py") if p.stem in dev_modules - {"cli"}]


def test_the_image_copies_no_development_module() -> None:
    lines = [line.split() for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY")]
    sources = [token for words in lines for token in words[1:-1] if not token.startswith("--")]
    assert "plugins" in sources and "dags" in sources
    assert not [s for s in sources if s.startswith(("devtools", "tests", "."))]


def test_the_package_reads_like_the_pipeline() -> None:
    package = ROOT / "plugins" / "eviction_prevention"
    stages = {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert stages == {"intake", "parse", "validate", "pseudonymise", "link", "publish", "operate", "orchestration"}
    shared = {p.stem for p in package.glob("*.py")} - {"__init__"}
    assert shared == {
        "settings",
        "partners",
        "warehouse",
        "pg_copy",
        "dutch_time",
        "spreadsheet_safety",
        "gc_tuning",
        "cli",
    }
    for stage in stages:  # every stage says what it is
        assert ast.get_docstring(ast.parse((package / stage / "__init__.py").read_text())), stage
