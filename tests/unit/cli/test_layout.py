"""The package's shape: commands in cli/, the rest below it; SSH knowledge usable by the server image."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import mlops_stack

PACKAGE = Path(mlops_stack.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, relative imports resolved to absolute names."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.add(name)
            found |= {f"{name}.{alias.name}" for alias in node.names}
    return found


def _modules(under: Path) -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(under.rglob("*.py"))}


def _in_cli(name: str) -> bool:
    return name == "mlops_stack.cli" or name.startswith("mlops_stack.cli.")


def test_nothing_outside_cli_imports_the_cli() -> None:
    offenders = [
        f"{module} imports {name}"
        for module, names in _modules(PACKAGE).items()
        if not _in_cli(module)
        for name in sorted(names)
        if _in_cli(name)
    ]
    assert offenders == [], "modules outside mlops_stack/cli/ import from it:\n" + "\n".join(offenders)


def test_ssh_needs_only_paramiko_and_the_standard_library() -> None:
    """The MLflow server image runs mlops_stack.ssh; it has paramiko (and its cryptography), not the rest."""
    allowed = set(sys.stdlib_module_names) | {"paramiko", "cryptography", "__future__"}
    offenders = [
        f"{module} imports {name}"
        for module, names in _modules(PACKAGE / "ssh").items()
        for name in sorted(names)
        if name.split(".")[0] not in allowed and not name.startswith("mlops_stack.ssh")
    ]
    assert offenders == [], "\n".join(offenders)


def test_the_import_walk_sees_relative_imports() -> None:
    """Guards the two tests above against a walker that silently finds nothing."""
    assert "mlops_stack.client.errors.ClientError" in _imports(PACKAGE / "cli" / "__init__.py")
    assert "mlops_stack.ssh.known_hosts" in _imports(PACKAGE / "ssh" / "__main__.py")
