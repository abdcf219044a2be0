"""The package's layering (docs/architecture.md): every module imports only from its own layer or the layers
below it, and imports the package's own modules at the top of the file, so that a cycle is visible and fails.

Layers, bottom to top: `ops` → `models` → `data` → `training` → `serving` → `apps` → `cli`. `models/` and the
`ops/` modules it uses import no TensorFlow, so the model core runs under every Keras backend. The way
keras-hub's `import_test.py` polices its imports: by walking the source (AST), without importing anything.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "acga_tf"
LAYERS = ("ops", "models", "data", "training", "serving", "apps", "cli")
# The modules beside cli.py, of its layer: each command's options (free of TensorFlow) and `python -m acga_tf`.
CLI_MODULES = ("acga_tf.command_options", "acga_tf.__main__")
# The Keras core: these modules, and every package module they import (transitively), import no TensorFlow.
BACKEND_FREE = ("acga_tf.models",)
# Package `__init__` files may re-export lazily through a module `__getattr__` (PEP 562): `acga_tf.serving`'s
# request helpers then load without the model code, and `import acga_tf` does not pay for Keras.
LAZY_REEXPORTS = {"acga_tf/__init__.py"}


def _module_name(path: pathlib.Path, package: pathlib.Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None  # the package itself
    if ".".join(parts[:2]) in CLI_MODULES:
        return LAYERS.index("cli")
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def _imports(tree: ast.AST):
    """(node, imported module, at top level) for every import of the tree."""
    top = set()
    for node in tree.body:
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else (node,):
            top.add(id(sub))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from acga_tf.ops import helpers` may import the module acga_tf.ops.helpers: keep the full name.
            names = [f"{node.module}.{a.name}" for a in node.names] if node.module.startswith("acga_tf") else []
            for name in names or [node.module]:
                yield node, name, id(node) in top


def violations(package: pathlib.Path = PACKAGE) -> list[str]:
    found, graph, tensorflow_users = [], {}, {}
    for path in sorted(package.rglob("*.py")):
        module = _module_name(path, package)
        rel = path.relative_to(package.parent).as_posix()
        layer = _layer(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        graph[module] = set()
        for node, name, at_top in _imports(tree):
            where = f"{rel}:{node.lineno}"
            if name == "tensorflow" or name.startswith("tensorflow."):
                tensorflow_users.setdefault(module, where)
            if not name.startswith("acga_tf"):
                continue
            graph[module].add(name)
            if not at_top and rel not in LAZY_REEXPORTS:
                found.append(f"{where}: function-level import of {name}; import the package's modules at the top")
            if name == "acga_tf.cli" or (name.startswith("acga_tf.cli.")):
                found.append(f"{where}: {module} imports the command line; nothing may import acga_tf.cli")
                continue
            target = _layer(name)
            if layer is not None and target is not None and target > layer:
                found.append(f"{where}: {module} ({LAYERS[layer]}) imports {name} ({LAYERS[target]}), a higher layer")
    for root in sorted(m for m in graph if m.startswith(BACKEND_FREE)):
        for reached in _reachable(root, graph):
            if reached in tensorflow_users:
                found.append(f"{tensorflow_users[reached]}: {reached} imports tensorflow, and the Keras core "
                             f"{root} imports it; the core must stay backend-free")
    return sorted(set(found))


def _reachable(root: str, graph: dict[str, set[str]]) -> set[str]:
    """`root` and every package module it imports, directly or not (`from acga_tf.x import y` may name module y)."""
    seen, todo = set(), [root]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for name in graph.get(module, ()):
            for candidate in (name, name.rpartition(".")[0]):
                if candidate in graph:
                    todo.append(candidate)
                    # importing a module runs its package's __init__ first
                    parent = candidate.rpartition(".")[0]
                    while parent:
                        if parent in graph:
                            todo.append(parent)
                        parent = parent.rpartition(".")[0]
    return seen


def test_imports_point_down_and_sit_at_the_top():
    found = violations()
    assert not found, "\n".join(found)  # every one, a line each (pytest's `== []` diff showed the first under -q)


def test_the_check_fails_on_a_planted_upward_import(tmp_path):
    planted = tmp_path / "acga_tf"
    for layer in ("models", "apps"):
        (planted / layer).mkdir(parents=True)
        (planted / layer / "__init__.py").write_text("")
    (planted / "__init__.py").write_text("")
    (planted / "apps" / "predict.py").write_text("def predict():\n    return 1\n")
    (planted / "models" / "acga.py").write_text(
        "import tensorflow\n\nfrom acga_tf.apps.predict import predict\n\n\n"
        "def f():\n    from acga_tf.models import acga\n")
    found = violations(planted)
    assert any("a higher layer" in v for v in found), found
    assert any("function-level import" in v for v in found), found
    assert any("backend-free" in v for v in found), found
    (planted / "ops").mkdir()
    (planted / "ops" / "__init__.py").write_text("")
    (planted / "ops" / "helpers.py").write_text("import tensorflow\n")
    (planted / "models" / "acga.py").write_text("from acga_tf.ops import helpers\n")  # TensorFlow, one step away
    assert any("acga_tf.ops.helpers imports tensorflow, and the Keras core acga_tf.models.acga" in v
               for v in violations(planted)), violations(planted)


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_every_layer_is_a_folder(layer):
    assert (PACKAGE / layer / "__init__.py").is_file()


def test_dir_lists_the_public_names():
    """An API reader's: `dir(acga_tf)` showed `['importlib', 'os', 'sys']`, not the names `__all__` exports on first
    use; the subpackages' `help()` showed nothing (each has a docstring now, naming its modules)."""
    import importlib

    import acga_tf

    assert dir(acga_tf) == sorted([*acga_tf.__all__, "__version__"])
    for name in ("apps", "data", "models", "ops", "serving", "training"):
        assert importlib.import_module(f"acga_tf.{name}").__doc__, name
