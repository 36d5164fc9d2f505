"""Security: runs touch no network, the code runs no shell with data, configs never run code."""

import ast
import socket
from pathlib import Path

import pytest

from sitescore.config import load_config
from sitescore.pipeline import run

SRC = Path(__file__).resolve().parents[1] / "src" / "sitescore"


def test_a_run_opens_no_network_connection(tmp_path, monkeypatch, demo_config):
    """Only `sitescore fetch` talks to the network: a whole run (map and report included) with
    every socket connection refused still succeeds."""
    cfg = load_config(demo_config)
    attempts = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network use is not allowed in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    result = run(cfg, maps_dir=tmp_path / "m", runs_dir=tmp_path / "r")
    assert len(result.sites) > 0 and (tmp_path / "m/demo/report.html").exists()
    assert attempts == []


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                base = f.value.id if isinstance(f.value, ast.Name) else ""
                names.append(f"{base}.{f.attr}")
            elif isinstance(f, ast.Name):
                names.append(f.id)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.append(f"import {getattr(node, 'module', None) or ''}{alias.name}")
    return names


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: p.relative_to(SRC).as_posix())
def test_no_shell_or_code_execution_in_the_package(path):
    calls = _calls(ast.parse(path.read_text(encoding="utf-8")))
    forbidden = {"os.system", "os.popen", "eval", "exec", "yaml.unsafe_load", "pickle.loads",
                 "importsubprocess", "import subprocess"}
    found = [c for c in calls if c in forbidden or c.startswith("subprocess.")]
    assert found == [], f"{path.name}: {found}"
    assert "shell=True" not in path.read_text(encoding="utf-8")
