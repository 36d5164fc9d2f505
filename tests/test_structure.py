"""The import direction of src/sitescore: every module sits in one stage of a declared order, and
no module imports one of a higher stage, at the top of the file or inside a function. So there
is no import cycle, and a lower stage (the config models, the metrics) can be used and tested
without the stages built on it (the engine, the pipeline).

A name imported through a package's `__init__` (`from .config import CandidatesConfig`) counts as
an import of the submodule that defines it (`sitescore.config.models`): the package only
re-exports it, and that submodule is what the import runs and needs. Imports under
`if TYPE_CHECKING:` never run and are left out; so are imports of the root package's own names
(its `__version__`): every import of a submodule runs the root `__init__` anyway, and its own
imports are checked as those of the top stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Lowest first. A module belongs to the first entry naming it or a package holding it; the
#: modules of one stage may import each other. Grounds for the order are noted where not plain.
STAGES: list[tuple[str, ...]] = [
    ("sitescore.errors", "sitescore.schema", "sitescore.formatting", "sitescore.safe_text"),
    ("sitescore.geometry", "sitescore.study_area", "sitescore.mcda"),
    ("sitescore.outputs", "sitescore.folders"),  # single files; the folders' locks and swap
    ("sitescore.postgis",),            # a layer or output may be a PostGIS table (config models)
    ("sitescore.config.value_functions", "sitescore.config.yaml_loader", "sitescore.config.models",
     "sitescore.config.presets", "sitescore.config.costs",
     "sitescore.config.network"),      # the config as models
    ("sitescore.catalog",),            # reads its YAML with the config's loader
    ("sitescore.datastore",),
    ("sitescore.readers",),
    ("sitescore.cache", "sitescore.fetch"),
    ("sitescore.filters",),
    ("sitescore.costs",),              # unit costs, friction, routes: below the metrics that use them
    ("sitescore.pathways",),           # land pathways of the parcels: the candidates use them
    ("sitescore.candidates",),
    ("sitescore.metrics",),
    ("sitescore.scoring", "sitescore.locate"),
    # loading a config checks it against the readers, metrics and filters above
    ("sitescore.config.checks", "sitescore.config.loader", "sitescore.config"),
    ("sitescore.left_out",),           # criteria a run could not score, the weight kept
    ("sitescore.engine",),
    ("sitescore.report",),
    ("sitescore.sensitivity", "sitescore.explain"),
    ("sitescore.webmap", "sitescore.reference"),
    ("sitescore.publish",),            # a scored study's files: tables, charts, map, report
    ("sitescore.compare",),
    ("sitescore.pipeline",),
    ("sitescore.validate",),           # past decisions as one shortlist run (pipeline.score)
    ("sitescore.network",),            # parks of several roles chosen together: one measuring
                                       # study (pipeline.score), each role's pass, the MILP
    ("sitescore.cli", "sitescore.demo", "sitescore"),
]

#: Upward imports known and meant to go, as (module, target); an entry that no longer happens
#: fails too. None is left: a new one is a layering fault to fix, not to list here.
PENDING: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage_of(module: str, stages: list[tuple[str, ...]] = STAGES) -> int:
    """Index of the module's stage: the first entry that is the module or a package above it."""
    for i, names in enumerate(stages):
        if any(module == n or module.startswith(n + ".") for n in names if n != "sitescore"):
            return i
    for i, names in enumerate(stages):
        if "sitescore" in names and module == "sitescore":
            return i
    raise LookupError(module)


class Tree:
    """The package's sources, parsed: modules, which are packages, what each `__init__` binds."""

    def __init__(self, sources: dict[str, tuple[str, bool]]) -> None:
        #: module -> (parsed source, is a package)
        self.trees = {m: (ast.parse(text), pkg) for m, (text, pkg) in sources.items()}

    @classmethod
    def read(cls) -> Tree:
        return cls({module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
                    for p in sorted((SRC / "sitescore").rglob("*.py"))})

    def _absolute(self, module: str, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        package = module if self.trees[module][1] else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        return f"{package}.{node.module}" if node.module else package

    def defining(self, package: str, name: str, seen: frozenset[str] = frozenset()) -> str:
        """The module a name imported from `package` comes from: a submodule of that name, or
        the submodule the package's `__init__` imports it from; else the package itself."""
        if f"{package}.{name}" in self.trees:
            return f"{package}.{name}"
        tree = self.trees.get(package)
        if tree is None or not tree[1] or package in seen:
            return package
        for node in ast.walk(tree[0]):
            if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == name for a in node.names):
                source = self._absolute(package, node)
                if source.startswith("sitescore") and source != package:
                    return self.defining(source, name, seen | {package})
        return package

    def imports(self, module: str) -> list[tuple[int, str]]:
        """(line, module) for every import of a sitescore module, inside functions too."""
        out = []
        skipped = {id(n) for block in ast.walk(self.trees[module][0])
                   if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
                   for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(self.trees[module][0]):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                out += [(node.lineno, a.name) for a in node.names if a.name.startswith("sitescore")]
            elif isinstance(node, ast.ImportFrom):
                source = self._absolute(module, node)
                if source == "sitescore" or source.startswith("sitescore."):
                    out += [(node.lineno, self.defining(source, a.name)) for a in node.names]
        return [(line, target) for line, target in out if target in self.trees]

    def upward(self, stages: list[tuple[str, ...]] = STAGES,
               pending: set[tuple[str, str]] = frozenset()) -> list[str]:
        """Every import of a higher stage but the `pending` ones, as 'module:line imports target
        (stage a < b)'; the root package as a target adds nothing (see the module docstring)."""
        found = []
        for module in self.trees:
            for line, target in self.imports(module):
                a, b = stage_of(module, stages), stage_of(target, stages)
                if b > a and target != "sitescore" and (module, target) not in pending:
                    found.append(f"{module}:{line} imports {target} (stage {a} < {b})")
        return found


def test_every_module_has_a_stage():
    for module in Tree.read().trees:
        stage_of(module)


def test_no_module_imports_a_higher_stage():
    tree = Tree.read()
    assert tree.upward(pending=PENDING) == []
    still = {(m, t) for m in tree.trees for _, t in tree.imports(m)}
    assert still >= PENDING, f"no longer imported, drop from PENDING: {PENDING - still}"


def test_names_through_a_package_count_as_their_submodule():
    tree = Tree.read()
    assert tree.defining("sitescore.config", "CandidatesConfig") == "sitescore.config.models"
    assert tree.defining("sitescore.config", "load_config") == "sitescore.config.loader"
    assert ("sitescore.config.models" in dict((t, n) for n, t in tree.imports("sitescore.candidates")))


@pytest.mark.parametrize("module,added", [
    ("sitescore.candidates", "from .pipeline import run"),              # at the top of the file
    ("sitescore.config.models", "def f():\n    from ..engine import Engine\n"),  # inside a function
    ("sitescore.mcda", "import sitescore.config"),
    ("sitescore.metrics", "from .config import load_config"),          # through the package
    # the imports the split of outputs removed (issue 17): a low stage reaching up again
    ("sitescore.outputs", "def f():\n    from .sensitivity import sweep_charts\n"),
    ("sitescore.folders", "from .publish import write_result"),
    ("sitescore.publish", "from .pipeline import StudyResult"),      # no longer only for types
])
def test_an_added_upward_import_is_caught(module, added):
    sources = {module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
               for p in sorted((SRC / "sitescore").rglob("*.py"))}
    text, package = sources[module]
    sources[module] = (text + "\n" + added + "\n", package)
    found = Tree(sources).upward(pending=PENDING)
    assert len(found) == 1 and found[0].startswith(f"{module}:"), found
